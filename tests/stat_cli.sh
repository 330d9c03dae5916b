#!/usr/bin/env bash
# msmvm-stat's command line, its errors, and its dry runs against real distribution BTF
# (Debian's arm64 6.17.13 and 7.2.13, committed as fixtures in tests/fixtures/btf/).
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
STAT=$B/msmvm-stat
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do echo "#   $l"; done; }

# expect NAME STATUS PATTERN -- COMMAND...: exit status, and PATTERN in stderr+stdout
expect() {
  local name=$1 want=$2 pat=$3; shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$name" "exit $rc, expected $want" "$(head -c 400 "$tmp/err")"
  elif ! grep -q -- "$pat" "$tmp/out" "$tmp/err"; then
    fail "$name" "output lacks '$pat'" "$(head -c 400 "$tmp/err")"
  else
    pass "$name"
  fi
}

expect stat_help 0 'USAGE: msmvm-stat' -- "$STAT" --help
expect stat_bad_flag 2 'unrecognized option' -- "$STAT" --bogus
expect stat_bad_interval 2 "invalid interval 'x'" -- "$STAT" x
expect stat_bad_count 2 "invalid count '0'" -- "$STAT" 1 0
expect stat_bad_hooks 2 "invalid --hooks 'sideways'" -- "$STAT" --hooks sideways
expect stat_bad_arch 2 "invalid --arch 'mips'" -- "$STAT" --dry-run --arch mips
expect stat_btf_needs_dry_run 2 '--btf only goes with --dry-run' -- "$STAT" --btf /dev/null
expect stat_bad_pid 2 "invalid PID" -- "$STAT" -p -3
expect stat_bad_attach 2 "invalid --attach 'sideways' (auto, fentry or kprobe)" -- \
  "$STAT" --attach sideways
expect stat_attach_not_with_sim 2 '--attach chooses how the kernel is probed: not with --sim' -- \
  "$STAT" --sim --attach=kprobe
expect stat_attach_auto_not_with_sim 2 'not with --sim' -- "$STAT" --sim --attach=auto

if [ "$(id -u)" -ne 0 ]; then
  echo "skip stat_errors_as_root # needs root"
  exit 0
fi

# This machine has no Adreno GPU: a clear error that points at --sim.
if [ ! -e /sys/module/msm ] && [ ! -e /sys/module/msm_kmodel ]; then
  expect stat_no_msm_driver 1 'use --sim' -- "$STAT"
  expect stat_no_msm_driver_names_the_twin 1 \
    'the msm driver is not loaded (no /sys/module/msm, nor the kernel twin.s /sys/module/msm_kmodel)' \
    -- "$STAT" --attach=fentry
else
  echo "skip stat_no_msm_driver # msm or its twin is loaded here"
fi
expect stat_sim_missing 1 "not found" -- "$STAT" --sim=/nonexistent/msmvm-sim -d 1
expect stat_sim_not_a_model 1 "carries no BTF" -- "$STAT" --sim=/bin/true -d 1
head -c 100000 /dev/urandom >"$tmp/corrupt.btf"
expect stat_corrupt_btf 1 "cannot read BTF from" -- "$STAT" --dry-run --btf "$tmp/corrupt.btf"
expect stat_btf_without_msm 1 "no msm types" -- "$STAT" --dry-run --btf /sys/kernel/btf/vmlinux

# Not root: the missing capability is named. A copy others may run, as nobody.
install -m 0755 "$STAT" "$tmp/msmvm-stat"
chmod 0755 "$tmp"
expect stat_not_root 1 'missing capability CAP_BPF' -- \
  setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/msmvm-stat" --sim="$B/msmvm-sim" -d 1

