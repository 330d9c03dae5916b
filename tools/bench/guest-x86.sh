#!/usr/bin/env bash
# Runs INSIDE the x86 guest (tools/guest/run, the kernel twin msm_kmodel loaded), started by
# tools/bench/bench.sh: measures, and leaves every raw figure in the results directory R (on
# the shared build directory) for bench.sh to read on the host once the guest is off. Nothing
# is computed here beyond clock and counter reads: each jq start costs most of a second
# under TCG, and the host does it in milliseconds.
#
# The handshake: the guest copies the kernel's and the twin's BTF to R and touches
# R/btf.ready; the host generates the bpftrace scripts from them (gen-bpftrace.sh --kernel)
# and checks their offsets against msmvm-stat --dry-run's CO-RE layout (R/layout.*.json),
# then writes R/gen.done (or R/gen.failed, the reason in it). 9p with cache=mmap: the
# guest sees the host's files as they are written.
#
# Then RUNS rounds. A round: for each attach kind (fentry, kprobes; the first alternates), the
# pair msmvm-stat and the bpftrace script of that kind (kfunc is bpftrace's fentry), between two
# timing runs with no tool: none0, then per kind: the first tool attaches, its timing run (the
# twin flat out for GSECS seconds, BPF statistics off); the second attaches too, and the counted
# run (NB binds per process) goes with both attached and kernel.bpf_stats_enabled=1, bpftool
# prog show before and after: both tools' programs run on the same calls, one after the other
# (the same trampoline, the same kprobe), under the same load, so that their per-call times
# compare as a pair (which attaches first, and so runs first, alternates by round); then the
# first stops, the second's timing run, the second stops; none1, ... A tool's time added is
# against the mean of the two runs with no tool around it, so that the guest's speed drifting
# with the host's load over a round cancels out. Per tool: the time to attached (seen from
# here, and msmvm-stat's own figure), the programs it holds (its fds' link info, bpftool perf
# show), its final report. Every run's ground truth (msmvm-sim run --kernel's summary) is kept
# beside it; R/rN.order lists the round's timing runs in order.
#
# The timing runs' workload is TWL (-w TWL; default sparse, as the counted runs'): see guest.sh.
#
# FIRST (default 1): the first round to run; a guest booted again after one that died (an
# oops under QEMU's -icount, guest.sh) goes on from the first round not finished.
#
# usage: guest-x86.sh R RUNS GSECS NB [TWL [FIRST]]
set -u
cd "$(dirname "$0")/../.."
R=$1 RUNS=$2 GSECS=$3 NB=$4 TWL=${5:-sparse} FIRST=${6:-1}
B=${BUILD:-build}
SIM=$B/msmvm-sim STAT=$B/msmvm-stat
WL=(-w sparse -P 2 --job-cost 0)
STATS=/proc/sys/kernel/bpf_stats_enabled
log() { echo "$*" >>"$R/log"; }
: >"$R/log"
TP='' TCHILD=''
P1='' P2='' T1='' T2=''
cleanup() {
  local p
  for p in $TCHILD $T1 $T2; do kill -TERM "$p" 2>/dev/null; done
  for p in $TP $P1 $P2; do kill -INT "$p" 2>/dev/null; done
  echo 0 >"$STATS" 2>/dev/null
}
trap cleanup EXIT

# Waits from bash builtins (a fork costs tens of ms here and would take CPU from the tools)
mkfifo "/tmp/bench.tick" && exec 9<>"/tmp/bench.tick"
nap() { read -r -t "$1" -u 9 _; }
has() { local l; [ -e "$1" ] || return 1; while IFS= read -r l; do [[ $l == *"$2"* ]] && return 0; done <"$1"; return 1; }
cpu() { local c rest; read -r c rest </proc/stat; echo "$rest"; }	# user nice system idle iowait irq softirq steal ...

if [ ! -e /sys/kernel/btf/msm_kmodel ]; then
  echo "the twin msm_kmodel is not loaded (or has no BTF)" >"$R/failed"; exit 0
fi
cat /sys/kernel/btf/vmlinux >"$R/vmlinux.btf" && cat /sys/kernel/btf/msm_kmodel >"$R/msm_kmodel.btf"
for m in kprobe fentry; do
  "$STAT" --dry-run --json --attach=$m >"$R/layout.$m.json" 2>"$R/layout.$m.err"
