#!/usr/bin/env bash
# The kernel twin (msm_kmodel.ko, docs/kmodel.md) against the model and its contract. Runs
# INSIDE the guest (tools/guest/run), as root, from the project root, with msm_kmodel loaded;
# prints "ok ..." / "not ok ..." lines. Every figure is the twin's ground truth (debugfs
# vms) compared with the model (`msmvm-sim count`) or with what the test issued, exactly.
#   (a) pages counted for op lists = msmvm-sim count's, and every table came from them;
#   (b) op validation (-EINVAL) = the model's, at the default VM size and at 64 GiB;
#   (c) the throttle under a storm, interrupted waits (downward drift), failed bulk
#       allocations (upward drift): the ground truth accounts every call;
#   (d) hooks: the seven probed functions are real symbols with BTF FUNC records;
#   (e) unload and reload, clean; rmmod refused while a file is open.
# Every process start is dear under TCG (python3 ~1 s, an exec 50-150 ms): one client process
# for all the op lists, one for the four storms, one `msmvm-sim count --batch` for the model's
# answers (in the background, meanwhile), fields parsed with bash builtins.
set -uo pipefail

BUILD=${BUILD:-build}
SIM=$BUILD/msmvm-sim
KO=$BUILD/kmodel/msm_kmodel.ko
CLIENT=tools/kmodel/kmodel-client
P=/sys/module/msm_kmodel/parameters
VMS=/sys/kernel/debug/msm_kmodel/vms
fail=0

t_start=${EPOCHREALTIME/./}
mark() {	# NAME: the time since the start, section by section (the suite's time budget)
  local us=$((${EPOCHREALTIME/./} - t_start))
  printf '# kmodel: %d.%ds %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$1"
}
ok() { echo "ok kmodel: $*"; }
nok() { echo "not ok kmodel: $*"; fail=1; }

if [ ! -d /sys/module/msm_kmodel ] || [ ! -r "$VMS" ]; then
  echo "not ok kmodel: msm_kmodel is not loaded (run inside tools/guest/run)"
  exit 1
fi
for f in "$SIM" "$KO" "$CLIENT"; do
  [ -e "$f" ] || { echo "not ok kmodel: missing $f"; exit 1; }
done

# kmod: the system's, or the one tools/guest/fetch unpacked
kmod() {	# rmmod|insmod ARGS...
  local c=$1; shift
  if command -v "$c" >/dev/null; then
    "$c" "$@"
  else
    # shellcheck disable=SC1091
    (. "$BUILD/guest/kernel.env" && LD_LIBRARY_PATH=$KMOD_LIBS "$KMOD_SBIN/$c" "$@")
  fi
}

defaults() {
  echo 1024 >$P/prealloc_limit
  echo 281474976710656 >$P/vm_size
  echo 50 >$P/job_cost_us
  echo 0 >$P/op_cost_us
  echo 0 >$P/interrupt_ppm
  echo 200 >$P/interrupt_delay_us
  echo 0 >$P/alloc_fail_ppm
}
tmp=$(mktemp -d)
trap '[ -d $P ] && defaults; rm -rf "$tmp"' EXIT
defaults

kernel_faults() {	# the kernel's complaints so far: warnings, bugs, leaks at cache destroy
  dmesg | grep -cE 'WARNING|BUG|Oops|Call Trace|still has objects|msm_kmodel.*unusable'
}
faults0=$(kernel_faults)