# --- dry runs against real distribution kernels ---
# The offset of prealloc_throttle.in_flight in struct msm_gem_vm, read from the BTF itself
# (bpftool's JSON dump), independently of libbpf's CO-RE resolution.
btf_in_flight_offset() {
  bpftool -j btf dump file "$1" | jq '
    .types as $t
    | ($t[] | select(.kind == "STRUCT" and .name == "msm_gem_vm")) as $vm
    | ($vm.members[] | select(.name == "prealloc_throttle")) as $pt
    | ($t[] | select(.id == $pt.type_id)) as $anon
    | ($anon.members[] | select(.name == "in_flight")) as $inf
    | ($pt.bits_offset + $inf.bits_offset) / 8'
}

offsets=()
for fx in tests/fixtures/btf/*.btf.xz; do
  ver=$(basename "$fx" .btf.xz)
  case $ver in debian-6.12.*) continue ;; esac	# msm before VM_BIND: below
  xz -dc "$fx" >"$tmp/$ver.btf"
  if ! "$STAT" --dry-run --json --btf "$tmp/$ver.btf" >"$tmp/dry.json" 2>"$tmp/err"; then
    fail "dry_run_$ver" "$(head -c 600 "$tmp/err")"
    continue
  fi
  want=$(btf_in_flight_offset "$tmp/$ver.btf")
  got=$(jq .layout.msm_gem_vm_in_flight "$tmp/dry.json")
  offsets+=("$got")
  problems=()
  jq -e '.verified' "$tmp/dry.json" >/dev/null || problems+=("not verified")
  jq -e '.plan.arch == "arm64"' "$tmp/dry.json" >/dev/null || problems+=("arch is not the BTF's arm64")
  jq -e '.plan.kind == "direct"' "$tmp/dry.json" >/dev/null || problems+=("plan is not direct")
  # a BTF file: the kprobe programs (fentry ones load against the running kernel only)
  jq -e '.plan.attach == "kprobe" and ([.plan.probes[] | .attach == (if .return then
         "kretprobe" else "kprobe" end)] | all)' "$tmp/dry.json" >/dev/null ||
    problems+=("probes are not kprobe/kretprobe")
  for f in msm_ioctl_vm_bind vm_bind_prealloc_count msm_vma_job_free; do
    jq -e --arg f "$f" '[.plan.probes[] | select(.function == $f)] | length == 2' \
      "$tmp/dry.json" >/dev/null || problems+=("no entry+return probe on $f")
  done
  [ "$got" = "$want" ] || problems+=("in_flight relocated to $got, BTF says $want")
  if [ ${#problems[@]} -eq 0 ]; then
    pass "dry_run_$ver" "in_flight at +$got, as in the BTF"
  else
    fail "dry_run_$ver" "${problems[@]}"
  fi
  expect "dry_run_fallback_$ver" 0 'verified: all 8 programs' -- \
    "$STAT" --dry-run --hooks fallback --btf "$tmp/$ver.btf"
  expect "dry_run_attach_fentry_$ver" 2 '--attach=fentry: fentry programs load against the running kernel only' -- \
    "$STAT" --dry-run --attach=fentry --btf "$tmp/$ver.btf"
done
if [ ${#offsets[@]} -eq 2 ] && [ "${offsets[0]}" != "${offsets[1]}" ]; then
  pass in_flight_offset_differs_between_kernels "${offsets[*]}"
else
  fail in_flight_offset_differs_between_kernels "offsets: ${offsets[*]:-none}"
fi

# Debian 12 and 13's kernel (6.12): msm without VM_BIND. Said as such, exit 1.
xz -dc tests/fixtures/btf/debian-6.12.117-arm64.btf.xz >"$tmp/old.btf"
expect dry_run_msm_predates_vm_bind 1 \
  "the kernel of '$tmp/old.btf' predates VM_BIND and its page-table throttle (Linux 6.17)" -- \
  "$STAT" --dry-run --btf "$tmp/old.btf"

# The host-architecture kernel flavor through the verifier too: there is no msm.ko for
# this host, so its types come from the model's BTF, merged with the host's vmlinux.
if "$B/tools/btfmerge" -o "$tmp/host+model.btf" /sys/kernel/btf/vmlinux "$B/msmvm-sim" 2>"$tmp/err"; then
  arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
  expect "dry_run_kernel_flavor_$arch" 0 'verified: all 6 programs' -- \
    "$STAT" --dry-run --btf "$tmp/host+model.btf" --arch "$arch"
else
  fail "dry_run_kernel_flavor_host" "btfmerge: $(cat "$tmp/err")"
fi

# --- --module: the driver in another module (the kernel twin's), on the running kernel ---
expect stat_bad_module 2 "invalid --module '../msm'" -- "$STAT" --module ../msm
expect stat_module_not_with_sim 2 '--module names a kernel module: not with --sim' -- \
  "$STAT" --sim --module msm_twin
if [ ! -e /sys/module/msm_twin ]; then
  expect stat_module_not_loaded 1 'the msm_twin driver is not loaded (no /sys/module/msm_twin)' -- \
    "$STAT" --module msm_twin
fi

# In a private mount namespace, module NAME looks loaded with BTF (a FUNC record per hooked
# function) and kallsyms lists those functions in [NAME]: the plan is made against NAME
# from BTF alone (loading then fails: the probes' types are not there), never reading
# kallsyms (a pass over it costs seconds on a board; it is read only to explain a probe
# the kernel could not find, tests/test_symbols.c).
fake_module() {	# NAME KALLSYMS-MODULE: runs msmvm-stat --module NAME; $tmp/fake.{out,strace}
  { cat /proc/kallsyms
    for f in msm_ioctl_vm_bind vm_bind_prealloc_count msm_vma_job_free \
             msm_iommu_pagetable_prealloc_allocate; do
      printf 'ffffffffc1000000 t %s\t[%s]\n' "$f" "$2"
    done; } >"$tmp/kallsyms"
  unshare -m bash -c '
    mount -t tmpfs none /sys/module && mkdir "/sys/module/$1" &&
    mount -t tmpfs none /sys/kernel/btf && cp "$2/vmlinux" /sys/kernel/btf/vmlinux &&
    cp "$2/mod.btf" "/sys/kernel/btf/$1" && mount --bind "$2/kallsyms" /proc/kallsyms &&
    exec strace -f -qq -e trace=openat -o "$2/fake.strace" "$3" --module "$1" -d 1' \
    _ "$1" "$tmp" "$STAT" >"$tmp/fake.out" 2>&1
}
if ! command -v strace >/dev/null || ! command -v unshare >/dev/null; then
  echo "skip stat_module_twin_plan # needs strace and unshare"
elif ! cp /sys/kernel/btf/vmlinux "$tmp/vmlinux" ||
     ! "$B/tests/test_symbols" module-btf "$tmp/mod.btf"; then
  fail stat_module_twin_plan "cannot build the fake module's BTF (build/tests/test_symbols)"
else
  fake_module msm_twin msm_twin
  reads=$(grep -c '"/proc/kallsyms"' "$tmp/fake.strace")
  if grep -q 'cannot be probed\|not loaded\|no BTF' "$tmp/fake.out" ||
     ! grep -q 'msm_twin' "$tmp/fake.out" || [ "$reads" != 0 ]; then
    fail stat_module_twin_plan "kallsyms read $reads times" "$(head -c 400 "$tmp/fake.out")"
  else
    pass stat_module_twin_plan "kallsyms never read"
  fi
fi

# The driver's module found: msm if loaded, else the kernel twin msm_kmodel. Here fentry
# cannot be used (this host refuses it, EPERM; and a fake module has no BTF object in the
# kernel): auto falls back to kprobes (named on the target, seen in the load error, as the
# fake module has no types), and --attach=fentry is a clear error.
fake_sys() {	# "MODULES" KALLSYMS-MODULE ARGS...: msmvm-stat ARGS; $tmp/sys.out
  local mods=$1 ksmod=$2
  shift 2
  { cat /proc/kallsyms
    for f in msm_ioctl_vm_bind vm_bind_prealloc_count msm_vma_job_free \
             msm_iommu_pagetable_prealloc_allocate; do
      printf 'ffffffffc1000000 t %s\t[%s]\n' "$f" "$ksmod"
    done; } >"$tmp/kallsyms"
  unshare -m bash -c '
    mods=$1 dir=$2; shift 2
    mount -t tmpfs none /sys/module && mount -t tmpfs none /sys/kernel/btf &&
    cp "$dir/vmlinux" /sys/kernel/btf/vmlinux && mount --bind "$dir/kallsyms" /proc/kallsyms &&
    for m in $mods; do mkdir "/sys/module/$m" && cp "$dir/mod.btf" "/sys/kernel/btf/$m"; done &&
    exec "$@"' _ "$mods" "$tmp" "$STAT" "$@" >"$tmp/sys.out" 2>&1
  sys_rc=$?
}
sys_expect() {	# NAME STATUS PATTERN: after fake_sys
  if [ "$sys_rc" -ne "$2" ]; then
    fail "$1" "exit $sys_rc, expected $2" "$(head -c 400 "$tmp/sys.out")"
  elif ! grep -q -- "$3" "$tmp/sys.out"; then
    fail "$1" "output lacks '$3'" "$(head -c 400 "$tmp/sys.out")"
  else
    pass "$1"
  fi
}
if ! command -v unshare >/dev/null || [ ! -s "$tmp/mod.btf" ]; then
  echo "skip stat_module_default_twin # needs unshare and the fake module's BTF"
else
  fake_sys msm_kmodel msm_kmodel -d 1
  sys_expect stat_module_default_twin 1 '(msm_kmodel, the kernel twin; kprobes)'
  for hooks in direct fallback; do
    fake_sys msm_kmodel msm_kmodel --hooks "$hooks" -d 1
    sys_expect "stat_attach_auto_kprobe_$hooks" 1 \
      "loading the kernel-$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/') BPF programs failed.*(msm_kmodel, the kernel twin; kprobes)"
    fake_sys msm_kmodel msm_kmodel --hooks "$hooks" --attach=fentry -d 1
    sys_expect "stat_attach_fentry_refused_$hooks" 1 \
      '--attach=fentry: fentry/fexit cannot be used here (.*); use --attach=kprobe'
  done
  fake_sys msm_kmodel msm_kmodel --attach=kprobe -d 1
  sys_expect stat_attach_kprobe_forced 1 '(msm_kmodel, the kernel twin; kprobes)'
  fake_sys "msm msm_kmodel" msm -d 1
  sys_expect stat_module_default_msm_first 1 '(msm; kprobes)'
  fake_sys "" msm -d 1
  sys_expect stat_module_default_none 1 'nor the kernel twin.s /sys/module/msm_kmodel'
  # msm loaded, from before VM_BIND (its BTF: address spaces, no msm_gem_vm): every tool
  # says so and exits 1, on the live path as with a BTF file.
  if "$B/tests/test_symbols" module-btf-old "$tmp/old-mod.btf"; then
    cp "$tmp/mod.btf" "$tmp/vmbind-mod.btf" && cp "$tmp/old-mod.btf" "$tmp/mod.btf"
    for tool in msmvm-stat msmvmtop msmvm-trace msmvm-alert; do
      case $tool in
        msmvmtop) args=(-b -d 1) ;; msmvm-trace) args=(-o "$tmp/old.trace" -d 1) ;;
        msmvm-alert) args=(--wedge 5) ;; *) args=(-d 1) ;;
      esac
      STAT=$B/$tool fake_sys msm msm "${args[@]}"
      sys_expect "${tool}_live_msm_predates_vm_bind" 1 \
        "this kernel's msm (/sys/kernel/btf/msm) predates VM_BIND and its page-table throttle (Linux 6.17)"
    done
    cp "$tmp/vmbind-mod.btf" "$tmp/mod.btf"
  else
    fail live_msm_predates_vm_bind "cannot build the old msm's BTF (build/tests/test_symbols)"
  fi
fi
