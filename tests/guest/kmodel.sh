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
set -uo pipefail

BUILD=${BUILD:-build}
SIM=$BUILD/msmvm-sim
KO=$BUILD/kmodel/msm_kmodel.ko
CLIENT=tools/kmodel/kmodel-client
P=/sys/module/msm_kmodel/parameters
VMS=/sys/kernel/debug/msm_kmodel/vms
fail=0

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
trap '[ -d $P ] && defaults' EXIT
defaults

kernel_faults() {	# the kernel's complaints so far: warnings, bugs, leaks at cache destroy
  dmesg | grep -cE 'WARNING|BUG|Oops|Call Trace|still has objects|msm_kmodel.*unusable'
}
faults0=$(kernel_faults)

field() {	# LINE KEY: the value of KEY=... in a vms line
  local t
  for t in $1; do
    case $t in "$2"=*) echo "${t#*=}"; return 0 ;; esac
  done
  echo "?"
}

# The twin's answer to one VM_BIND of OPS on a fresh file: "ret" and the VM's line.
twin_bind() {	# OPS...
  local out
  out=$("$CLIENT" bind "$@" 2>&1) || { echo "ret=client-failed: $out"; return; }
  echo "$out"
}

# The same for many op lists (one a line on stdin), one python process: a line each, in order.
twin_binds() {
  "$CLIENT" bind --stdin 2>&1 || echo "ret=client-failed"
}

# --- (a) counts ---------------------------------------------------------------------------
echo "# kmodel: ${SECONDS}s"
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
for i in $(seq 0 341); do many+=" map:$(printf '0x%x' $((0x100000000 + i * 0x200000))):4K"; done
count_cases+=("${many# }")

out=$(printf '%s\n' "${count_cases[@]}" | twin_binds)
mapfile -t twin <<<"$out"
for k in "${!count_cases[@]}"; do
  ops=${count_cases[$k]}
  # shellcheck disable=SC2086
  want=$("$SIM" count $ops 2>&1 | head -n1)
  out=${twin[$k]:-ret=missing}
  ret=$(field "$out" ret)
  line=${out#ret=* }
  # shellcheck disable=SC2086
  set -- $ops
  name="count ${ops:0:60}$([ ${#ops} -gt 60 ] && echo "... ($# ops)")"
  got=$(field "$line" pages_counted)
  if [ "$ret" = 0 ] && [ "$got" = "$want" ]; then
    ok "$name: pages_counted $got = msmvm-sim count"
  else
    nok "$name: ret $ret pages_counted $got, msmvm-sim count says $want"
  fi
  # the job ran and was freed: nothing in flight, every table taken from its preallocation
  b=$(field "$line" binds) e=$(field "$line" errors) i=$(field "$line" in_flight)
  o=$(field "$line" outstanding_pages) u=$(field "$line" pages_used) t=$(field "$line" tables)
  if [ "$b" = 1 ] && [ "$e" = 0 ] && [ "$i" = 0 ] && [ "$o" = 0 ] && [ "$u" = "$t" ] &&
     [ "$(field "$line" open)" = 0 ] && [ "$u" -le "$got" ] 2>/dev/null; then
    ok "$name: binds 1, in_flight 0, pages_used $u = tables"
  else
    nok "$name: binds $b errors $e in_flight $i outstanding $o pages_used $u tables $t"
  fi
done

# --- (b) validation -------------------------------------------------------------------------
echo "# kmodel: ${SECONDS}s"
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
for vm_size in default 64G; do
  simopt=() twin_size=281474976710656
  if [ "$vm_size" != default ]; then
    simopt=(--vm-size "$vm_size") twin_size=$((64 << 30))
  fi
  echo "$twin_size" >$P/vm_size
  out=$(printf '%s\n' "${valid_cases[@]}" | twin_binds)
  mapfile -t twin <<<"$out"
  for k in "${!valid_cases[@]}"; do
    ops=${valid_cases[$k]}
    # shellcheck disable=SC2086
    serr=$("$SIM" count "${simopt[@]}" $ops 2>&1 >/dev/null); src=$?
    case $src in
      0) want=0 ;;
      2) if echo "$serr" | grep -q 'would fail with -EINVAL'; then want=-22; else want="usage($serr)"; fi ;;
      *) want="rc$src" ;;
    esac
    ret=$(field "${twin[$k]:-ret=missing}" ret)
    if [ "$ret" = "$want" ]; then
      ok "validate (vm_size $vm_size) $ops: $ret, as the model"
    else
      nok "validate (vm_size $vm_size) $ops: the twin returns $ret, the model $want"
    fi
  done
done
echo 281474976710656 >$P/vm_size