declare -A F	# the fields of the last parsed line
parse() {	# LINE: F[KEY]=VALUE for each KEY=VALUE token (no fork)
  local t toks
  F=()
  read -ra toks <<<"$1"
  for t in "${toks[@]}"; do
    [[ $t == *=* ]] && F[${t%%=*}]=${t#*=}
  done
}

vm_line() {	# PID: the vms line of the VM PID opened, in $line ("" if none)
  local l
  line=
  while IFS= read -r l; do
    [[ " $l " == *" pid=$1 "* ]] && line=$l
  done <"$VMS"
}

count_cases=(
  "map:0x100000000:4K"
  "map:0x100000000:4K map:0x100400000:4K"
  "map:0x100000000:64M"
  "map:0x100001000:64M"
  "null:0x100000000:4G"
  "map:0x1001FF000:4K map:0x100200000:4K"
  "map:0x13FFFF000:8K"
  "null:0x7FFFFFF000:8K"
  "map:0x100200000:4K unmap:0x100000000:4K map:0x100201000:4K"
  "map:0x100600000:4K map:0x100000000:4K map:0x100400000:4K map:0x100200000:4K"
  "unmap:0x100000000:4K"
  "null:0x10000FFFFF000:4K"
)
# 342 4 KiB maps in distinct 2 MiB blocks of one 1 GiB block: 1026 pages, one job over the limit
many=""
for ((i = 0; i < 342; i++)); do printf -v op ' map:0x%x:4K' $((0x100000000 + i * 0x200000)); many+=$op; done
count_cases+=("${many# }")

valid_cases=(
  "map:0x100000000:4K"            # the first page of the VM
  "map:0xFFFFF000:4K"             # just below ADRENO_VM_START
  "map:0xFFFFF000:8K"             # across it
  "map:0x1000000:4K"              # the kernel-managed VM's start, not VM_BIND's
  "map:0x100000800:4K"            # misaligned iova
  "map:0x100000000:0x800"         # misaligned range
  "map:0x100000000:0"             # empty
  "null:0x10000FFFFF000:4K"       # the last page of 2^48 from 4 GiB
  "null:0x1000100000000:4K"       # just past it
  "null:0x10000FFFFF000:8K"       # across the end
  "null:0xFFFFFFFFFFFFF000:8K"    # wraps around
  "map:0x100000000:4K map:0x100001800:4K"   # a bad op after a good one
  "unmap:0x100000000:4K null:0x200000000:2M"
  "null:0x10FFFFF000:4K"          # the last page of a 64 GiB VM
  "null:0x1100000000:4K"          # past a 64 GiB VM
)
vm_sizes=(default 64G)
declare -A twin_size=([default]=281474976710656 [64G]=$((64 << 30)))

# The model's answers, one line per case (counts, then validation at each VM size): pages
# for a count case, 0 / -22 for a validation case. One `msmvm-sim count --batch` (each line
# one count's arguments) in the background while the twin answers.
model_answers() {
  local ops size rc first n=0
  {
    printf '%s\n' "${count_cases[@]}"
    for size in "${vm_sizes[@]}"; do
      for ops in "${valid_cases[@]}"; do
        if [ "$size" = default ]; then echo "$ops"; else echo "--vm-size $size $ops"; fi
      done
    done
  } | "$SIM" count --batch >"$tmp/model.raw" 2>&1
  while IFS=$'\t' read -r rc first; do
    if [ "$n" -lt ${#count_cases[@]} ]; then
      if [ "$rc" = 0 ]; then echo "$first"; else echo "rc$rc($first)"; fi
    else
      case $rc in
        0) echo 0 ;;
        2) if [[ $first == *"would fail with -EINVAL"* ]]; then echo -22; else echo "usage($first)"; fi ;;
        *) echo "rc$rc($first)" ;;
      esac
    fi
    n=$((n + 1))
  done <"$tmp/model.raw"
}
mark "(a, b) op lists"
model_answers >"$tmp/model" &
model_pid=$!

# The twin's: one client process, a fresh file per op list, "ret=N" and the VM's line each.
{
  printf '%s\n' "${count_cases[@]}"
  for size in "${vm_sizes[@]}"; do
    echo "@vm_size=${twin_size[$size]}"
    printf '%s\n' "${valid_cases[@]}"
  done
  echo "@vm_size=${twin_size[default]}"
} | "$CLIENT" bind --stdin >"$tmp/twin" 2>"$tmp/client.err" ||
  nok "kmodel-client bind --stdin failed: $(<"$tmp/client.err")"
mark "(a, b) twin done"
wait $model_pid
mapfile -t model <"$tmp/model"
mapfile -t twin <"$tmp/twin"

