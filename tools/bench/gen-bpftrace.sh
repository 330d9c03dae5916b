#!/usr/bin/env bash
# Writes, on stdout, the bpftrace script `make bench` compares msmvm with: the same hooks
# (msm_ioctl_vm_bind, vm_bind_prealloc_count, msm_vma_job_free, each on entry and return) and
# the same per-process aggregation (binds, ops, errors, pages counted and used, waits detected
# through the task's nvcsw, interrupted waits, wait time total and max, in_flight and its
# peak; log2 histograms of the wait and of the overcount count - ptr per job).
#
# bpftrace 0.17 cannot relocate field offsets the way CO-RE does, so they are read here from
# BTF (the same types msmvm's probes are relocated against) and written into the script as
# numbers, each with the path it stands for. The load width of each read comes from the
# field's type too.
#
# usage: gen-bpftrace.sh SIM_BINARY > msmvm.bt
#          the model: uprobes on msmvm-sim, offsets from the binary's own BTF
#        gen-bpftrace.sh --kernel MODULE MODULE_BTF VMLINUX_BTF kprobe|kfunc > kernel.bt
#          a kernel driver module (the twin, msm_kmodel): kprobe/kretprobe or kfunc/kretfunc
#          (bpftrace's fentry/fexit), offsets from the module's split BTF (a copy of
#          /sys/kernel/btf/MODULE) over the kernel's (/sys/kernel/btf/vmlinux); kfunc reads
#          the arguments by the names the module's BTF gives them.
set -euo pipefail
command -v bpftool >/dev/null || { echo "gen-bpftrace: bpftool is missing (tools/deps.sh)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "${1:-}" = --kernel ]; then
  [ $# -eq 5 ] || { echo "usage: gen-bpftrace.sh --kernel MODULE MODULE_BTF VMLINUX_BTF kprobe|kfunc" >&2; exit 2; }
  mode=$5 module=$2 src="$3 (over $4)"
  case $mode in kprobe|kfunc) ;; *) echo "gen-bpftrace: the kernel mode is kprobe or kfunc, not $mode" >&2; exit 2 ;; esac
  bpftool -j btf dump file "$4" >"$tmp/base.json" 2>"$tmp/err" &&
    bpftool -j -B "$4" btf dump file "$3" >"$tmp/mod.json" 2>>"$tmp/err" ||
    { echo "gen-bpftrace: cannot read the BTF of $src: $(cat "$tmp/err")" >&2; exit 1; }
else
  sim=${1:?usage: gen-bpftrace.sh SIM_BINARY}
  mode=uprobe src=$sim
  [ -r "$sim" ] || { echo "gen-bpftrace: cannot read $sim" >&2; exit 1; }
  if ! bpftool -j btf dump file "$sim" >"$tmp/mod.json" 2>/dev/null; then
    echo "gen-bpftrace: $sim carries no BTF (an msmvm-sim built by make has it: pahole -J)" >&2
    exit 1
  fi
  echo '{"types": []}' >"$tmp/base.json"
fi

# Every field at once (one pass over the types: the kernel's are 100k+): for each
# "VAR STRUCT a.b.c", "VAR BYTE_OFFSET SIZE" (size of the last field's type, typedefs
# resolved); then each hooked function's parameter names, "param FUNC INDEX NAME".
read -r -d '' JQ_FIELDS <<'JQ' || true
([$base[0].types[], $mod[0].types[]] | map({key: (.id | tostring), value: .}) | from_entries) as $t |
def res($id): $t[$id | tostring] as $x |
  if $x == null then error("type id \($id) missing")
  elif ($x.kind | IN("TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG")) then res($x.type_id)
  else $x end;
def size($x): if $x.kind == "PTR" then 8 elif ($x.kind | IN("INT", "ENUM", "STRUCT", "UNION")) then $x.size
  else error("no size for \($x.kind)") end;
