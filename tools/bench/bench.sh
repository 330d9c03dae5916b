#!/usr/bin/env bash
# `make bench`: msmvm against an equivalent bpftrace script and against no tracing at all, side
# by side in one run on this machine, on the msmvm-sim model (uprobes: this machine has no
# kprobes and no msm GPU). Prints a table and writes the report, $BUILD/bench/PERFORMANCE.md.
# docs/PERFORMANCE.md, the committed one, is replaced only when asked (BENCH_UPDATE=1) and the
# machine was quiet during the run (below): a bench on a busy machine measures the machine.
#
# Every figure is min / median / max over BENCH_RUNS runs (default 5). Each measured run gets
# its own copy of the model binary: uprobes bind to an inode, so nothing else on the machine
# (a test, a demo, another run) can fire the probes of the run being measured, and each tool
# sees only its own. Tools are attached before the model starts and stopped after it ends, so
# their counts can be checked against the model's own summary, run by run.
#
# Then msmvm-tune's time on a storm trace of about 30 MB against its 2 s budget
# (tools/bench/tune.sh; BENCH_ONLY=tune runs that step alone, without bpftrace).
#
# Then the guests (tools/bench/guest.sh; BENCH_GUEST=0 skips them): the kernel twin in the
# emulated x86 guest (msmvm-stat with kprobes and with fentry against the bpftrace script with
# kprobes and with kfunc: BPF time per hook, time added per VM_BIND, start to attached) and the
# real msm.ko in the arm64 guest (start to attached). A guest that cannot run here is reported
# as skipped, with the reason.
#
# Environment: BUILD (build), BENCH_RUNS (5; the guests' rounds too), BENCH_SECS (3, seconds
# per model run), BENCH_GUEST (1), BENCH_GUEST_SECS (3, seconds per timing run in the x86
# guest), BENCH_GUEST_BINDS (500, binds per process of a counted run in the x86 guest),
# BENCH_GUEST_ICOUNT (shift=0,sleep=off: QEMU's -icount for the x86 guest, its clock counted
# in emulated instructions; empty: the host's clock), BENCH_GUEST_TIMING_WORKLOAD (unmap-heavy:
# the x86 guest's timing runs' workload; its counted runs are on sparse),
# BENCH_DOC (the report: build/bench/PERFORMANCE.md; empty: do not write it), BENCH_UPDATE (1:
# then copy the report to docs/PERFORMANCE.md if the machine was quiet; force: even if it was
# not), BENCH_KEEP (a directory: the results
# and what report.sh reads are kept there, to write the document again without measuring:
#   bash -c 'source "$0/state.sh"; W=$0 RES=$0/results DOC=docs/PERFORMANCE.md;
#            source tools/bench/report.sh' DIR ).
set -uo pipefail
cd "$(dirname "$0")/../.."
# BENCH_ONLY=tune: msmvm-tune's time on a storm trace alone (step 8, tools/bench/tune.sh);
# BENCH_ONLY=guest-x86: the x86 guest's part alone (step 9), its figures on stderr and in
# $BUILD/bench/guest-x86.results, no report
case ${BENCH_ONLY:-} in
  '' | guest-x86) ;;
  tune) exec bash tools/bench/tune.sh ;;
  *) echo "bench: BENCH_ONLY=$BENCH_ONLY: expected tune or guest-x86" >&2; exit 2 ;;
esac
B=${BUILD:-build}
RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_SECS:-3}
DOC=${BENCH_DOC-$B/bench/PERFORMANCE.md}
UPDATE=${BENCH_UPDATE:-0}
case $UPDATE in 0 | 1 | force) ;; *) echo "bench: BENCH_UPDATE=$UPDATE: expected 0, 1 or force" >&2; exit 2 ;; esac
SWEEP_RUNS=$(( RUNS < 3 ? RUNS : 3 ))
GUEST=${BENCH_GUEST:-1}			# 0: no guest parts
NSTEPS=$([ "$GUEST" = 1 ] && echo 10 || echo 8)
PROCS=2
# The bench's workload. --job-cost 0: the model's default job cost (50 us) is a nanosleep on
# the scheduler thread, and how long that sleep really takes on this VM varies from run to run
# by a factor of several (the noise check below measures it): the flat-out rate would measure
# timer wake-ups, not the tools. Without it the model is CPU-bound and every microsecond a tool
# adds shows up in its rate.
WL=(-w sparse -P "$PROCS" --job-cost 0)
RATE_10K=$(( 10000 / PROCS ))			# per process: 10k binds/s in all
SWEEP_RATES=(2500 5000 10000 20000 0)	# per process; 0: flat out
SMALL_BUF=16					# KB: msmvm-trace --buffer-size for a second sweep
SMALL_RATES=(5000 10000 20000 0)
HOOKS=(msm_ioctl_vm_bind vm_bind_prealloc_count msm_vma_job_free)

T_BEGIN=$(date +%s)
say() { printf '%s\n' "$*" >&2; }
step() { say "[$1/$NSTEPS] $2 (at $(( $(date +%s) - T_BEGIN )) s)"; }
die() { say "bench: $*"; exit 1; }

# --- preflight ---------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "needs root: it attaches uprobes, loads BPF programs and sets kernel.bpf_stats_enabled"
for c in bpftrace bpftool jq awk nm readelf sysctl; do
  command -v "$c" >/dev/null || die "'$c' is missing: run tools/deps.sh (as root it installs it)"
done
for t in msmvm-sim msmvm-stat msmvm-trace msmvmtop msmvm-alert bench/tracesize; do
  [ -x "$B/$t" ] || die "$B/$t is missing: run make bench (it builds everything first)"
done
[ -r /sys/kernel/btf/vmlinux ] || die "this kernel has no BTF (/sys/kernel/btf/vmlinux): bpftrace's curtask and msmvm's CO-RE need it"
STATS_ORIG=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null) || die "cannot read kernel.bpf_stats_enabled"
BPFTRACE_VERSION=$(bpftrace --version 2>/dev/null | awk '{print $2}')
LIBBPF=$(ldd "$B/msmvm-stat" | awk '/libbpf\.so/ {print $3; exit}')
[ -n "$LIBBPF" ] && [ -r "$LIBBPF" ] || die "cannot find the libbpf msmvm-stat is linked with"
CLK_TCK=$(getconf CLK_TCK)

