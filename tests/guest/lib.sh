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

# guest_ready NAME: true when the kernel flavor can run here; else says why (skip) and fails
guest_ready() {
  if [ "$(id -u)" -ne 0 ]; then
    skip "$1" "needs root"; return 1
  fi
  # another test may have unloaded it: msmvm-sim run --kernel loads it again (tools attach
  # before the run, so it must be there first)
  if [ ! -e "/sys/module/$TWIN" ] && [ -n "${MSMVM_GUEST:-}" ]; then
    "$SIM" run --kernel -w sparse -n 1 -o /dev/null 2>/dev/null
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

# attach_args MODE: the tools' options for an attach mode in KARGS (auto: none, the tools'
# default: fentry where the kernel allows it). No --module: the tools find the twin
# (msm_kmodel) by themselves when msm is not loaded.
attach_args() {
  KARGS=()
  [ "${1:-auto}" = auto ] || KARGS+=("--attach=$1")
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

# krun OUT CHECK ARGS...: msmvm-sim run --kernel ARGS, its summary in OUT, stderr in
# OUT.err; CHECK, a jq condition on its totals, says the run shows what the case is about.
# Sets run_note (its figures) and run_pids; fails, saying why, when the run does or CHECK
# does not hold. (One jq: each start of it takes most of a second in the emulated guest.)
krun() {
  local out=$1 check=$2 r
  shift 2
  run_note= run_pids=
  if ! "$SIM" run --kernel "$@" -o "$out" 2>"$out.err"; then
    echo "msmvm-sim run --kernel $* failed:"; tail -n 20 "$out.err"
    return 1
  fi
  r=$(jq -r '.totals as $t | [.processes[].pid | tostring] as $p |
      if ($t | '"$check"') then "yes \($p | join(",")) binds \($t.binds), waits \($t.waits), interrupted \($t.interrupted_waits), drift \($t.drift), peak \($t.peak_in_flight)"
      else "no \($t | tojson)" end' "$out" 2>&1)
  case $r in
    yes\ *) r=${r#yes }; run_pids=${r%% *}; run_pids=${run_pids//,/ }; run_note=${r#* } ;;
    *) echo "the run does not show what the case is about ($check): ${r#no }"; return 1 ;;
  esac
}

# The twin's summary against a tool's figures: stat_compare (tests/lib.sh), stat_sim.sh's rule:
# every counter exactly, in total, per process (by pid) and per VM (by address), wait times
# within 2% + 100 us per wait + the run delay.

# top_as_stat FRAMES OUT: msmvmtop's last JSON frame reshaped as msmvm-stat's final line (its
# VMs under their process), for stat_compare; fails when a line of FRAMES is not JSON
top_as_stat() {
  jq -sc '. as $all | last as $f
    | {totals: $f.totals, frames: ($all | length),
       processes: [$f.processes[] | . as $p | $p + {vms: [$f.vms[] | select(.pid == $p.pid)]}]}' \
    "$1" >"$2" 2>&1
}

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