def field($s; $path):
  ([$mod[0].types[] | select(.kind == "STRUCT" and .name == $s)] | first) as $st |
  if $st == null then error("struct \($s) not in the BTF") else . end |
  reduce ($path | split("."))[] as $m ({ty: $st, bits: 0};
    ([.ty.members[] | select(.name == $m)] | first) as $mem |
    if $mem == null then error("struct \($s): no member \($m) (path \($path))") else . end |
    {ty: res($mem.type_id), bits: (.bits + $mem.bits_offset)}) |
  if .bits % 8 != 0 then error("\($s).\($path) is a bit field") else "\(.bits / 8) \(size(.ty))" end;
($fields | split("\n")[] | select(length > 0) | split(" ") | "\(.[0]) \(field(.[1]; .[2]))"),
($funcs | split(" ")[] as $f
  | ([$mod[0].types[] | select(.kind == "FUNC" and .name == $f)] | first) as $fn
  | if $fn == null then error("function \($f) not in the BTF") else . end
  | res($fn.type_id).params | to_entries[] | "param \($f) \(.key) \(.value.name)")
JQ

FIELDS="NR_OPS drm_msm_vm_bind nr_ops
PRIV drm_file driver_priv
CTX_VM msm_context vm
VM_BASE msm_gem_vm base
INFL msm_gem_vm prealloc_throttle.in_flight.counter
JOB_BASE msm_vm_bind_job base
JOB_VM msm_vm_bind_job vm
CNT msm_vm_bind_job prealloc.count
PTR msm_vm_bind_job prealloc.ptr"
FUNCS="msm_ioctl_vm_bind vm_bind_prealloc_count msm_vma_job_free"
jq -rn --slurpfile base "$tmp/base.json" --slurpfile mod "$tmp/mod.json" --arg fields "$FIELDS" \
  --arg funcs "$FUNCS" "$JQ_FIELDS" >"$tmp/fields" 2>"$tmp/err" ||
  { echo "gen-bpftrace: $src: $(cat "$tmp/err")" >&2; exit 1; }
while read -r var off sz rest; do
  if [ "$var" = param ]; then	# param FUNC INDEX NAME
    printf -v "ARG_${off}_${sz}" '%s' "$rest"
    continue
  fi
  path=$(awk -v v="$var" '$1 == v { print $2 "." $3 }' <<<"$FIELDS")
  printf -v "${var}_OFF" '%s' "$off"
  printf -v "${var}_DOC" '%s' "$path"
  case $var in VM_BASE|JOB_BASE) continue ;; esac	# offsets only
  case $sz in 1|2|4|8) ;; *) echo "gen-bpftrace: $path is $sz bytes wide" >&2; exit 1 ;; esac
  printf -v "${var}_TY" 'uint%s' $((sz * 8))
  printf -v "${var}_STY" 'int%s' $((sz * 8))
done <"$tmp/fields"

# Probe names and argument expressions by attach kind. The model's VM addresses are per
# process (each has its own address space), so a VM's owner is keyed by pid and VM there; in
# the kernel a VM's address is unique, and the job is freed from drm_sched's kworker (another
# pid), so the key is the VM alone.
arg() {	# FUNC INDEX -> the expression for that argument, as an integer
  if [ "$mode" = kfunc ]; then
    local n="ARG_${1}_${2}"
    [ -n "${!n:-}" ] || { echo "gen-bpftrace: no parameter $2 of $1 in the BTF" >&2; exit 1; }
    echo "(uint64)args->${!n}"
  else
    echo "arg$2"
  fi
}
case $mode in
  uprobe) P_IN="uprobe:$sim:" P_OUT="uretprobe:$sim:" OWNER='pid, $vm' KIND="uprobes on the model" ;;
  kprobe) P_IN="kprobe:" P_OUT="kretprobe:" OWNER='$vm' KIND="kprobes on $module" ;;
  kfunc) P_IN="kfunc:$module:" P_OUT="kretfunc:$module:" OWNER='$vm' KIND="kfunc/kretfunc (fentry/fexit) on $module" ;;
esac
A_DATA=$(arg msm_ioctl_vm_bind 1)
A_FILE=$(arg msm_ioctl_vm_bind 2)
A_CJOB=$(arg vm_bind_prealloc_count 0)
A_FJOB=$(arg msm_vma_job_free 0)