# --- cleanup: every background process we started, the sysctl, the work directory ----------
W=$(mktemp -d /tmp/msmvm-bench.XXXXXX)
BG=()
STATS_SET=0
stop_pid() {	# PID [TIMEOUT_S]: SIGINT, then SIGKILL; reaps it; returns its exit status
  local p=$1 t=${2:-20} i rc
  kill -INT "$p" 2>/dev/null
  for ((i = 0; i < t * 20; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$p" 2>/dev/null; then
    say "bench: pid $p did not stop within ${t} s: killing it"
    kill -KILL "$p" 2>/dev/null
  fi
  wait "$p" 2>/dev/null
  rc=$?
  local keep=() q
  for q in "${BG[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  BG=("${keep[@]}")
  return "$rc"
}
stats_on() { sysctl -qw kernel.bpf_stats_enabled=1 && STATS_SET=1; }
stats_off() {
  if [ "$STATS_SET" = 1 ]; then
    sysctl -qw kernel.bpf_stats_enabled="$STATS_ORIG" && STATS_SET=0
  fi
}
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${BG[@]}"; do stop_pid "$p" 5 >/dev/null 2>&1; done
  stats_off
  [ "$(sysctl -n kernel.bpf_stats_enabled)" = "$STATS_ORIG" ] ||
    say "bench: could not restore kernel.bpf_stats_enabled=$STATS_ORIG"
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'say "bench: interrupted"; exit 130' INT TERM

# --- results: "KEY VALUE" lines; min/median/max per key ------------------------------------
RES=$W/results
: >"$RES"
put() { printf '%s %s\n' "$1" "$2" >>"$RES"; }
# agg KEY -> "min med max n" (the median of an even count is the mean of the middle two)
agg() {
  awk -v k="$1" '$1 == k { print $2 }' "$RES" | sort -g | awk '
    { v[NR] = $1 }
    END { if (!NR) { print "nan nan nan 0"; exit }
          m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%.6g %.6g %.6g %d\n", v[1], m, v[NR], NR }'
}
med() { agg "$1" | awk '{print $2}'; }
# cell KEY DECIMALS -> "med (min–max)"
cell() {
  agg "$1" | awk -v d="$2" '$4 == 0 { print "n/a"; exit }
    { f = "%." d "f"; printf(f " (" f "–" f ")\n", $2, $1, $3) }'
}
yesno() { [ "$(agg "$1" | awk '{ print ($1 == 1 && $4 > 0) }')" = 1 ] && echo yes || echo NO; }
num() { awk -v x="$1" -v d="$2" 'BEGIN { printf("%." d "f", x) }'; }
calc() { awk "BEGIN { printf(\"%.6g\", $1) }"; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }

# --- the model, and the tools on it --------------------------------------------------------
NRUN=0
new_sim() {	# -> a private copy of the model in a fresh run directory: sets RD, SIM
  NRUN=$((NRUN + 1))
  RD=$W/run$NRUN
  mkdir -p "$RD"
  cp "$B/msmvm-sim" "$RD/msmvm-sim"
  SIM=$RD/msmvm-sim
}

# sim_run SUMMARY ARGS...: runs the model in the foreground; sets SIM_BINDS, SIM_CPU (user +
# sys seconds of all its processes and threads, the kernel's uprobe work included)
sim_run() {
  local out=$1 t
  shift
  local TIMEFORMAT='%R %U %S'
  { time "$SIM" run "$@" -o "$out" >/dev/null 2>"$out.err"; } 2>"$out.time" ||
    { sed 's/^/  /' "$out.err" >&2; die "the model failed: $SIM run $*"; }
  SIM_BINDS=$(jq '.totals.binds' "$out")
  t=$(tail -n 1 "$out.time")
  SIM_CPU=$(awk '{ printf("%.6g", $2 + $3) }' <<<"$t")
  [ "${SIM_BINDS:-0}" -gt 0 ] || die "the model did no bind: $SIM run $*"
}

# launch NAME READY_FILE PATTERN CMD...: starts CMD in the background (stdout NAME.out,
# stderr NAME.err in the run directory) and waits until PATTERN shows in READY_FILE (an empty
# PATTERN: until READY_FILE exists). Sets TPID and T_READY_MS (from fork to ready, polled
# every 5 ms).
launch() {
  local name=$1 ready=$2 pat=$3 t0 i
  shift 3
  t0=$(now_us)
  "$@" >"$RD/$name.out" 2>"$RD/$name.err" &
  TPID=$!
  BG+=("$TPID")
  for ((i = 0; i < 3000; i++)); do
    if { [ -z "$pat" ] && [ -s "$ready" ]; } || { [ -n "$pat" ] && grep -q -- "$pat" "$ready" 2>/dev/null; }; then
      T_READY_MS=$(calc "($(now_us) - $t0) / 1000")
      return 0
    fi
    kill -0 "$TPID" 2>/dev/null || break
    sleep 0.005
  done
  say "bench: $name did not attach ($*):"
  bt_noise <"$RD/$name.err" | sed 's/^/  /' >&2
  stop_pid "$TPID" 5
  die "cannot go on without $name"
}
# bpftrace 0.17 on this machine: RLIMIT_MEMLOCK cannot be raised (not needed: memcg
# accounting), and detaching a uprobe made through the perf PMU tries tracefs too
bt_noise() { grep -v 'uprobe_events\|failed to detach\|RLIMIT_MEMLOCK'; }

# launch_bt NAME SCRIPT: bpftrace -f json SCRIPT, ready once all its probes are attached
# (bpftrace -c starts tools/bench/ready.sh only then; BEGIN runs before the probes attach).
# Sets TPID (bpftrace) and TCHILD (the sleeper, whose end stops bpftrace).
launch_bt() {
  local name=$1 script=$2
  launch "$name" "$RD/$name.ready" "" bpftrace -f json "$script" \
    -c "/bin/sh $PWD/tools/bench/ready.sh $RD/$name.ready"
  TCHILD=$(cat "$RD/$name.ready")
  BG+=("$TCHILD")
}
# stop_bt: ends the sleeper; bpftrace then prints its maps and exits
stop_bt() {
  local i
  kill -TERM "$TCHILD" 2>/dev/null
  for ((i = 0; i < 600; i++)); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.05; done
  stop_pid "$TCHILD" 1 >/dev/null 2>&1
  stop_pid "$TPID" 10
}

# The tools, each attached to $SIM. A tool's stdout/stderr: $RD/TOOL.out, $RD/TOOL.err.
start_tool() {	# ours | bpftrace | trace | trace-no-ops | trace-compressed | top | alert | stat-1 | stat-1-mmap
  case $1 in
    ours) launch ours "$RD/ours.err" "attached" "$B/msmvm-stat" --sim="$SIM" --json -d 600 ;;
    stat-1) launch stat-1 "$RD/stat-1.err" "attached" "$B/msmvm-stat" --sim="$SIM" -P 1 ;;
    # the same, with glibc's malloc told to give large blocks back to the system when freed
    stat-1-mmap) launch stat-1-mmap "$RD/stat-1-mmap.err" "attached" \
                   env GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 "$B/msmvm-stat" --sim="$SIM" -P 1 ;;
    bpftrace)
      bash tools/bench/gen-bpftrace.sh "$SIM" >"$RD/msmvm.bt" || die "cannot generate the bpftrace script"
      launch_bt bpftrace "$RD/msmvm.bt" ;;
    # --no-ops unless TRACE_OPS=1: the event stream as it was before the ops records came, so
    # that bytes per event, losses and the time added stay comparable (and the ops' own cost is
    # measured apart, with TRACE_OPS=1: the tool's default)
    # its default compression (without the ops only) unless TRACE_ZIP=1: --compress
    trace) launch trace "$RD/trace.err" "attached" "$B/msmvm-trace" --sim="$SIM" -o "$RD/t.perfetto-trace" -d 600 \
             ${TRACE_BUF:+--buffer-size "$TRACE_BUF"} $([ "${TRACE_OPS:-0}" = 1 ] || echo --no-ops) \
             $([ "${TRACE_ZIP:-0}" = 1 ] && echo --compress) ;;
    trace-no-ops) TRACE_OPS=0 start_tool trace ;;
    trace-compressed) TRACE_ZIP=1 start_tool trace ;;
    top) launch top "$RD/top.out" "^msmvmtop" "$B/msmvmtop" --sim="$SIM" -b -d 1 ;;
    alert) launch alert "$RD/alert.err" "watching" "$B/msmvm-alert" --sim="$SIM" --stall 100/1000 \
             --textfile "$RD/alert.prom" ;;
    *) die "unknown tool $1" ;;
  esac
}
stop_tool() {
  if [ "$1" = bpftrace ]; then stop_bt; else stop_pid "$TPID" 30; fi ||
    die "$1 failed on exit: $(bt_noise <"$RD/$1.err" | tail -n 3)"
}