# --- (a) counts ---------------------------------------------------------------------------
mark "(a) counts"
n=0
for ops in "${count_cases[@]}"; do
  want=${model[$n]-model-missing}
  parse "${twin[$n]-ret=missing}"
  n=$((n + 1))
  # shellcheck disable=SC2086
  set -- $ops
  name="count ${ops:0:60}"
  [ ${#ops} -gt 60 ] && name+="... ($# ops)"
  ret=${F[ret]-?} got=${F[pages_counted]-?}
  if [ "$ret" = 0 ] && [ "$got" = "$want" ]; then
    ok "$name: pages_counted $got = msmvm-sim count"
  else
    nok "$name: ret $ret pages_counted $got, msmvm-sim count says $want"
  fi
  # the job ran and was freed: nothing in flight, every table taken from its preallocation
  b=${F[binds]-?} e=${F[errors]-?} i=${F[in_flight]-?}
  o=${F[outstanding_pages]-?} u=${F[pages_used]-?} t=${F[tables]-?}
  if [ "$b" = 1 ] && [ "$e" = 0 ] && [ "$i" = 0 ] && [ "$o" = 0 ] && [ "$u" = "$t" ] &&
     [ "${F[open]-?}" = 0 ] && [ "$u" -le "$got" ] 2>/dev/null; then
    ok "$name: binds 1, in_flight 0, pages_used $u = tables"
  else
    nok "$name: binds $b errors $e in_flight $i outstanding $o pages_used $u tables $t"
  fi
done

# --- (b) validation -------------------------------------------------------------------------
mark "(b) validation"
for size in "${vm_sizes[@]}"; do
  for ops in "${valid_cases[@]}"; do
    want=${model[$n]-model-missing}
    parse "${twin[$n]-ret=missing}"
    n=$((n + 1))
    ret=${F[ret]-?}
    if [ "$ret" = "$want" ]; then
      ok "validate (vm_size $size) $ops: $ret, as the model"
    else
      nok "validate (vm_size $size) $ops: the twin returns $ret, the model $want"
    fi
  done
done
if [ "$(<$P/vm_size)" != 281474976710656 ]; then
  nok "vm_size not restored after the op lists: $(<$P/vm_size)"
fi

# --- (c) throttle, interrupted waits, failed allocations ----------------------------------
mark "(c) storms"
# Four storms, one client process, parameters set between them; a line of KEY=VALUE each.
storm_names=(
  "storm 3 threads x 6 binds of 200 maps"
  "signals ignored (no SIGURG handler)"
  "interrupted waits (SIGURG handler)"
  "failed allocations"
)
# Jobs of 600 pages, 100 ms each: the third job in flight must wait (1200 > 1024).
# Then every thread about to sleep gets SIGURG: with no handler the signal is ignored;
# with one, interrupted waits, each an error that subtracts a count never added.
# Then failed bulk allocations: each leaves its count in flight (3 pages a bind, far
# from the limit).
"$CLIENT" storm --stdin >"$tmp/storms" 2>"$tmp/client.err" <<EOF ||
@job_cost_us=100000
--threads 3 --binds 6 --nops 200 --kv
@interrupt_ppm=1000000
--threads 3 --binds 6 --nops 200 --kv
--threads 3 --binds 6 --nops 200 --sigurg --kv
@interrupt_ppm=0
@job_cost_us=0
@alloc_fail_ppm=300000
--threads 2 --binds 20 --nops 1 --kv
@alloc_fail_ppm=0
EOF
  nok "kmodel-client storm --stdin failed: $(<"$tmp/client.err")"
mapfile -t storms <"$tmp/storms"
defaults

# storm_check NAME: the VM's ground truth (F[vm.*]) against what the client issued (F[*])
storm_check() {
  local name=$1 k v bad=()
  for k in attempts ok eintr enomem other ops counted drift tables vm.open vm.binds vm.ops \
           vm.errors vm.pages_counted vm.pages_used vm.waits vm.interrupted_waits \
           vm.wait_ns_total vm.wait_ns_max vm.outstanding_pages vm.peak_in_flight \
           vm.max_in_flight_at_pass vm.in_flight vm.tables; do
    [[ ${F[$k]-} =~ ^-?[0-9]+$ ]] || { nok "$name: no number for $k in: ${storm_line:-no output}"; return 1; }
  done
  declare -A want=(
    [open]=0
    [binds]=${F[attempts]}
    [ops]=${F[ops]}
    [errors]=$((F[eintr] + F[enomem] + F[other]))
    [pages_counted]=${F[counted]}
    [interrupted_waits]=${F[eintr]}
    [outstanding_pages]=0
    [in_flight]=${F[drift]}
    [tables]=${F[tables]}
    [pages_used]=${F[tables]}
  )
  for k in open binds ops errors pages_counted interrupted_waits outstanding_pages in_flight \
           tables pages_used; do
    v=${F[vm.$k]}
    [ "$((v))" = "${want[$k]}" ] || bad+=("$k $v (want ${want[$k]})")
  done
  if ((${F[vm.max_in_flight_at_pass]} > ${F[vm.peak_in_flight]})); then
    bad+=("max_in_flight_at_pass ${F[vm.max_in_flight_at_pass]} > peak_in_flight ${F[vm.peak_in_flight]}")
  fi
  if ((${F[vm.wait_ns_max]} > ${F[vm.wait_ns_total]} ||
        (${F[vm.waits]} == 0) != (${F[vm.wait_ns_total]} == 0))); then
    bad+=("waits ${F[vm.waits]} wait_ns_total ${F[vm.wait_ns_total]} wait_ns_max ${F[vm.wait_ns_max]}")
  fi
  if [ ${#bad[@]} -gt 0 ]; then
    local IFS=';'
    nok "$name: ${bad[*]}"
    return 1
  fi
  ok "$name: ground truth = what was issued (binds ${F[vm.binds]} errors ${F[vm.errors]} pages_counted ${F[vm.pages_counted]} waits ${F[vm.waits]} interrupted ${F[vm.interrupted_waits]} in_flight ${F[vm.in_flight]})"
}

for k in "${!storm_names[@]}"; do
  name=${storm_names[$k]}
  storm_line=${storms[$k]-}
  parse "$storm_line"
  storm_check "$name" || continue
  case $k in
  0)
    w=${F[vm.waits]} pk=${F[vm.peak_in_flight]} mp=${F[vm.max_in_flight_at_pass]}
    if [ "$w" -gt 0 ] && [ "$pk" -gt 1024 ] && [ "$mp" -le 1024 ] && [ "${F[vm.in_flight]}" = 0 ]; then
      ok "storm: the throttle made $w calls wait; passing checks read <= 1024 ($mp), peak $pk, drift 0"
    else
      nok "storm: waits $w peak_in_flight $pk max_in_flight_at_pass $mp in_flight ${F[vm.in_flight]}"
    fi ;;
  1)
    if [ "${F[vm.interrupted_waits]}" = 0 ] && [ "${F[vm.waits]}" -gt 0 ] && [ "${F[vm.in_flight]}" = 0 ]; then
      ok "signals ignored: waits ${F[vm.waits]}, none interrupted, drift 0"
    else
      nok "signals ignored: waits ${F[vm.waits]} interrupted_waits ${F[vm.interrupted_waits]} in_flight ${F[vm.in_flight]}"
    fi ;;
  2)
    n=${F[vm.interrupted_waits]} d=${F[vm.in_flight]}
    if [ "$n" -gt 0 ] && [ "$d" -lt 0 ]; then
      ok "interrupted waits: $n, downward drift $d"
    else
      nok "interrupted waits: $n, in_flight $d (want > 0 interrupted, a negative drift)"
    fi ;;
  3)
    f=${F[enomem]} d=${F[vm.in_flight]}
    if [ "$f" -gt 0 ] && [ "$d" = $((3 * f)) ]; then
      ok "failed allocations: $f, upward drift $d = 3 x $f"
    else
      nok "failed allocations: $f, in_flight $d"
    fi ;;
  esac