cat <<BT
/*
 * Generated by tools/bench/gen-bpftrace.sh from the BTF of
 *   $src
 * The bpftrace equivalent of msmvm-stat's per-process aggregation, $KIND. Offsets:
 *   $NR_OPS_DOC = $NR_OPS_OFF ($NR_OPS_TY, UAPI)
 *   $PRIV_DOC = $PRIV_OFF, $CTX_VM_DOC = $CTX_VM_OFF, $VM_BASE_DOC = $VM_BASE_OFF
 *   $INFL_DOC = $INFL_OFF ($INFL_STY)
 *   $JOB_BASE_DOC = $JOB_BASE_OFF, $JOB_VM_DOC = $JOB_VM_OFF
 *   $CNT_DOC = $CNT_OFF ($CNT_TY), $PTR_DOC = $PTR_OFF ($PTR_TY)
 * Per thread while a call is in progress: @nrops (nr_ops + 1: 0 means no entry seen) and @vm;
 * in the throttle: @cts, @nvcsw, @job. Per VM: its owner (the model: VM addresses are per
 * process, so the key carries the pid; the kernel: the VM alone, as the job is freed by a
 * kworker). Per freeing thread: @fvm, @fowner.
 */

${P_IN}msm_ioctl_vm_bind
{
	\$ctx = *($PRIV_TY *)($A_FILE + $PRIV_OFF);
	\$vm = *($CTX_VM_TY *)(\$ctx + $CTX_VM_OFF) - $VM_BASE_OFF;
	@nrops[tid] = *($NR_OPS_TY *)($A_DATA + $NR_OPS_OFF) + 1;
	@vm[tid] = \$vm;
	@owner[$OWNER] = pid;
}

${P_OUT}msm_ioctl_vm_bind
/@nrops[tid]/
{
	@binds[pid] = count();
	@ops[pid] = sum(@nrops[tid] - 1);
	if ((int32)retval < 0) {
		@errors[pid] = count();
	}
	delete(@nrops[tid]);
	delete(@vm[tid]);
}

${P_IN}vm_bind_prealloc_count
/@nrops[tid]/
{
	@cts[tid] = nsecs;
	@nvcsw[tid] = curtask->nvcsw;
	@job[tid] = $A_CJOB;
}

${P_OUT}vm_bind_prealloc_count
/@cts[tid]/
{
	\$w = nsecs - @cts[tid];
	if (curtask->nvcsw != @nvcsw[tid]) {
		@waits[pid] = count();
		@wait_ns_total[pid] = sum(\$w);
		@wait_ns_max[pid] = max(\$w);
		@wait_ns[pid] = hist(\$w);
	}
	if ((int32)retval == -512) {
		@interrupted_waits[pid] = count();
	}
	if ((int32)retval == 0) {
		@pages_counted[pid] = sum(*($CNT_TY *)(@job[tid] + $CNT_OFF));
		@peak_in_flight[pid] = max(*($INFL_STY *)(@vm[tid] + $INFL_OFF));
	}
	delete(@cts[tid]);
	delete(@nvcsw[tid]);
	delete(@job[tid]);
}

${P_IN}msm_vma_job_free
{
	\$job = $A_FJOB - $JOB_BASE_OFF;
	\$vm = *($JOB_VM_TY *)(\$job + $JOB_VM_OFF) - $VM_BASE_OFF;
	\$o = @owner[$OWNER];
	if (\$o) {
		\$count = *($CNT_TY *)(\$job + $CNT_OFF);
		\$ptr = *($PTR_TY *)(\$job + $PTR_OFF);
		@pages_used[\$o] = sum(\$ptr);
		if (\$count) {
			@overcount[\$o] = hist(\$count - \$ptr);
		}
		@peak_in_flight[\$o] = max(*($INFL_STY *)(\$vm + $INFL_OFF));
		@fvm[tid] = \$vm;
		@fowner[tid] = \$o;
	}
}

${P_OUT}msm_vma_job_free
/@fowner[tid]/
{
	@in_flight[@fowner[tid]] = *($INFL_STY *)(@fvm[tid] + $INFL_OFF);
	delete(@fvm[tid]);
	delete(@fowner[tid]);
}
BT