done
uname -r >"$R/kernel"
bpftrace --version >"$R/bpftrace.version" 2>&1
touch "$R/btf.ready"
# The host always answers (gen.done or gen.failed); tools/guest/run's timeout bounds the wait.
# Not in guest seconds: under -icount with sleep=off an idle guest's clock jumps from timer to
# timer, and 300 of its seconds can pass in a few of the host's.
while ! [ -e "$R/gen.done" ] && ! [ -e "$R/gen.failed" ]; do nap 0.25; done

# /proc/kallsyms: how many times msmvm-stat opens it while starting (strace, a run of its own:
# strace slows every system call down)
for m in kprobe fentry; do
  strace -f -qq -e trace=openat,open -o "$R/strace.$m" "$STAT" --attach=$m -d 0.1 >/dev/null 2>"$R/strace.$m.err"
done

# The tools write their output to the guest's own tmpfs (L), copied to R once they end: a
# write to the shared 9p directory was once seen missing under a heavily loaded host (an
# msmvm-stat in its main loop, past its "attached" line, with an empty stderr file).
L=/tmp/bench-tools
mkdir -p "$L"
keep() { cp "$L/$1".* "$R/" 2>/dev/null; }

# start CFG TAG: the tool attached, TP its pid (TCHILD: bpftrace's sleeper); 1 when it did not
start() {
  local cfg=$1 tag=$2 t0=$EPOCHREALTIME i ok=0
  TP='' TCHILD=''
  case $cfg in
    ours-*)
      "$STAT" --json --attach="${cfg#ours-}" -d 3600 >"$L/$tag.out" 2>"$L/$tag.err" &
      TP=$!
      for ((i = 0; i < 1800; i++)); do
        has "$L/$tag.err" attached && { ok=1; break; }
        kill -0 "$TP" 2>/dev/null || break
        nap 0.1
      done ;;
    bt-*)
      # bpftrace 0.17 reads kernel headers when /lib/modules/$(uname -r)/build exists, and the
      # guest's is Debian's arch-only tree (no include/linux/kconfig.h: it fails). In a mount
      # namespace of its own, that directory is hidden: bpftrace runs from BTF alone, as on
      # the host, which has no headers.
      unshare -m sh -c 'mount -t tmpfs none "/lib/modules/$(uname -r)" && exec "$@"' sh \
        bpftrace -f json "$R/${cfg#bt-}.bt" -c "/bin/sh $PWD/tools/bench/ready.sh $L/$tag.ready" \
        >"$L/$tag.out" 2>"$L/$tag.err" &
      TP=$!
      for ((i = 0; i < 1800; i++)); do
        [ -s "$L/$tag.ready" ] && { ok=1; break; }
        kill -0 "$TP" 2>/dev/null || break
        nap 0.1
      done
      [ $ok = 1 ] && read -r TCHILD <"$L/$tag.ready" ;;
  esac
  echo "$t0 $EPOCHREALTIME" >"$R/$tag.attach"
  if [ $ok = 0 ]; then
    # where it was, for the report: the kernel stack of each of its threads
    local t
    for t in /proc/"$TP"/task/*; do echo "thread ${t##*/} ($(cat "$t/comm" 2>/dev/null)):"; cat "$t/stack" 2>/dev/null; done \
      >"$R/$tag.stack" 2>&1
    log "$tag: did not attach in $(( ${EPOCHREALTIME%.*} - ${t0%.*} )) s"
    kill -KILL "$TP" 2>/dev/null; wait "$TP" 2>/dev/null; TP=''
    keep "$tag"
    return 1
  fi
  # the programs it holds: its links (fentry/fexit, kfunc; libbpf's kprobe links) and its
  # perf events (bpftrace's kprobes); bench.sh keeps the attached ones
  local f
  for f in /proc/"$TP"/fdinfo/*; do echo "fd ${f##*/}"; cat "$f"; done >"$R/$tag.fdinfo" 2>/dev/null
  bpftool perf show -j >"$R/$tag.perf.json" 2>/dev/null
  echo "$TP" >"$R/$tag.pid"
}
stop() {
  local i
  if [ -n "$TCHILD" ]; then kill -TERM "$TCHILD" 2>/dev/null; else kill -INT "$TP" 2>/dev/null; fi
  for ((i = 0; i < 1200; i++)); do kill -0 "$TP" 2>/dev/null || break; nap 0.1; done
  kill -KILL "$TP" 2>/dev/null
  wait "$TP" 2>/dev/null
  echo $? >"$R/$1.rc"
  TP='' TCHILD=''
  keep "$1"
}
# tool_cpu PID: its utime and stime (clock ticks), for a tool's own CPU over a timing run
tool_cpu() { local f; read -r f <"/proc/$1/stat" 2>/dev/null || return; f=${f##*) }; set -- $f; echo "${12} ${13}"; }
workload() {	# TAG ARGS...: the twin's run, its summary TAG.json; TAG.time: wall s, CPU jiffies before/after
  local tag=$1 t0 t1 c0 c1 u0='' u1=''	# TAG.tool: the attached tool's (WPID) ticks before | after
  shift
  [ -n "${WPID:-}" ] && u0=$(tool_cpu "$WPID")
  c0=$(cpu); t0=$EPOCHREALTIME
  "$SIM" run --kernel "${WL[@]}" "$@" -o "$R/$tag.json" 2>"$R/$tag.sim.err" || log "$tag: msmvm-sim run --kernel failed"
  t1=$EPOCHREALTIME; c1=$(cpu)
  [ -n "${WPID:-}" ] && u1=$(tool_cpu "$WPID")
  echo "$t0 $t1 | $c0 | $c1" >"$R/$tag.time"
  [ -n "$u0" ] && [ -n "$u1" ] && echo "$u0 | $u1" >"$R/$tag.tool"
}

declare -A broken fails
[ -e "$R/gen.failed" ] && broken[bt-kfunc]=1 broken[bt-kprobe]=1
[ -s "$R/kfunc.bt" ] || broken[bt-kfunc]=1
try_start() {	# CFG TAG: start, or count a failure (tried again next round; after two, no more)
  [ -n "${broken[$1]:-}" ] && return 1
  start "$1" "$2" && return 0
  fails[$1]=$(( ${fails[$1]:-0} + 1 ))
  [ "${fails[$1]}" -ge 2 ] && broken[$1]=1
  return 1
}
KINDS=(fentry kprobe)
echo 0 >"$STATS"
for ((r = FIRST; r <= RUNS; r++)); do
  n=0
  workload "r$r.none$n.A" -w "$TWL" -d "$GSECS"
  order="none$n"
  for ((k = 0; k < ${#KINDS[@]}; k++)); do
    kind=${KINDS[$(( (k + r - 1) % ${#KINDS[@]} ))]}
    pair=("ours-$kind" "bt-$([ "$kind" = fentry ] && echo kfunc || echo kprobe)")
    (( r % 2 )) && pair=("${pair[1]}" "${pair[0]}")	# bpftrace first in odd rounds
    first=${pair[0]} second=${pair[1]} p1=$first p2=$second
    try_start "$first" "r$r.$first" && P1=$TP T1=$TCHILD || p1=''
    [ -n "$p1" ] && { WPID=$P1 workload "r$r.$first.A" -w "$TWL" -d "$GSECS"; order+=" $first"; }
    try_start "$second" "r$r.$second" && P2=$TP T2=$TCHILD || p2=''
    if [ -n "$p1$p2" ]; then
      echo 1 >"$STATS"
      bpftool prog show -j >"$R/r$r.$kind.p0.json" 2>/dev/null
      workload "r$r.$kind.B" -n "$NB"
      bpftool prog show -j >"$R/r$r.$kind.p1.json" 2>/dev/null
      echo 0 >"$STATS"
      echo "$p1 $p2" >"$R/r$r.$kind.both"
    fi
    [ -n "$p1" ] && { TP=$P1 TCHILD=$T1; stop "r$r.$first"; }
    if [ -n "$p2" ]; then
      TP=$P2 TCHILD=$T2
      WPID=$P2 workload "r$r.$second.A" -w "$TWL" -d "$GSECS"; order+=" $second"
      stop "r$r.$second"
    fi
    n=$((n + 1))
    workload "r$r.none$n.A" -w "$TWL" -d "$GSECS"
    order+=" none$n"
    log "r$r.$kind: done ($p1 $p2)"
  done
  echo "$order" >"$R/r$r.order"
done
touch "$R/done"
