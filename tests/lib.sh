# Sourced by the test scripts: the TAP-like lines run-tests.sh counts, and msmvm-trace in the
# background. The caller sets TRACE (the msmvm-trace binary), SIM (its private msmvm-sim
# copy: uprobes bind to the file's inode) and tmp (a scratch directory).

# pass NAME [NOTE], fail NAME DIAGNOSTIC...: the lines run-tests.sh counts. fail also counts
# into $failed (a script ends with [ "$failed" -eq 0 ]) and shows at most FAIL_LINES (default
# 20) lines of each diagnostic.
failed=${failed:-0}
pass() { echo "ok $1${2:+ # $2}"; }
fail() {
  echo "not ok $1"
  shift
  local l
  for l in "$@"; do
    printf '%s\n' "$l" | head -"${FAIL_LINES:-20}" | sed 's/^/#   /'
  done
  failed=$((failed + 1))
}

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

# The rule as jq definitions, for a script that compares many reports in one jq (each start of
# jq takes most of a second in the emulated guest): stat_cmp(STAT; SUMMARY; TRUTH; SCOPE), one
# string per mismatch; summary_merge(SUMMARIES), an array merged as summary_merge does.
STAT_CMP_JQ='
def exact: ["binds","ops","errors","pages_counted","pages_used","pages_overcount","waits",
            "interrupted_waits","in_flight","drift"];
