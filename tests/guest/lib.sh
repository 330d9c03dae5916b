# Sourced by the guest's end-to-end tests of the kernel flavor (tests/guest/*_kernel.sh,
# twin_vs_model.sh). They run inside the guest (tools/guest/run), as root, from the project
# root, with the kernel twin msm_kmodel loaded. The caller sets tmp (a scratch directory).
#
# Ground truth is the twin's: `msmvm-sim run --kernel` prints the model's summary built from
# the twin's debugfs lines (docs/kmodel.md), never from a tool's own output.

. tests/lib.sh	# pass, fail

B=${BUILD:-build}
SIM=$B/msmvm-sim
STAT=$B/msmvm-stat
TOP=$B/msmvmtop
TRACE=$B/msmvm-trace
ALERT=$B/msmvm-alert
TWIN=msm_kmodel

skip() { echo "skip $1${2:+ # $2}"; }

# The tools find the twin by themselves once they know it (auto-detection comes with
# --attach); before that it is named with --module.
if "$STAT" --help 2>&1 | grep -q -- '--attach'; then
  KTARGET=()
  HAVE_ATTACH=1
else
  KTARGET=(--module "$TWIN")
  HAVE_ATTACH=0
fi

# guest_ready NAME: true when the kernel flavor can run here; else says why (skip) and fails
guest_ready() {
  if [ "$(id -u)" -ne 0 ]; then
    skip "$1" "needs root"; return 1
  fi
  if [ ! -e "/sys/module/$TWIN" ]; then
    skip "$1" "the kernel twin $TWIN is not loaded: run inside tools/guest/run"; return 1
  fi
  if [ ! -e "/sys/kernel/btf/$TWIN" ]; then
    skip "$1" "$TWIN is loaded without BTF"; return 1
  fi
  for c in jq "$SIM" "$STAT"; do
    command -v "$c" >/dev/null || { skip "$1" "$c is missing"; return 1; }
  done
}

# attach_args MODE: the tools' options for an attach mode ("" or auto: the tools' default)
attach_args() {
  KARGS=("${KTARGET[@]}")
  case ${1:-auto} in
    auto) ;;
    *) KARGS+=("--attach=$1") ;;
  esac
}

# wait_for FILE PATTERN PID SECS: until FILE matches PATTERN (grep -E); fails when PID dies
# first or SECS pass
wait_for() {
  local end=$((SECONDS + $4))
  while [ "$SECONDS" -le "$end" ]; do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { grep -qE "$2" "$1" 2>/dev/null; return; }
    sleep 0.1
  done
  return 1
}

# kstop PID [SIGNAL]: stop a tool started in the background, its exit status in krc
kstop() {
  kill -"${2:-INT}" "$1" 2>/dev/null
  { wait "$1"; } 2>/dev/null
  krc=$?
}

# krun OUT ARGS...: msmvm-sim run --kernel ARGS, its summary in OUT, stderr in OUT.err;
# fails (and says why on stdout, as comment lines) when the run does
krun() {
  local out=$1; shift
  if ! "$SIM" run --kernel "$@" -o "$out" 2>"$out.err"; then
    echo "msmvm-sim run --kernel $* failed:"; tail -n 20 "$out.err"
    return 1
  fi
  if ! jq -e '.totals.binds > 0' "$out" >/dev/null 2>&1; then
    echo "msmvm-sim run --kernel $* gave no binds:"; head -c 600 "$out"
    return 1
  fi
}

# The counters compared exactly, tool against twin (stat_sim.sh's list).
EXACT='["binds","ops","errors","pages_counted","pages_used","pages_overcount","waits",
        "interrupted_waits","peak_in_flight","in_flight","drift"]'

# The comparison, in jq, as tests/stat_sim.sh's: one line per mismatch, nothing when all
# agree: totals, per process (by pid) and per VM (by address); wait times within
# 2% + 100 us per wait + the process's run delay, exact otherwise. $t is the tool's
# {totals, processes: [{pid, comm, totals, vms: [{addr, totals}]}]}, $m the summary.
read -r -d '' SUMMARY_CMP <<'JQ'
def addr: ascii_downcase | ltrimstr("0x") | sub("^0+"; "");
def cmp($where; $a; $b; $delay):
  ($exact[] as $k | select($a[$k] != $b[$k]) | "\($where) \($k): \($tool) \($a[$k]), twin \($b[$k])"),
  ($waits[] as $k
     | select((($a[$k] - $b[$k]) | fabs) > ($b[$k] * 0.02 + 100000 * ([$b.waits, 1] | max) + $delay))
     | "\($where) \($k): \($tool) \($a[$k]), twin \($b[$k]) (beyond tolerance; run delay \($delay) ns)");
$t as $s | $m as $m |
cmp("totals"; $s.totals; $m.totals; ([$m.processes[].run_delay_ns // 0] | add)),
($m.processes[] as $mp |
  ([$s.processes[] | select(.pid == $mp.pid)] | first) as $sp |
  if $sp == null then "process \($mp.pid) (\($mp.comm)) missing from \($tool)"
  else
    (if $sp.comm != $mp.comm then "process \($mp.pid): comm \($sp.comm) != \($mp.comm)" else empty end),
    cmp("process \($mp.pid)"; $sp.totals; $mp.totals; $mp.run_delay_ns // 0),
    ($mp.vms[] as $mv |
      ([$sp.vms[] | select((.addr | addr) == ($mv.addr | addr))] | first) as $sv |
      if $sv == null then "process \($mp.pid) vm \($mv.addr) missing from \($tool)"
      else cmp("process \($mp.pid) vm \($mv.addr)"; $sv.totals; $mv.totals; $mp.run_delay_ns // 0) end)
  end),
($s.processes[] | select(.totals.binds > 0) | .pid as $p
  | select([$m.processes[] | select(.pid == $p)] | length == 0)
  | "process \($p) (\(.comm)) in \($tool) but not in the run")
JQ

# summary_cmp TOOLNAME TOOLJSON SUMMARY [EXACT [WAITS]]: mismatches of a tool's final object
# (stat's "final" line, or any object of that shape) against the twin's summary; WAITS: the
# wait-time counters held to the tolerance (default both; '[]' for none)
summary_cmp() {
  jq -rn --arg tool "$1" --slurpfile t "$2" --slurpfile m "$3" --argjson exact "${4:-$EXACT}" \
    --argjson waits "${5:-[\"wait_ns_total\",\"wait_ns_max\"]}" \
    '$t[0] as $t | $m[0] as $m | '"$SUMMARY_CMP" 2>&1
}

# top_as_stat: msmvmtop's JSON frame reshaped as msmvm-stat's final object (VMs under
# their process)
read -r -d '' TOP_AS_STAT <<'JQ'
. as $f | {totals, processes: [.processes[] | . as $p | $p + {vms: [$f.vms[] | select(.pid == $p.pid)]}]}
JQ

# free_port: a TCP port nothing listens on (from /proc/net/tcp, no other tool needed)
free_port() {
  local used p
  used=$(awk 'NR > 1 && $4 == "0A" {n = split($2, a, ":"); print a[n]}' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
         while read -r h; do echo $((16#$h)); done)
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    printf '%s\n' $used | grep -qx "$p" || { echo "$p"; return 0; }
  done
  return 1
}

# elapsed: seconds since the script began, for the timing note of each case
elapsed() { echo "${SECONDS}s"; }