done

# A process killed mid-storm: its waits end, its queued jobs are killed and still freed, and
# its VM closes. Every count comes off in_flight, so what stays is the downward drift of the
# waits SIGKILL ended (600 pages each).
echo 200000 >$P/job_cost_us
"$CLIENT" storm --threads 3 --binds 6 --nops 200 >/dev/null 2>&1 &
victim=$!
for ((try = 0; try < 300; try++)); do	# until the third job is in flight and a thread waits
  vm_line $victim
  parse "$line"
  [ -n "$line" ] && [ "${F[pages_counted]-0}" -ge 1800 ] 2>/dev/null && break
  sleep 0.1
done
kill -KILL $victim
wait $victim 2>/dev/null
for ((try = 0; try < 300; try++)); do
  vm_line $victim
  parse "$line"
  [ "${F[open]-?}" = 0 ] && break
  sleep 0.1
done
n=${F[interrupted_waits]-?} i=${F[in_flight]-?}
if [ -n "$line" ] && [ "${F[open]-?}" = 0 ] && [ "${F[outstanding_pages]-?}" = 0 ] &&
   [ "${F[pages_counted]-?}" -ge 1800 ] && [ "$i" = $((-600 * n)) ] 2>/dev/null; then
  ok "killed process: VM closed, every job freed, in_flight $i = -600 x $n interrupted waits"