# peak_in_flight: a sample, so a bound. Another thread frees a job (drm_sched'"'"'s kworker, the
# model'"'"'s scheduler thread) between the probe before its sub and its sub, with an add in
# between, and no probe sees the true peak (docs/probes.md): never above the truth. Against
# the twin that is all; against the model, whose frees race less, also within 2 % of it
# (seen once in hundreds of loaded runs: 1161 for 1163): a wrong field or offset is far off.
def peak_ok($truth; $a; $b):
  if $truth == "twin" or ($ENV.PEAK_LOWER_BOUND // "0") == "1" then $a <= $b
  else $a <= $b and $a >= $b - ($b * 0.02 | floor) end;
def cmp($truth; $where; $a; $b; $delay):
  (exact[] as $k | select($a[$k] != $b[$k]) | "\($where) \($k): probes \($a[$k]), \($truth) \($b[$k])"),
  (select(peak_ok($truth; $a.peak_in_flight; $b.peak_in_flight) | not)
     | "\($where) peak_in_flight: probes \($a.peak_in_flight), \($truth) \($b.peak_in_flight)\(if $truth == "twin" then " (above the truth)" else " (above it, or more than 2 % below)" end)"),
  (["wait_ns_total","wait_ns_max"][] as $k
     | select((($a[$k] - $b[$k]) | fabs) > ($b[$k] * 0.02 + 100000 * ([$b.waits, 1] | max) + $delay))
     | "\($where) \($k): probes \($a[$k]), \($truth) \($b[$k]) (beyond tolerance; run delay \($delay) ns)");
def stat_cmp($s; $m; $truth; $scope):
  (select($scope != "processes") | cmp($truth; "totals"; $s.totals; $m.totals; ([$m.processes[].run_delay_ns // 0] | add))),
  (select($scope != "totals") | $m.processes[] as $mp |
    ([$s.processes[] | select(.pid == $mp.pid)] | first) as $sp |
    # (a process that made no VM_BIND call, say one a loaded machine started late, has
    # nothing for the probes to see)
    if $sp == null then
      (if $mp.totals.binds == 0 then empty
       else "process \($mp.pid) (\($mp.comm)) missing from msmvm-stat" end)
    else
      (if $sp.comm != $mp.comm then "process \($mp.pid): comm \($sp.comm) != \($mp.comm)" else empty end),
      cmp($truth; "process \($mp.pid)"; $sp.totals; $mp.totals; $mp.run_delay_ns // 0),
      ($mp.vms[] as $mv |
        ([$sp.vms[] | select(.addr == $mv.addr)] | first) as $sv |
        if $sv == null then "process \($mp.pid) vm \($mv.addr) missing"
        else cmp($truth; "process \($mp.pid) vm \($mv.addr)"; $sv.totals; $mv.totals; $mp.run_delay_ns // 0) end)
    end);
def summary_merge($sums):
  {limit: $sums[0].limit, workload: "merged", seed: 0, processes: [$sums[].processes[]],
   totals: (reduce ($sums[].totals | to_entries[]) as $e ({};
              .[$e.key] = if ($e.key == "wait_ns_max" or $e.key == "peak_in_flight")
                          then ([.[$e.key] // $e.value, $e.value] | max)
                          else (.[$e.key] // 0) + $e.value end))};
'

# stat_compare STAT_JSON SUMMARY_JSON TRUTH: msmvm-stat's final JSON line (the last of
# STAT_JSON) against msmvm-sim run's summary (TRUTH names whose: model, or the twin for
# --kernel), in total, per process (by pid) and per VM (by addr). Prints one line per
# mismatch, nothing when all agree. Every counter exactly, except peak_in_flight against the
# twin (never above it: on the kernel the probes' peak is a lower bound) and the wait times: the probes
# time vm_bind_prealloc_count from outside (entry to return probe), the ground truth from
# inside, so |probe - truth| <= 2% + 100 us per wait + the time the process's queue threads
# waited for a CPU (run_delay_ns in the summary: a thread preempted between the probe and
# the truth's own clock read widens the gap by that much, on a loaded machine only).
# SCOPE (optional): all (default), totals (only the totals), processes (only the processes
# of the summary and their VMs, for a msmvm-stat that watched more runs than this one).
# (The stat line comes on stdin, not through <(...): the guest has no /dev/fd.)
# PEAK_LOWER_BOUND=1: peak_in_flight against the model as a lower bound only, as against the
# twin (for runs whose jobs cost nothing: the scheduler frees during the return probe's trap,
# between the add and the probe that samples it, by more than the 2 %).
stat_compare() {
  tail -n 1 "$1" | jq -r --arg truth "$3" --arg scope "${4:-all}" --slurpfile sum "$2" \
    "$STAT_CMP_JQ"' stat_cmp(.; $sum[0]; $truth; $scope)' 2>&1
}

# summary_merge SUMMARY...: one summary of several runs, as msmvm-stat watching all of them
# counts it: their processes side by side, totals summed (wait_ns_max, peak_in_flight: max).
summary_merge() {
  jq -s "$STAT_CMP_JQ"' summary_merge(.)' "$@"
}

# --- options as --help names them (tests/man.sh, tests/docs_options.sh)

# help_facts TOOL: TOOL's --help text on stdin. Long options: every --name in it (an option
# the text names exists; msmvm-sim's run --help names --burst-len only inline), except on a
# line after the name of another msmvm tool ("msmvm-stat --replay FILE" in msmvm-trace's
# examples is msmvm-stat's). Short forms: the option rows ("  -x, --long..."), where argp and
# msmvm-sim pair them. Arguments: every "--long=ARG", "--long[=ARG]", or "--long ARG" with
# ARG in capitals (PAGES, STALL_MS/WINDOW_MS, ADDR:PORT).
MSMVM_TOOLS="msmvm-stat msmvmtop msmvm-trace msmvm-alert msmvm-tune msmvm-sim"
help_facts() {
  local text t
  text=$(cat)
  for t in $MSMVM_TOOLS; do
    [ "$t" = "$1" ] && continue
    text=$(sed -E "s/(^|[^[:alnum:]-])$t([^[:alnum:]-].*|\$)/\1/" <<<"$text")
  done
  grep -oE -- '--[[:alnum:]][[:alnum:]-]*' <<<"$text" | sed -E 's/-+$//; s/^/L /'
  grep -E '^ *-[[:alnum:]?], --[[:alnum:]]' <<<"$text" |
    sed -E 's/^ *(-.), (--[[:alnum:]][[:alnum:]-]*).*/S \1 \2/'
  grep -oE -- '--[[:alnum:]][[:alnum:]-]*(=[^][:space:][]+|\[=[^][:space:]]+\])' <<<"$text" |
    sed -E 's/^(--[^=[]+)\[=(.*)\]$/A \1 [\2]/; s/^(--[^=]+)=(.*)$/A \1 \2/'
  grep -oE -- '--[[:alnum:]][[:alnum:]-]* [A-Z][A-Z0-9_/|:]*([^[:alnum:]]|$)' <<<"$text" |
    sed -E 's/[^[:alnum:]]$//; s/[:]+$//; s/^/A /'
}

# tool_help BUILD TOOL: TOOL's --help (msmvm-sim: its own and each command's) on stdout;
# status 1 when one of them fails
tool_help() {
  local sub rc=0
  if [ "$2" = msmvm-sim ]; then
    for sub in "" run count; do
      # shellcheck disable=SC2086
      timeout 30 "$1/$2" $sub --help 2>&1 || rc=1
    done
  else
    timeout 30 "$1/$2" --help 2>&1 || rc=1
  fi
  return $rc
}

# alert_config_keys ALERT DIR: the long options of ALERT's --help that its config parser takes
# as keys (asked of --check-config: a key is one that some value makes valid), one a line.
# Options refused with every value, but not as an unknown key, go to DIR/undecided.
alert_config_keys() {
  local alert=$1 d=$2 long key v rc
  # a value of each kind the options take
  local values=(1 yes 100/1000 127.0.0.1:9464 "$d" /bin/true)
  : >"$d/undecided"
  while IFS= read -r long; do
    key=${long#--}
    for v in "${values[@]}"; do
      printf '%s = %s\n' "$key" "$v" >"$d/k.conf"
      # a metrics output on the command line, so that a non-trigger key alone is something to do
      timeout 30 "$alert" --config "$d/k.conf" --textfile "$d/k.prom" --check-config \
        >/dev/null 2>"$d/k.err"
      rc=$?
      [ $rc -eq 0 ] && { echo "$key"; continue 2; }
    done
    grep -q "unknown key" "$d/k.err" ||
      echo "$key: refused with every value tried, but not as an unknown key: $(cat "$d/k.err")" \
        >>"$d/undecided"
  done < <("$alert" --help 2>&1 | help_facts msmvm-alert | grep '^L ' | cut -c3- | sort -u)
}