# --- (c) throttle, interrupted waits, failed allocations ----------------------------------
echo "# kmodel: ${SECONDS}s"
# storm_check NAME JSON: the VM's ground truth against what the client issued
storm_check() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
name, s = sys.argv[1], json.loads(sys.argv[2])
vm = {k: int(v, 0) if k not in ("comm",) else v for k, v in s["vm"].items()}
want = {
    "open": 0,
    "binds": s["attempts"],
    "ops": s["ops"],
    "errors": s["eintr"] + s["enomem"] + s["other"],
    "pages_counted": s["counted"],
    "interrupted_waits": s["eintr"],
    "outstanding_pages": 0,
    "in_flight": s["drift"],
    "tables": s["tables"],
    "pages_used": s["tables"],
}
bad = ["%s %s (want %s)" % (k, vm[k], v) for k, v in want.items() if vm[k] != v]
if vm["max_in_flight_at_pass"] > vm["peak_in_flight"]:
    bad.append("max_in_flight_at_pass %d > peak_in_flight %d" % (vm["max_in_flight_at_pass"], vm["peak_in_flight"]))
if vm["wait_ns_max"] > vm["wait_ns_total"] or (vm["waits"] == 0) != (vm["wait_ns_total"] == 0):
    bad.append("waits %d wait_ns_total %d wait_ns_max %d" % (vm["waits"], vm["wait_ns_total"], vm["wait_ns_max"]))
summary = "binds %d errors %d pages_counted %d waits %d interrupted %d in_flight %d" % (
    vm["binds"], vm["errors"], vm["pages_counted"], vm["waits"], vm["interrupted_waits"], vm["in_flight"])
if bad:
    print("not ok kmodel: %s: %s" % (name, "; ".join(bad)))
else:
    print("ok kmodel: %s: ground truth = what was issued (%s)" % (name, summary))
EOF
}

storm() {	# NAME CLIENT-ARGS...: runs the storm, checks it, leaves its JSON in $storm_json
  echo "# kmodel: ${SECONDS}s storm $1"
  local name=$1; shift
  storm_json=$("$CLIENT" storm "$@" 2>&1) || { nok "$name: client failed: $storm_json"; storm_json=; return; }
  local line
  line=$(storm_check "$name" "$storm_json")
  echo "$line"
  case $line in "not ok"*) fail=1 ;; esac
}
sj() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); k=sys.argv[2]; print(d["vm"][k] if k in d["vm"] else d[k])' "$storm_json" "$1"; }

# Jobs of 600 pages, 100 ms each: the third job in flight must wait (1200 > 1024).
echo 100000 >$P/job_cost_us
storm "storm 3 threads x 6 binds of 200 maps" --threads 3 --binds 6 --nops 200
if [ -n "$storm_json" ]; then
  w=$(sj waits) pk=$(sj peak_in_flight) mp=$(sj max_in_flight_at_pass)
  if [ "$w" -gt 0 ] && [ "$pk" -gt 1024 ] && [ "$mp" -le 1024 ] && [ "$(sj in_flight)" = 0 ]; then
    ok "storm: the throttle made $w calls wait; passing checks read <= 1024 ($mp), peak $pk, drift 0"
  else
    nok "storm: waits $w peak_in_flight $pk max_in_flight_at_pass $mp in_flight $(sj in_flight)"
  fi
fi

# Every thread about to sleep gets SIGURG: with no handler the signal is ignored.
echo 1000000 >$P/interrupt_ppm
storm "signals ignored (no SIGURG handler)" --threads 3 --binds 6 --nops 200
if [ -n "$storm_json" ]; then
  if [ "$(sj interrupted_waits)" = 0 ] && [ "$(sj waits)" -gt 0 ] && [ "$(sj in_flight)" = 0 ]; then
    ok "signals ignored: waits $(sj waits), none interrupted, drift 0"
  else
    nok "signals ignored: waits $(sj waits) interrupted_waits $(sj interrupted_waits) in_flight $(sj in_flight)"
  fi
fi

# With a handler: interrupted waits, each an error that subtracts a count never added.
storm "interrupted waits (SIGURG handler)" --threads 3 --binds 6 --nops 200 --sigurg
if [ -n "$storm_json" ]; then
  n=$(sj interrupted_waits) d=$(sj in_flight)
  if [ "$n" -gt 0 ] && [ "$d" -lt 0 ]; then
    ok "interrupted waits: $n, downward drift $d"
  else
    nok "interrupted waits: $n, in_flight $d (want > 0 interrupted, a negative drift)"
  fi
fi
echo 0 >$P/interrupt_ppm

