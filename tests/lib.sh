# Sourced by the test scripts: the TAP-like lines run-tests.sh counts, and msmvm-trace in the
# background. The caller sets TRACE (the msmvm-trace binary), SIM (its private msmvm-sim
# copy: uprobes bind to the file's inode) and tmp (a scratch directory).

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do printf '%s\n' "$l" | head -20 | sed 's/^/#   /'; done; }

# start_rec ARGS...: msmvm-trace --sim in the background, once attached (rec_pid, $tmp/rec.err)
start_rec() {
  # emptied first: until the forked shell runs the redirection, the file still says the
  # previous recording's "attached", and the wait below would not wait
  : >"$tmp/rec.err"
  "$TRACE" --sim="$SIM" "$@" 2>"$tmp/rec.err" &
  rec_pid=$!
  for _ in $(seq 200); do
    grep -q attached "$tmp/rec.err" && return 0
    kill -0 "$rec_pid" 2>/dev/null || break
    sleep 0.05
  done
  return 1
}

# stop_rec [SIGNAL]: stop it, its exit status in rec_rc
stop_rec() {
  kill -"${1:-INT}" "$rec_pid" 2>/dev/null
  { wait "$rec_pid"; } 2>/dev/null
  rec_rc=$?
  rec_pid=
}