else
  nok "killed process: ${line:-no VM line for pid $victim}"
fi
echo 50 >$P/job_cost_us

# --- (d) the probed functions -------------------------------------------------------------
mark "(d) hooks"
# each source read once (generating kallsyms or the filter list costs ~0.5 s under TCG)
mapfile -t ksyms < <(grep '\[msm_kmodel\]' /proc/kallsyms)
mapfile -t ffuncs < <(grep '\[msm_kmodel\]' /sys/kernel/tracing/available_filter_functions 2>/dev/null)
mapfile -t bfuncs < <(bpftool btf dump file /sys/kernel/btf/msm_kmodel 2>/dev/null | grep "FUNC '")
for fn in msm_ioctl_vm_bind vm_bind_prealloc_count msm_vma_job_run msm_vma_job_free \
          msm_iommu_pagetable_prealloc_count msm_iommu_pagetable_prealloc_allocate \
          msm_iommu_pagetable_prealloc_cleanup; do
  ks=0 bt=0 ff=0
  re="^[0-9a-f]+ [tT] ${fn}[[:space:]]+\[msm_kmodel\]"
  for l in "${ksyms[@]}"; do [[ $l =~ $re ]] && ks=$((ks + 1)); done
  for l in "${bfuncs[@]}"; do [[ $l == *"FUNC '$fn'"* ]] && bt=$((bt + 1)); done
  for l in "${ffuncs[@]}"; do [[ $l == "$fn [msm_kmodel]"* ]] && ff=$((ff + 1)); done
  if [ "$ks" = 1 ] && [ "$bt" = 1 ] && [ "$ff" = 1 ]; then
    ok "hook $fn: one symbol, one BTF FUNC, traceable"
  else
    nok "hook $fn: kallsyms $ks, BTF FUNC $bt, available_filter_functions $ff (want 1 each)"
  fi
done

# --- (e) unload and reload ------------------------------------------------------------------
mark "(e) unload/reload"
mapfile -t vms <"$VMS"
before=${#vms[@]}
node=
for n in /sys/class/drm/renderD*; do
  d=$(readlink -f "$n/device")
  [ "${d##*/}" = msm_kmodel ] && node=/dev/dri/${n##*/}
done
if [ -n "$node" ] && exec 9<>"$node"; then
  kmod rmmod msm_kmodel 2>/dev/null
  rc=$?
  if [ $rc -ne 0 ] && [ -d /sys/module/msm_kmodel ]; then
    ok "rmmod refused while a file is open"
  else
    nok "rmmod with a file open: status $rc, module $([ -d /sys/module/msm_kmodel ] && echo still loaded || echo gone)"
  fi
  exec 9>&-
else
  nok "no msm_kmodel render node to hold open"
fi
# Two cycles: a reload of a fresh load, then a reload of a reload.
for cycle in 1 2; do
  if ! kmod rmmod msm_kmodel; then
    nok "unload $cycle: rmmod failed"; break
  fi
  if [ -d /sys/module/msm_kmodel ] || [ -e "$VMS" ]; then
    nok "unload $cycle: module or debugfs still there"; break
  fi
  if ! kmod insmod "$KO"; then
    nok "reload $cycle: insmod failed"; break
  fi
  line=$("$CLIENT" bind --stdin <<<"map:0x100000000:4K" 2>&1)
  parse "$line"
  mapfile -t vms <"$VMS"
  if [ "${#vms[@]}" = 1 ] && [ "${F[ret]-?}" = 0 ] && [ "${F[serial]-?}" = 1 ] &&
     [ "${F[pages_counted]-?}" = 3 ] && [ "${F[pages_used]-?}" = 3 ]; then
    ok "unload/reload $cycle (after $before VMs): fresh records, a bind counts 3 pages"
  else
    nok "unload/reload $cycle: $line; vms after reload: ${vms[*]:0:3}"
  fi
  before=1
done
faults=$(( $(kernel_faults) - faults0 ))
if [ "$faults" = 0 ]; then
  ok "no kernel warnings, bugs or leaked page-table pages"
else
  nok "$faults kernel complaints:"
  dmesg | grep -E 'WARNING|BUG|Oops|Call Trace|still has objects|unusable' | tail -n 20 | sed 's/^/# /'
fi
exit $fail