# Failed bulk allocations: each leaves its count in flight (3 pages a bind, far from the limit).
echo 0 >$P/job_cost_us
echo 300000 >$P/alloc_fail_ppm
storm "failed allocations" --threads 2 --binds 20 --nops 1
if [ -n "$storm_json" ]; then
  f=$(sj enomem) d=$(sj in_flight)
  if [ "$f" -gt 0 ] && [ "$d" = $((3 * f)) ]; then
    ok "failed allocations: $f, upward drift $d = 3 x $f"
  else
    nok "failed allocations: $f, in_flight $d"
  fi
fi
echo 0 >$P/alloc_fail_ppm

# A process killed mid-storm: its waits end, its queued jobs are killed and still freed, and
# its VM closes. Every count comes off in_flight, so what stays is the downward drift of the
# waits SIGKILL ended (600 pages each).
echo 200000 >$P/job_cost_us
"$CLIENT" storm --threads 3 --binds 6 --nops 200 >/dev/null 2>&1 &
victim=$!
line=
for _ in $(seq 1 300); do	# until the third job is in flight and a thread waits
  line=$(grep " pid=$victim " "$VMS")
  [ -n "$line" ] && [ "$(field "$line" pages_counted)" -ge 1800 ] 2>/dev/null && break
  sleep 0.1
done
kill -KILL $victim
wait $victim 2>/dev/null
for _ in $(seq 1 300); do
  line=$(grep " pid=$victim " "$VMS")
  [ "$(field "$line" open)" = 0 ] && break
  sleep 0.1
done
n=$(field "$line" interrupted_waits) i=$(field "$line" in_flight)
if [ -n "$line" ] && [ "$(field "$line" open)" = 0 ] && [ "$(field "$line" outstanding_pages)" = 0 ] &&
   [ "$(field "$line" pages_counted)" -ge 1800 ] && [ "$i" = $((-600 * n)) ] 2>/dev/null; then
  ok "killed process: VM closed, every job freed, in_flight $i = -600 x $n interrupted waits"
else
  nok "killed process: ${line:-no VM line for pid $victim}"
fi
echo 50 >$P/job_cost_us

# --- (d) the probed functions -------------------------------------------------------------
echo "# kmodel: ${SECONDS}s"
btf=$(bpftool btf dump file /sys/kernel/btf/msm_kmodel 2>/dev/null)
for fn in msm_ioctl_vm_bind vm_bind_prealloc_count msm_vma_job_run msm_vma_job_free \
          msm_iommu_pagetable_prealloc_count msm_iommu_pagetable_prealloc_allocate \
          msm_iommu_pagetable_prealloc_cleanup; do
  ks=$(grep -cE "^[0-9a-f]+ [tT] $fn\s+\[msm_kmodel\]" /proc/kallsyms)
  bt=$(echo "$btf" | grep -c "FUNC '$fn'")
  ff=$(grep -cE "^$fn \[msm_kmodel\]" /sys/kernel/tracing/available_filter_functions 2>/dev/null)
  if [ "$ks" = 1 ] && [ "$bt" = 1 ] && [ "$ff" = 1 ]; then
    ok "hook $fn: one symbol, one BTF FUNC, traceable"
  else
    nok "hook $fn: kallsyms $ks, BTF FUNC $bt, available_filter_functions $ff (want 1 each)"
  fi
done

# --- (e) unload and reload ------------------------------------------------------------------
echo "# kmodel: ${SECONDS}s"
before=$(grep -c . "$VMS")
node=
for n in /sys/class/drm/renderD*; do
  [ "$(basename "$(readlink -f "$n/device")")" = msm_kmodel ] && node=/dev/dri/${n##*/}
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
for cycle in 1 2 3; do
  if ! kmod rmmod msm_kmodel; then
    nok "unload $cycle: rmmod failed"; break
  fi
  if [ -d /sys/module/msm_kmodel ] || [ -e "$VMS" ]; then
    nok "unload $cycle: module or debugfs still there"; break
  fi
  if ! kmod insmod "$KO"; then
    nok "reload $cycle: insmod failed"; break
  fi
  out=$(twin_bind map:0x100000000:4K)
  line=$(echo "$out" | grep '^serial=')
  if [ "$(grep -c . "$VMS")" = 1 ] && [ "$(field "$line" serial)" = 1 ] &&
     [ "$(field "$line" pages_counted)" = 3 ] && [ "$(field "$line" pages_used)" = 3 ]; then
    ok "unload/reload $cycle (after $before VMs): fresh records, a bind counts 3 pages"
  else
    nok "unload/reload $cycle: vms after reload: $(cat "$VMS" | head -3)"
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