# --- checking a tool's counts against the model's summary ----------------------------------
# bpftrace -f json output -> {"PID": {counter: n, ..., hist: {wait_ns: [slots], overcount: [slots]}}}
# (log2 slots as msmvm keeps them: slot 0 holds 0, slot i holds [2^(i-1), 2^i))
read -r -d '' JQ_BT <<'JQ' || true
def slot: if . <= 0 then 0 else [recurse(if . > 1 then (. / 2 | floor) else empty end)] | length end;
def slots: reduce .[] as $b ([]; .[$b.min | slot] = $b.count) | map(. // 0);
["binds","ops","errors","pages_counted","pages_used","waits","interrupted_waits","wait_ns_total",
 "wait_ns_max","peak_in_flight","in_flight","wait_ns","overcount"] as $known |
reduce (inputs | select(type == "object" and (.type == "map" or .type == "hist"))) as $l ({};
  ($l.data | to_entries[0]) as $m | ($m.key | ltrimstr("@")) as $name |
  if ($known | index($name)) == null then . else
    reduce ($m.value | to_entries[]) as $e (.;
      if $l.type == "hist" then .[$e.key].hist[$name] = ($e.value | slots)
      else .[$e.key][$name] = $e.value end)
  end)
JQ
# msmvm-stat --json (last line) -> the same shape, counters only
JQ_OURS='.processes | map({key: (.pid | tostring), value: .totals}) | from_entries'
# $tool: {PID: counters}, $sum: the model's summary (or the twin's: $twin), $keys: exact
# counters. One line per mismatch; nothing when they agree. Wait time: within 2% + 100 us per
# wait (the probes time the function from outside: uprobe entry to uretprobe) + the time the
# process's threads waited for a CPU (the twin's summary gives it). peak_in_flight: a lower
# bound, not above the truth's, and on the model within 1% of it (docs/probes.md, known
# limits: another CPU's free can land between an add and the probe that samples it; on the
# twin, drm_sched's kworker frees concurrently, and only the bound holds: the tests' rule;
# the same rule for both tools).
read -r -d '' JQ_CMP <<'JQ' || true
$sum[0] as $m | $tool[0] as $t |
$m.processes[] as $p | ($t[$p.pid | tostring]) as $c |
if $c == null then "process \($p.pid): not seen"
else
  ($keys[] as $k | select(($c[$k] // 0) != $p.totals[$k])
     | "process \($p.pid) \($k): tool \($c[$k] // 0), model \($p.totals[$k])"),
  (select(($c.peak_in_flight // 0) > $p.totals.peak_in_flight or
          (($twin | not) and ($c.peak_in_flight // 0) < $p.totals.peak_in_flight * 0.99))
     | "process \($p.pid) peak_in_flight: tool \($c.peak_in_flight // 0), model \($p.totals.peak_in_flight)"),
  (select(((($c.wait_ns_total // 0) - $p.totals.wait_ns_total) | fabs) >
          $p.totals.wait_ns_total * 0.02 + 100000 * ([$p.totals.waits, 1] | max) + ($p.run_delay_ns // 0))
     | "process \($p.pid) wait_ns_total: tool \($c.wait_ns_total // 0), model \($p.totals.wait_ns_total)"),
  (select($c.hist != null and (($c.hist.wait_ns // []) | add // 0) != $p.totals.waits)
     | "process \($p.pid) wait histogram: \(($c.hist.wait_ns // []) | add // 0) waits, model \($p.totals.waits)")
end
JQ
KEYS_OURS='["binds","ops","errors","pages_counted","pages_used","waits","interrupted_waits","in_flight","drift"]'
KEYS_BT='["binds","ops","errors","pages_counted","pages_used","waits","interrupted_waits","in_flight"]'

tool_counts() {	# TOOL -> normalized counts JSON on stdout
  case $1 in
    ours) tail -n 1 "$RD/ours.out" | jq -c "$JQ_OURS" ;;
    bpftrace) jq -nc "$JQ_BT" "$RD/bpftrace.out" ;;
  esac
}
# check TOOL SUMMARY: compares, counts agreements in key check.TOOL (1 agree, 0 not)
check() {
  local tool=$1 sum=$2 keys diffs
  [ "$tool" = ours ] && keys=$KEYS_OURS || keys=$KEYS_BT
  tool_counts "$tool" >"$RD/$tool.counts.json" || { put "check.$tool" 0; say "  $tool: unreadable output"; return; }
  diffs=$(jq -rn --argjson keys "$keys" --argjson twin false --slurpfile tool "$RD/$tool.counts.json" \
            --slurpfile sum "$sum" "$JQ_CMP" 2>&1)
  if [ -z "$diffs" ]; then
    put "check.$tool" 1
  else
    put "check.$tool" 0
    say "  $tool disagrees with the model:"
    printf '%s\n' "$diffs" | head -n 8 | sed 's/^/    /' >&2
  fi
}

# --- BPF programs of a run: from bpftool perf show (the ones attached to our copy) ---------
# hook labels by uprobe offset: FUNC or FUNC:return
hook_offsets() {
  local sim=$1 addr type name off va fsz
  while read -r addr type name; do
    case " ${HOOKS[*]} " in *" $name "*) ;; *) continue ;; esac
    while read -r _ off va _ fsz _; do	# LOAD Offset VirtAddr PhysAddr FileSiz MemSiz ...
      if (( 0x$addr >= va && 0x$addr < va + fsz )); then
        echo "$(( 0x$addr - va + off )) $name"
        break
      fi
    done < <(readelf -lW "$sim" | awk '$1 == "LOAD"')
  done < <(nm "$sim" | awk '$2 == "T" || $2 == "t"')
}
# progs_of -> JSON [{id, hook}] of the programs attached to $SIM
progs_of() {
  bpftool perf show -j 2>/dev/null | jq -c --arg f "$SIM" --argjson offs "$HOOK_OFFS" '
    [.[] | select(.filename == $f) | {id: .prog_id,
      hook: (($offs[.offset | tostring] // "offset \(.offset)") + (if .fd_type == "uretprobe" then ":return" else "" end))}]'
}
# prog_stats PROGS -> JSON [{id, hook, ns, cnt}]
prog_stats() {
  bpftool prog show -j 2>/dev/null | jq -c --argjson p "$1" '
    [.[] as $g | $p[] | select(.id == $g.id) | . + {ns: ($g.run_time_ns // 0), cnt: ($g.run_cnt // 0)}]'
}
# helper calls per program, static (bpftool prog dump xlated): {hook: {calls, maps, lookups, reads}}
prog_helpers() {
  local progs=$1 id hook x
  echo "$progs" | jq -r '.[] | "\(.id) \(.hook)"' | while read -r id hook; do
    bpftool prog dump xlated id "$id" >"$RD/xlated" 2>&1 || die "bpftool prog dump xlated id $id: $(head -c 300 "$RD/xlated")"
    x=$(grep -o 'call [A-Za-z_0-9]*' "$RD/xlated" | awk '
      { c++ } /map|htab|lru|array/ { m++ } /lookup/ { l++ } /probe_read/ { r++ }
      END { printf("{\"calls\":%d,\"maps\":%d,\"lookups\":%d,\"reads\":%d}", c, m, l, r) }')
    echo "{\"$hook\": $x}"
  done | jq -sc 'add'
}

# ==========================================================================================
say "msmvm bench: ${RUNS} runs per figure, ${SECS} s per model run, model: msmvm-sim run ${WL[*]}"
HOOK_OFFS=$(hook_offsets "$B/msmvm-sim" | jq -Rn '[inputs | split(" ") | {key: .[0], value: .[1]}] | from_entries')
[ "$(jq length <<<"$HOOK_OFFS")" -eq 3 ] || die "cannot find the three hooks in $B/msmvm-sim: $HOOK_OFFS"
read -r -a CPU0 < <(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6, $9 }' /proc/stat)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "${BENCH_ONLY:-}" = guest-x86 ]; then
  NSTEPS=1
  source tools/bench/guest.sh
  step 1 "the x86 guest alone: msmvm-stat and bpftrace on the kernel twin ($RUNS rounds)"
  guest_x86
  mkdir -p "$B/bench" && cp "$RES" "$B/bench/guest-x86.results"
  [ "$GUEST_X86" = ran ] || die "x86 guest $GUEST_X86"
  guest_x86_summary
  say "bench: the x86 guest's part took $(( $(date +%s) - T_BEGIN )) s; results in $B/bench/guest-x86.results"
  exit 0
fi

# --- 0. the offsets the bpftrace script uses, against what CO-RE relocated msmvm's probes to
new_sim
bash tools/bench/gen-bpftrace.sh "$SIM" >"$RD/msmvm.bt" || die "cannot generate the bpftrace script"
"$B/msmvm-stat" --sim="$SIM" --dry-run --json >"$RD/layout.json" 2>"$RD/layout.err" ||
  die "msmvm-stat --dry-run failed: $(cat "$RD/layout.err")"
OFFSETS_OK=$(jq -r --rawfile bt "$RD/msmvm.bt" '.layout as $l |
  def off($re): ($bt | capture($re).n | tonumber);
  [ off("drm_file.driver_priv = (?<n>[0-9]+)") == $l.drm_file_driver_priv,
    off("msm_context.vm = (?<n>[0-9]+)") == $l.msm_context_vm,
    off("in_flight.counter = (?<n>[0-9]+)") == $l.msm_gem_vm_in_flight,
    off("msm_vm_bind_job.vm = (?<n>[0-9]+)") == $l.msm_vm_bind_job_vm,
    off("prealloc.count = (?<n>[0-9]+)") == ($l.msm_vm_bind_job_prealloc + $l.msm_mmu_prealloc_count),
    off("prealloc.ptr = (?<n>[0-9]+)") == ($l.msm_vm_bind_job_prealloc + $l.msm_mmu_prealloc_ptr) ]
  | if all then "yes" else "NO" end' "$RD/layout.json")
say "bpftrace script: offsets from the model's BTF; equal to msmvm's CO-RE relocations: $OFFSETS_OK"
[ "$OFFSETS_OK" = yes ] || die "the generated script's offsets differ from CO-RE's (see $RD/msmvm.bt)"
cp "$RD/msmvm.bt" "$W/example.bt"

# --- 1. both tools on one run: counts against the model, histograms against each other -----
step 1 "agreement: msmvm-stat and the bpftrace script on the same run"
new_sim
start_tool bpftrace; BT_PID=$TPID; BT_CHILD=$TCHILD
start_tool ours; OURS_PID=$TPID
sim_run "$RD/sum.json" "${WL[@]}" -d "$SECS"
TPID=$OURS_PID; stop_tool ours
TPID=$BT_PID; TCHILD=$BT_CHILD; stop_tool bpftrace
check ours "$RD/sum.json"; check bpftrace "$RD/sum.json"
tool_counts bpftrace >"$RD/bt.json"
HIST_CMP=$(jq -rn --slurpfile o <(tail -n 1 "$RD/ours.out") --slurpfile b "$RD/bt.json" '
  def addv($a; $b): [range([($a | length), ($b | length)] | max)] | map(($a[.] // 0) + ($b[.] // 0));
  def sumh($name): reduce ($b[0] | to_entries[] | .value.hist[$name] // []) as $h ([]; addv(.; $h));
  def diff($x; $y): [range([($x | length), ($y | length)] | max)] | map((($x[.] // 0) - ($y[.] // 0)) | fabs) | add / 2;
  ($o[0].histograms.overcount_pages) as $oo | sumh("overcount") as $bo |
  ($o[0].histograms.wait_ns) as $ow | sumh("wait_ns") as $bw |
  "overcount \($oo | add) \($bo | add) \(diff($oo; $bo)) wait \($ow | add // 0) \($bw | add // 0) \(diff($ow; $bw))"')
read -r _ OC_O OC_B OC_D _ W_O W_B W_D <<<"$HIST_CMP"
AGREE_BINDS=$SIM_BINDS
sed -i 's/^check\./agree1./' "$RES"
say "  model: $SIM_BINDS binds; counts equal to the model's: msmvm-stat $(yesno agree1.ours), bpftrace $(yesno agree1.bpftrace)"
say "  overcount histogram: msmvm-stat $OC_O jobs, bpftrace $OC_B, $OC_D in another bucket"
say "  wait histogram: msmvm-stat $W_O waits, bpftrace $W_B, $W_D in another bucket"

# --- 2. BPF programs' own cost per hook invocation (kernel BPF stats) ----------------------
step 2 "BPF run time per hook invocation (kernel.bpf_stats_enabled=1 while it runs)"
stats_on || die "cannot set kernel.bpf_stats_enabled"
for ((r = 1; r <= RUNS; r++)); do
  for tool in ours bpftrace; do
    for ((try = 1; ; try++)); do
      # another process (a concurrent bench, a test) may set kernel.bpf_stats_enabled back to 0
      # while this runs: the counters then stand still. The entry program of msm_ioctl_vm_bind
      # must have counted every bind, or the run is done again.
      stats_on || die "cannot set kernel.bpf_stats_enabled"
      new_sim
      start_tool "$tool"
      attach_ms=$T_READY_MS
      progs=$(progs_of)
      # however many programs a tool attaches (a rewrite of msmvm's may use fewer): all of them
      [ "$(jq length <<<"$progs")" -ge 1 ] || die "$tool: no program attached to $SIM"
      sim_run "$RD/sum.json" "${WL[@]}" -d "$SECS"
      st=$(prog_stats "$progs")
      # while the programs are loaded: once the tool stops, there is nothing left to dump
      [ "$r" = 1 ] && prog_helpers "$progs" >"$W/helpers.$tool.json"
      stop_tool "$tool"
      counted=$(jq '[.[] | select(.hook == "msm_ioctl_vm_bind") | .cnt] | add // -1' <<<"$st")
      if [ "$(sysctl -n kernel.bpf_stats_enabled)" = 1 ] &&
         { [ "$counted" = "$SIM_BINDS" ] || [ "$counted" = -1 ]; }; then
        break
      fi
      say "  run $r, $tool: kernel.bpf_stats_enabled was turned off meanwhile (by another process; $counted of $SIM_BINDS binds counted): again"
      [ "$try" -lt 4 ] || die "kernel.bpf_stats_enabled keeps being turned off by another process"
    done
    put "attach_ms.$tool" "$attach_ms"
    [ "$tool" = ours ] && put "attach_self_ms.ours" "$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' "$RD/ours.err")"
    put "progs.$tool" "$(jq length <<<"$progs")"
    check "$tool" "$RD/sum.json"
    ns=$(jq '(map(.ns) | add) / (map(.cnt) | add)' <<<"$st")
    printf -v "NS_$tool" '%s' "$ns"
    put "bpf_ns.$tool" "$ns"
    put "bpf_ns_per_bind.$tool" "$(jq --argjson b "$SIM_BINDS" '(map(.ns) | add) / $b' <<<"$st")"
    put "calls_per_bind.$tool" "$(jq --argjson b "$SIM_BINDS" '(map(.cnt) | add) / $b' <<<"$st")"
    jq -r '.[] | "hook.\(.hook | gsub(" "; "_")).'"$tool"' \(if .cnt > 0 then .ns / .cnt else 0 end)"' <<<"$st" >>"$RES"
  done
  put bpf_ratio "$(calc "$NS_ours / $NS_bpftrace")"
  say "  run $r: msmvm-stat $(num "$NS_ours" 0) ns, bpftrace $(num "$NS_bpftrace" 0) ns per invocation"
done
# what one helper call costs here: tiny bpftrace programs on the same hooks
new_sim
cat >"$RD/prim.bt" <<BT
uprobe:$SIM:msm_ioctl_vm_bind { }
uprobe:$SIM:vm_bind_prealloc_count { \$x = *(uint64 *)(arg0 + 8); }
uprobe:$SIM:msm_vma_job_free { @a[tid] = 1; }
uretprobe:$SIM:msm_vma_job_free { @c = count(); }
BT
stats_on || die "cannot set kernel.bpf_stats_enabled"
launch_bt prim "$RD/prim.bt"
progs=$(progs_of)
sim_run "$RD/sum.json" "${WL[@]}" -d "$SECS"
st=$(prog_stats "$progs")
stop_bt >/dev/null
PRIM_EMPTY=$(jq '.[] | select(.hook == "msm_ioctl_vm_bind") | .ns / .cnt' <<<"$st")
PRIM_READ=$(jq '.[] | select(.hook == "vm_bind_prealloc_count") | .ns / .cnt' <<<"$st")
PRIM_UPDATE=$(jq '.[] | select(.hook == "msm_vma_job_free") | .ns / .cnt' <<<"$st")
PRIM_COUNT=$(jq '.[] | select(.hook == "msm_vma_job_free:return") | .ns / .cnt' <<<"$st")
stats_off
say "  one program here: empty $(num "$PRIM_EMPTY" 0) ns, one probe_read_user $(num "$PRIM_READ" 0) ns, one hash update $(num "$PRIM_UPDATE" 0) ns, one per-CPU count() $(num "$PRIM_COUNT" 0) ns"

# --- 3. time added per VM_BIND at the model's full rate -------------------------------------
step 3 "time added per VM_BIND: the model flat out, alone and under each tool"
CONFIGS=(none ours bpftrace trace)
for ((r = 1; r <= RUNS; r++)); do
  line="  run $r:"
  for ((k = 0; k < ${#CONFIGS[@]}; k++)); do	# a different order each round
    cfg=${CONFIGS[$(( (k + r - 1) % ${#CONFIGS[@]} ))]}
    new_sim
    [ "$cfg" != none ] && start_tool "$cfg"
    [ "$cfg" = trace ] && put "attach_ms.trace" "$T_READY_MS"
    sim_run "$RD/sum.json" "${WL[@]}" -d "$SECS"
    if [ "$cfg" != none ]; then stop_tool "$cfg"; fi
    rm -f "$RD/t.perfetto-trace"
    case $cfg in ours|bpftrace) check "$cfg" "$RD/sum.json" ;; esac
    echo "$r $cfg $SIM_BINDS $SIM_CPU" >>"$W/flat"
    line="$line $cfg $(( SIM_BINDS / SECS ))/s"
  done
  say "$line"
done
# per round: wall time per bind of one issuing thread (SECS x threads / binds), CPU per bind
awk -v secs="$SECS" -v procs="$PROCS" '
  { wall[$1, $2] = secs * procs / $3 * 1e6; cpu[$1, $2] = $4 / $3 * 1e6; rate[$1, $2] = $3 / secs; rounds[$1] = 1 }
  END { for (r in rounds) {
    print "rate.none", rate[r, "none"]
    print "wall.none", wall[r, "none"]; print "cpu.none", cpu[r, "none"]
    split("ours bpftrace trace", t, " ")
    for (i = 1; i <= 3; i++) {
      print "rate." t[i], rate[r, t[i]]
      print "wall_added." t[i], wall[r, t[i]] - wall[r, "none"]
      print "cpu_added." t[i], cpu[r, t[i]] - cpu[r, "none"]
    }
    print "wall_less", (wall[r, "ours"] < wall[r, "bpftrace"]) ? 1 : 0
    print "cpu_less", (cpu[r, "ours"] < cpu[r, "bpftrace"]) ? 1 : 0
    if (wall[r, "bpftrace"] != wall[r, "none"])
      print "wall_ratio", (wall[r, "ours"] - wall[r, "none"]) / (wall[r, "bpftrace"] - wall[r, "none"])
    if (cpu[r, "bpftrace"] != cpu[r, "none"])
      print "cpu_ratio", (cpu[r, "ours"] - cpu[r, "none"]) / (cpu[r, "bpftrace"] - cpu[r, "none"])
  } }' "$W/flat" >>"$RES"
# BPF time per bind (from step 2) against the time added: the rest is the uprobe machinery

# --- 4. msmvm-trace: the rate it keeps up with ----------------------------------------------
step 4 "msmvm-trace: events lost by rate (${SWEEP_RUNS} runs per rate)"
# sweep KEY_PREFIX RATES...: msmvm-trace at each rate; --buffer-size $TRACE_BUF if set, the ops
# recorded if TRACE_OPS=1 (--no-ops otherwise: start_tool)
sweep() {
  local pre=$1 rate r s ev dr by rp nops pb
  shift
  for rate in "$@"; do
    for ((r = 1; r <= SWEEP_RUNS; r++)); do
      new_sim
      start_tool trace
      sim_run "$RD/sum.json" "${WL[@]}" --rate "$rate" -d "$SECS"
      stop_tool trace
      s=$(grep -o '[0-9]* events, [0-9]* dropped, [0-9]* bytes' "$RD/trace.err" | tr -d ',')
      read -r ev _ dr _ by _ <<<"$s"
      [ -n "${ev:-}" ] || die "no summary line from msmvm-trace: $(cat "$RD/trace.err")"
      # ops records are events too (8 ops each; a lost one is in the drops like any other)
      nops=$(sed -n 's/.*; \([0-9]*\) of the events are ops records.*/\1/p' "$RD/trace.err")
      nops=${nops:-0}
      # the packets before compression (the summary says it when the file is compressed: by
      # default without the ops)
      pb=$(sed -n 's/.*; \([0-9]*\) bytes of packets before compression.*/\1/p' "$RD/trace.err")
      [ "${TRACE_OPS:-0}" = 1 ] || [ -n "$pb" ] || die "msmvm-trace --no-ops did not compress: $(cat "$RD/trace.err")"
      pb=${pb:-$by}
      [ "${TRACE_OPS:-0}" = 1 ] || [ "$nops" -eq 0 ] || die "msmvm-trace --no-ops recorded $nops ops records"
      [ "${TRACE_OPS:-0}" != 1 ] || [ "$nops" -gt 0 ] || die "msmvm-trace recorded no ops records (with ops)"
      # every bind and every job free is one event: nothing may go missing unsaid. With ops,
      # the drops may hold ops records as well: then the probe events lost are at most the drops.
      if [ $((ev - nops + dr)) -eq $((2 * SIM_BINDS)) ] ||
         { [ "$nops" -gt 0 ] && [ "$dr" -gt 0 ] && [ $((ev - nops + dr)) -gt $((2 * SIM_BINDS)) ] &&
           [ $((ev - nops)) -le $((2 * SIM_BINDS)) ]; }; then
        put "events_accounted" 1
      else
        say "  rate $rate: $((ev - nops)) probe events ($ev events, $nops of them ops records) + $dr dropped: not 2 x $SIM_BINDS binds"
        put "events_accounted" 0
      fi
      if [ "$dr" -eq 0 ]; then	# lossless: the trace must recount the model exactly
        rp=$("$B/msmvm-stat" --replay "$RD/t.perfetto-trace" --json 2>"$RD/replay.err" |
             jq -c '[.totals.binds, .totals.pages_counted, .totals.pages_used]')
        mo=$(jq -c '[.totals.binds, .totals.pages_counted, .totals.pages_used]' "$RD/sum.json")
        if [ "$rp" = "$mo" ]; then
          put "replay_ok" 1
        else
          put "replay_ok" 0
          echo "at $([ "$rate" = 0 ] && echo "flat out" || echo "$((rate * PROCS)) binds/s")$([ "$nops" -gt 0 ] && echo ", with ops"), $ev events, none" \
               "dropped: binds, pages counted, pages used ${rp:-(nothing)} from the trace, $mo from the model" \
               "$(tr '\n' ' ' <"$RD/replay.err" | head -c 300)" | sed 's/ *$//' >>"$W/replay.diffs"
          say "  replay differs from the model: $(tail -n 1 "$W/replay.diffs")"
        fi
        # the file's size per VM_BIND, from lossless recordings only (a lost event is bytes missing)
        put "$pre.bytes_per_bind" "$(calc "$by / $SIM_BINDS")"
        put "$pre.packet_bytes_per_bind" "$(calc "$pb / $SIM_BINDS")"
        put "$pre.ops_per_bind" "$(jq '.totals.ops / .totals.binds' "$RD/sum.json")"
        put "$pre.opsrec_per_bind" "$(calc "$nops / $SIM_BINDS")"
      fi
      put "$pre.$rate.rate" "$(calc "$SIM_BINDS / $SECS")"
      put "$pre.$rate.drop_pct" "$(calc "100 * $dr / ($ev + $dr)")"
      put "$pre.$rate.lossless" "$([ "$dr" -eq 0 ] && echo 1 || echo 0)"
      if [ "$pre" = sweep ]; then
        put "bytes_per_event" "$(calc "$by / $ev")"
        put "packet_bytes_per_event" "$(calc "$pb / $ev")"
        if [ "$rate" = "$RATE_10K" ] && [ "$r" = 1 ]; then
          "$B/bench/tracesize" "$RD/t.perfetto-trace" >"$W/tracesize.json" || die "tracesize failed"
          echo "$ev" >"$W/tracesize.events"
        fi
      fi
      rm -f "$RD/t.perfetto-trace" "$SIM"
    done
    say "  $( [ "$rate" = 0 ] && echo "flat out" || echo "$((rate * PROCS))/s"): reached $(cell "$pre.$rate.rate" 0) binds/s, lost $(cell "$pre.$rate.drop_pct" 2) %"
  done
}
say "  --no-ops:"
TRACE_BUF= TRACE_OPS=0 sweep sweep "${SWEEP_RATES[@]}"
say "  --no-ops --buffer-size $SMALL_BUF (KB):"
TRACE_BUF=$SMALL_BUF TRACE_OPS=0 sweep small "${SMALL_RATES[@]}"
say "  with ops (the default):"
TRACE_BUF= TRACE_OPS=1 sweep ops "${SWEEP_RATES[@]}"
say "  bytes per VM_BIND (lossless runs): $(cell sweep.bytes_per_bind 0) --no-ops, $(cell ops.bytes_per_bind 0) with ops ($(cell ops.ops_per_bind 1) ops each)"

# --- 5. user-space CPU and memory at 10k binds/s --------------------------------------------
step 5 "user-space CPU and RSS at $((RATE_10K * PROCS)) binds/s"
proc_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }	# utime + stime
proc_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }	# on CPU, all threads
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
for tool in stat-1 top alert trace trace-no-ops trace-compressed bpftrace stat-1-mmap; do
  n=$RUNS
  case $tool in trace-no-ops|trace-compressed|bpftrace|stat-1-mmap) n=$SWEEP_RUNS ;; esac	# references, an experiment
  for ((r = 1; r <= n; r++)); do
    new_sim
    TRACE_OPS=1 start_tool "$tool"	# msmvm-trace as it runs by default: with the ops
    [ "$tool" = alert ] && put "attach_ms.alert" "$T_READY_MS"
    [ "$tool" = stat-1 ] && put "attach_self_ms.ours" "$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' "$RD/stat-1.err")" &&
      put "attach_ms.ours" "$T_READY_MS"
    k0=$(proc_ticks "$TPID"); n0=$(proc_ns "$TPID"); t0=$(now_us)
    put "start_cpu_ms.$tool" "$(calc "$k0 * 1000 / $CLK_TCK")"
    sim_run "$RD/sum.json" "${WL[@]}" --rate "$RATE_10K" -d "$SECS"
    k1=$(proc_ticks "$TPID"); n1=$(proc_ns "$TPID"); t1=$(now_us)
    put "cpu_pct.$tool" "$(calc "100 * ($k1 - $k0) / $CLK_TCK / (($t1 - $t0) / 1e6)")"
    put "cpu_ns_pct.$tool" "$(calc "100 * ($n1 - $n0) / 1e9 / (($t1 - $t0) / 1e6)")"
    put "hwm_mib.$tool" "$(calc "$(proc_kb "$TPID" VmHWM) / 1024")"
    put "rss_mib.$tool" "$(calc "$(proc_kb "$TPID" VmRSS) / 1024")"
    put "rate10k.$tool" "$(calc "$SIM_BINDS / $SECS")"
    case $tool in stat-1|alert|trace)	# where their memory is, by mapping
      if [ "$r" = "$n" ]; then
        awk '/^[0-9a-f]+-[0-9a-f]+ / { n = ($6 == "" ? "[anon]" : $6); sub(/.*\//, "", n) }
             /^Rss:/ { rss[n] += $2 }
             END { for (k in rss) if (rss[k] > 0) print rss[k], k }' "/proc/$TPID/smaps" |
          sort -rn >"$W/smaps.${tool%-1}"
      fi ;;
    esac
    stop_tool "$tool"
    case $tool in trace*)	# the file's size per VM_BIND, as each mode writes it
      by=$(grep -o '[0-9]* events, [0-9]* dropped, [0-9]* bytes' "$RD/trace.err" | awk '{ print $5 }')
      [ -n "$by" ] && put "bytes_per_bind.$tool" "$(calc "$by / $SIM_BINDS")" ;;
    esac
    rm -f "$RD/t.perfetto-trace"
  done
  say "  $tool: CPU $(cell "cpu_ns_pct.$tool" 2) % of a core, RSS peak $(cell "hwm_mib.$tool" 1) MiB, model at $(cell "rate10k.$tool" 0) binds/s"
done
# the start-up peak's main part: libbpf parsing the kernel's BTF, in a process of its own
"${CC:-cc}" -O2 -o "$W/btfpeak" tools/bench/btfpeak.c -lbpf 2>"$W/btfpeak.err" ||
  die "cannot build tools/bench/btfpeak.c: $(cat "$W/btfpeak.err")"
"$W/btfpeak" >"$W/btfpeak.json" || die "btfpeak failed"
say "  btf__load_vmlinux_btf alone: $(jq -r '"peak \(.start.hwm_kib / 1024 * 10 | round / 10) -> \(.loaded.hwm_kib / 1024 * 10 | round / 10) MiB"' "$W/btfpeak.json")"

# --- 6. where msmvm-stat's start-up time goes (uprobes on its own libmsmvm and libbpf calls) --
step 6 "start-up: time in libmsmvm and libbpf, msmvm-stat with bpftrace watching"
new_sim
mkdir -p "$RD/lib"
cp "$LIBBPF" "$RD/lib/"
cp "$B/msmvm-stat" "$RD/msmvm-stat"
LB=$RD/lib/$(basename "$LIBBPF")
{
  for f in msmvm_open msmvm_probe_sim msmvm_load msmvm_attach; do	# @in: inside msmvm_probe_sim
    echo "uprobe:$RD/msmvm-stat:$f { @s[tid, \"$f\"] = nsecs; $([ $f = msmvm_probe_sim ] && echo '@in[tid] = 1;') }"
    echo "uretprobe:$RD/msmvm-stat:$f /@s[tid, \"$f\"]/ { @ms[\"$f\"] = sum((nsecs - @s[tid, \"$f\"]) / 1000); delete(@s[tid, \"$f\"]); $([ $f = msmvm_probe_sim ] && echo 'delete(@in[tid]);') }"
  done
  # btf__find_by_name_kind and btf__add_type inside msmvm_probe_sim only (libbpf calls the first
  # itself elsewhere): the kernel types the model flavor needs, looked up and copied one by one
  # into the merged BTF. Every call counted.
  for f in btf__load_vmlinux_btf btf__parse_elf btf__find_by_name_kind btf__add_type btf__add_btf \
           bpf_object__open_skeleton bpf_object__load; do
    case $f in btf__find_by_name_kind|btf__add_type) pred='/@in[tid]/ ' ;; *) pred= ;; esac
    echo "uprobe:$LB:$f $pred{ @s[tid, \"$f\"] = nsecs; @n[\"$f\"] = count(); }"
    echo "uretprobe:$LB:$f /@s[tid, \"$f\"]/ { @ms[\"$f\"] = sum((nsecs - @s[tid, \"$f\"]) / 1000); delete(@s[tid, \"$f\"]); }"
  done
} >"$RD/startup.bt"
launch_bt startup "$RD/startup.bt"
LD_LIBRARY_PATH=$RD/lib "$RD/msmvm-stat" --sim="$SIM" -d 0.2 >/dev/null 2>"$RD/self.err" ||
  die "msmvm-stat failed: $(cat "$RD/self.err")"
STARTUP_SELF=$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' "$RD/self.err")
stop_bt >/dev/null
jq -c 'select(.type == "map") | .data["@ms"] // empty | to_entries | map({key, value: (.value / 1000)}) | from_entries' \
  "$RD/startup.out" >"$W/startup.json" 2>/dev/null || echo '{}' >"$W/startup.json"
[ -s "$W/startup.json" ] || echo '{}' >"$W/startup.json"
jq -c 'select(.type == "map") | .data["@n"] // empty' "$RD/startup.out" >"$W/startup.calls.json" 2>/dev/null ||
  echo '{}' >"$W/startup.calls.json"
[ -s "$W/startup.calls.json" ] || echo '{}' >"$W/startup.calls.json"
say "  msmvm-stat said $STARTUP_SELF ms; $(jq -r 'to_entries | map("\(.key) \(.value | floor) ms") | join(", ")' "$W/startup.json")"

# --- 7. the model's default job cost: how noisy its flat-out rate is here -------------------
step 7 "noise: the model flat out with its default 50 us job cost, no tool"
for ((r = 1; r <= SWEEP_RUNS; r++)); do
  new_sim
  sim_run "$RD/sum.json" -w sparse -P "$PROCS" -d "$SECS"
  put "noise.default" "$(calc "$SIM_BINDS / $SECS")"
  new_sim
  sim_run "$RD/sum.json" "${WL[@]}" -d "$SECS"
  put "noise.bench" "$(calc "$SIM_BINDS / $SECS")"
done
say "  default job cost: $(cell noise.default 0) binds/s; --job-cost 0: $(cell noise.bench 0) binds/s"

# --- 8. msmvm-tune on a storm trace of about 30 MB, against its budget ----------------------
step 8 "msmvm-tune on a storm trace of about 30 MB (budget: under 2 s wall)"
BUILD=$B BENCH_RUNS=$RUNS BENCH_RES=$RES bash tools/bench/tune.sh ||
  say "  (msmvm-tune: over its budget, or the step failed: see above)"

# --- 9, 10. the guests: the kernel twin (x86), the real msm.ko (arm64) ------------------------
source tools/bench/guest.sh
if [ "$GUEST" = 1 ]; then
  step 9 "the x86 guest: msmvm-stat and bpftrace on the kernel twin, kprobes and fentry/kfunc ($RUNS rounds)"
  guest_x86
  [ "$GUEST_X86" = ran ] || say "  x86 guest $GUEST_X86"
  step 10 "the arm64 guest: msmvm-stat's start on the real msm.ko ($RUNS runs per attach kind)"
  guest_arm64
  [ "$GUEST_ARM64" = ran ] || say "  arm64 guest $GUEST_ARM64"
fi

read -r -a CPU1 < <(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6, $9 }' /proc/stat)
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(( $(date +%s) - T_BEGIN ))
# CPU the machine spent (busy jiffies) against what this bench's own processes used
times >"$W/times"	# in this shell: its own CPU and that of every child it waited for
SELF1=$(awk '{ for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } } END { print s }' "$W/times")
MACHINE_BUSY=$(calc "(${CPU1[0]} - ${CPU0[0]}) / $CLK_TCK")
MACHINE_TOTAL=$(calc "(${CPU1[0]} - ${CPU0[0]} + ${CPU1[1]} - ${CPU0[1]}) / $CLK_TCK")
STEAL=$(calc "(${CPU1[2]} - ${CPU0[2]}) / $CLK_TCK")
OTHERS_PCT=$(calc "100 * ($MACHINE_BUSY - $SELF1) / $MACHINE_TOTAL")
[ "$(awk -v x="$OTHERS_PCT" 'BEGIN { print (x < 0) }')" = 1 ] && OTHERS_PCT=0

# ==========================================================================================
# The table and the document
if [ -n "${BENCH_KEEP:-}" ]; then	# the variables and functions report.sh uses, and the files
  for v in RATE_10K $(cat tools/bench/report.sh tools/bench/report-guest.sh | grep -o '\$[{]\?[A-Za-z_][A-Za-z0-9_]*' | tr -d '${' | sort -u); do
    case $v in W|RES|DOC) ;; *) declare -p "$v" 2>/dev/null ;; esac
  done >"$W/state.sh"
  declare -f >>"$W/state.sh"
  mkdir -p "$BENCH_KEEP" && find "$W" -maxdepth 1 -type f -exec cp {} "$BENCH_KEEP"/ \; ||
    say "bench: cannot keep the results in $BENCH_KEEP"
fi
mkdir -p "$(dirname "${DOC:-.}")"
source tools/bench/report.sh

# --- docs/PERFORMANCE.md: only when asked, and only from a quiet machine ------------------
# Quiet: at the start, the 1-minute load average at most half the CPUs (nothing else running),
# and during the bench, other processes used at most 10 % of the machine's CPU time (measured
# from /proc/stat against the bench's own time, the "load" row of the report).
QUIET_WHY=
awk -v l="${LOAD0%% *}" -v n="$(nproc)" 'BEGIN { exit !(l <= n / 2) }' ||
  QUIET_WHY="load average ${LOAD0%% *} at the start, over half of $(nproc) CPUs"
awk -v o="$OTHERS_PCT" 'BEGIN { exit !(o <= 10) }' ||
  QUIET_WHY="${QUIET_WHY:+$QUIET_WHY; }other processes used $(num "$OTHERS_PCT" 0) % of the CPU time during the bench (more than 10 %)"
COMMITTED=docs/PERFORMANCE.md
if [ -z "$DOC" ] || [ ! -f "$DOC" ]; then
  :
elif [ "$UPDATE" = 0 ]; then
  say "bench: $COMMITTED left as it is (make bench BENCH_UPDATE=1 replaces it with $DOC)"
elif [ -n "$QUIET_WHY" ] && [ "$UPDATE" != force ]; then
  say "bench: $COMMITTED left as it is: the machine was not quiet ($QUIET_WHY); BENCH_UPDATE=force replaces it anyway"
else
  cp "$DOC" "$COMMITTED.tmp" && mv "$COMMITTED.tmp" "$COMMITTED" || die "cannot write $COMMITTED"
  say "bench: $COMMITTED replaced by $DOC${QUIET_WHY:+ (forced: $QUIET_WHY)}"
fi
