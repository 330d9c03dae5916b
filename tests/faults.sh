#!/usr/bin/env bash
# Faults (issue #8): what the tools do when things go wrong around them.
#
#   model_crash_*          a workload process of the model dies (SIGSEGV) mid-run: msmvm-stat,
#                          msmvm-trace and msmvm-alert keep going, report the other processes
#                          exactly, and the model names the failed process
#   not_root_*             every tool run as nobody: exit 1 (documented), the missing
#                          capability named, nothing created; and with only CAP_BPF
#   corrupt_btf_*          truncated, empty and header-only --btf files: a clear error, exit 1
#   ring_sigkill_*         msmvm-trace --ring killed with SIGKILL right after a SIGUSR1: every
#                          file it leaves decodes (up to its whole packets) and replays
#   ring_disk_full         a flight-recorder dump onto a full tmpfs: a clear error, exit 1, the
#                          dump cut back to whole packets
#   no_probe_left_*        after each tool ends (by itself, SIGTERM, SIGINT, an error after
#                          attaching, SIGKILL), none of its BPF programs, links or uprobes
#                          remain in the kernel
#
# Covered elsewhere, not repeated here:
#   SIGKILL of the recorder              tests/trace_sim.sh  sigkill_leaves_whole_packets
#   disk full while recording            tests/trace_sim.sh  disk_full_keeps_the_file_valid
#   ring buffer overflow counted         tests/trace_sim.sh  overload_counts_add_up
#   msmvm-stat not root                  tests/stat_cli.sh   stat_not_root
#   a --btf file of random bytes         tests/stat_cli.sh   stat_corrupt_btf
#
# Each case uses its own copy of the model: uprobes bind to the file's inode, so runs of other
# tests or tools on this machine neither add to nor take from what these see.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${BUILD:-build}
STAT=$(realpath "$B/msmvm-stat")
TOP=$(realpath "$B/msmvmtop")
TRACE=$(realpath "$B/msmvm-trace")
ALERT=$(realpath "$B/msmvm-alert")
CHECK=$(realpath "$B/tests/test_trace")

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do printf '%s\n' "$l" | head -20 | sed 's/^/#   /'; done; }

if [ "$(id -u)" -ne 0 ]; then
  echo "skip faults # needs root (uprobes, tmpfs, setpriv)"
  exit 0
fi
for c in bpftool jq setpriv; do
  command -v $c >/dev/null || { echo "skip faults # $c is not installed (tools/deps.sh)"; exit 0; }
done
have_protoc=1
command -v protoc >/dev/null || have_protoc=0

tmp=$(mktemp -d)
bg_pids=()	# every process started in the background here, killed by pid at exit
cleanup() {
  local p
  for p in "${bg_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  mountpoint -q "$tmp/full" 2>/dev/null && umount "$tmp/full"
  rm -rf "$tmp"
}
trap cleanup EXIT
chmod 0755 "$tmp"

# model NAME: a private copy of the model for one case, its path on stdout
model() {
  mkdir -p "$tmp/$1"
  cp "$B/msmvm-sim" "$tmp/$1/msmvm-sim"
  echo "$tmp/$1/msmvm-sim"
}

# wait_for FILE PATTERN [TENTHS]: until PATTERN shows in FILE (default 10 s)
wait_for() {
  local i
  for ((i = 0; i < ${3:-100}; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# decode FILE [--allow-open]: protoc + trace_processor's rules (as tests/trace_sim.sh)
decode() {
  local f=$1; shift
  [ "$have_protoc" = 1 ] || return 0
  protoc --decode=perfetto.protos.Trace -I "$ROOT/tests" "$ROOT/tests/trace.proto" <"$f" >"$f.txt" 2>"$f.perr" ||
    { echo "protoc cannot decode $f: $(head -c 300 "$f.perr")"; return 1; }
  "$CHECK" check "$@" "$f.txt" >"$f.chk" 2>"$f.cerr" ||
    { echo "trace_processor's rules broken in $f: $(head -c 300 "$f.cerr")"; return 1; }
}

# ---------------------------------------------------------------- non-root
# A copy others may run (0755 in a 0755 directory), run as nobody: exit 1 (each tool's
# documented runtime-error status), the missing capabilities named, nothing created.
NP=$tmp/np
mkdir -p "$NP/out"
chmod 0755 "$NP"
chmod 0777 "$NP/out"
for t in msmvmtop msmvm-trace msmvm-alert msmvm-stat msmvm-sim; do install -m 0755 "$B/$t" "$NP/$t"; done
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# not_root NAME COMMAND...
not_root() {
  local name=$1; shift
  "$@" >"$tmp/nr.out" 2>"$tmp/nr.err" </dev/null
  local rc=$? err
  err=$(cat "$tmp/nr.err")
  if [ "$rc" -ne 1 ]; then
    fail "$name" "exit $rc, expected 1 (runtime error)" "$err"
  elif ! grep -q 'missing capability CAP_BPF and CAP_PERFMON' "$tmp/nr.err"; then
    fail "$name" "the error does not name CAP_BPF and CAP_PERFMON:" "$err"
  elif [ "$(wc -l <"$tmp/nr.err")" -ne 1 ] || [ -s "$tmp/nr.out" ]; then
    fail "$name" "expected one line on stderr and nothing on stdout:" "$err" "$(head -c 200 "$tmp/nr.out")"
  elif [ -n "$(ls -A "$NP/out")" ]; then
    fail "$name" "created $(ls "$NP/out")"
  else
    pass "$name" "$err"
  fi
}
not_root not_root_msmvmtop as_nobody "$NP/msmvmtop" --sim="$NP/msmvm-sim" -b -n 1
not_root not_root_msmvm_trace as_nobody "$NP/msmvm-trace" --sim="$NP/msmvm-sim" -o "$NP/out/t.perfetto-trace" -d 1
not_root not_root_msmvm_alert as_nobody "$NP/msmvm-alert" --sim="$NP/msmvm-sim" --stall 100/1000 \
  --textfile "$NP/out/m.prom"
# Half the privileges: only the one missing is named.
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+bpf --ambient-caps=-all,+bpf \
  "$NP/msmvm-stat" --sim="$NP/msmvm-sim" -d 1 >/dev/null 2>"$tmp/nr.err"
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'missing capability CAP_PERFMON:' "$tmp/nr.err"; then
  pass not_root_with_cap_bpf_only "$(cat "$tmp/nr.err")"
else
  fail not_root_with_cap_bpf_only "exit $rc" "$(cat "$tmp/nr.err")"
fi

# ---------------------------------------------------------------- corrupt --btf
xz -dc tests/fixtures/btf/debian-6.17.13-arm64.btf.xz >"$tmp/good.btf"
head -c 20000 "$tmp/good.btf" >"$tmp/truncated.btf"
: >"$tmp/empty.btf"
head -c 24 "$tmp/good.btf" >"$tmp/header-only.btf"
for kind in truncated empty header-only; do
  "$STAT" --dry-run --btf "$tmp/$kind.btf" >/dev/null 2>"$tmp/btf.err"
  rc=$?
  if [ "$rc" -eq 1 ] && grep -q "cannot read BTF from '$tmp/$kind.btf'" "$tmp/btf.err"; then
    pass "corrupt_btf_${kind//-/_}" "$(head -c 160 "$tmp/btf.err")"
  else
    fail "corrupt_btf_${kind//-/_}" "exit $rc (expected 1, a clear error)" "$(cat "$tmp/btf.err")"
  fi
done

# ---------------------------------------------------------------- model crash
# Three workload processes; one is killed with SIGSEGV a second in. msmvm-stat (interval
# lines), msmvm-trace and msmvm-alert (textfile) stay attached through it; afterwards the two
# surviving processes' counters equal the model's summary exactly, in all three.
SIM=$(model crash)
cd "$tmp/crash" || exit 1
"$STAT" --sim="$SIM" --json 0.5 >stat.json 2>stat.err &
stat_pid=$!; bg_pids+=("$stat_pid")
"$TRACE" --sim="$SIM" -o crash.perfetto-trace 2>trace.err &
trace_pid=$!; bg_pids+=("$trace_pid")
"$ALERT" --sim="$SIM" --stall 100/1000 --textfile crash.prom 2>alert.err >alerts &
alert_pid=$!; bg_pids+=("$alert_pid")
if ! wait_for stat.err attached || ! wait_for trace.err attached || ! wait_for alert.err watching; then
  fail model_crash_tools_attach "$(cat stat.err trace.err alert.err)"
else
  (ulimit -c 0; exec "$SIM" run -w mixed -P 3 --queues 2 -r 300 -d 2.5 --seed 41 -o sum.json) 2>sim.err &
  sim_pid=$!; bg_pids+=("$sim_pid")
  victim=
  for _ in $(seq 50); do
    mapfile -t kids < <(pgrep -P "$sim_pid")
    [ "${#kids[@]}" -eq 3 ] && break
    sleep 0.1
  done
  sleep 1
  victim=${kids[1]:-}
  [ -n "$victim" ] && kill -SEGV "$victim"
  lines_at_crash=$(wc -l <stat.json)
  wait "$sim_pid"; sim_rc=$?
  sleep 1
  alive=()
  for p in "$stat_pid" "$trace_pid" "$alert_pid"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
  lines_after=$(wc -l <stat.json)
  kill -INT "$stat_pid" "$trace_pid"; kill -TERM "$alert_pid"
  wait "$stat_pid"; stat_rc=$?
  wait "$trace_pid"; trace_rc=$?
  wait "$alert_pid"; alert_rc=$?

  # the model: exit 1, names the process and the signal; the others finished their run
  if [ -z "$victim" ]; then
    fail model_crash_model_reports_it "no workload process found to kill"
  elif [ "$sim_rc" -eq 1 ] && grep -q "workload process $victim failed (signal 11)" sim.err &&
       [ "$(grep -c 'failed' sim.err)" -eq 1 ] && [ -s sum.json ]; then
    pass model_crash_model_reports_it "$(grep failed sim.err)"
  else
    fail model_crash_model_reports_it "model exit $sim_rc" "$(cat sim.err)"
  fi

  # The survivors, exactly (as tests/stat_sim.sh compares), and the victim still reported.
  # waits within one per thousand binds: a voluntary switch inside the uprobe machinery itself
  # (mmap_lock, a page-in) counts as a wait for the probes and not for the model (a known
  # limit, docs/probes.md); here it is not what is tested, and it was seen once on a busy VM.
  read -r -d '' SURVIVORS <<'JQ'
def exact: ["binds","ops","errors","pages_counted","pages_used","pages_overcount",
            "interrupted_waits","peak_in_flight","in_flight","drift"];
$sum[0].processes[] | select(.pid != $victim) as $mp |
  ([$got[0].processes[] | select(.pid == $mp.pid)] | first) as $sp |
  if $sp == null then "process \($mp.pid) missing"
  else (exact[] as $k | select($sp.totals[$k] != $mp.totals[$k])
        | "process \($mp.pid) \($k): \($sp.totals[$k]), model \($mp.totals[$k])"),
       (select((($sp.totals.waits - $mp.totals.waits) | fabs) > ([1, $mp.totals.binds / 1000] | max))
        | "process \($mp.pid) waits: \($sp.totals.waits), model \($mp.totals.waits)")
  end
JQ
  diffs=$(jq -rn --slurpfile got <(tail -n 1 stat.json) --slurpfile sum sum.json \
            --argjson victim "${victim:-0}" "$SURVIVORS" 2>&1)
  vbinds=$(tail -n 1 stat.json | jq --argjson v "${victim:-0}" '[.processes[] | select(.pid == $v) | .totals.binds] | first // 0')
  if [ "$stat_rc" -ne 0 ] || [ "${#alive[@]}" -ne 3 ]; then
    fail model_crash_msmvm_stat_keeps_going "exit $stat_rc; alive after the crash: ${#alive[@]} of 3 tools" "$(cat stat.err)"
  elif [ "$lines_after" -le "$lines_at_crash" ]; then
    fail model_crash_msmvm_stat_keeps_going "no interval line after the crash ($lines_at_crash, then $lines_after)"
  elif [ -n "$diffs" ] || [ "$vbinds" -le 0 ]; then
    fail model_crash_msmvm_stat_keeps_going "$diffs" "crashed process: $vbinds binds"
  else
    pass model_crash_msmvm_stat_keeps_going "survivors exact (waits within 1/1000); the crashed one reported with $vbinds binds; $((lines_after - lines_at_crash)) interval lines after the crash"
  fi

  # msmvm-trace: a whole file, and its replay gives the survivors exactly too
  if [ "$trace_rc" -ne 0 ]; then
    fail model_crash_msmvm_trace_keeps_going "exit $trace_rc" "$(cat trace.err)"
  elif ! d=$(decode crash.perfetto-trace --allow-open); then
    fail model_crash_msmvm_trace_keeps_going "$d"
  elif ! "$STAT" --replay crash.perfetto-trace --json >replay.json 2>replay.err; then
    fail model_crash_msmvm_trace_keeps_going "replay failed" "$(cat replay.err)"
  elif diffs=$(jq -rn --slurpfile got replay.json --slurpfile sum sum.json \
                 --argjson victim "${victim:-0}" "$SURVIVORS" 2>&1) && [ -n "$diffs" ]; then
    fail model_crash_msmvm_trace_keeps_going "$diffs"
  else
    pass model_crash_msmvm_trace_keeps_going "$(grep -o '[0-9]* events, [0-9]* dropped' trace.err)"
  fi

  # msmvm-alert: still writing its metrics; the survivors' binds in them are the model's
  diffs=
  for pid in $(jq --argjson v "${victim:-0}" '.processes[] | select(.pid != $v) | .pid' sum.json); do
    got=$(awk -v p="pid=\"$pid\"" 'index($0, "msmvm_binds_total{") == 1 && index($0, p) {s += $NF} END {print s + 0}' crash.prom)
    want=$(jq --argjson p "$pid" '.processes[] | select(.pid == $p) | .totals.binds' sum.json)
    [ "$got" = "$want" ] || diffs="$diffs process $pid: msmvm_binds_total $got, model $want;"
  done
  if [ "$alert_rc" -ne 0 ]; then
    fail model_crash_msmvm_alert_keeps_going "exit $alert_rc" "$(cat alert.err)"
  elif [ -n "$diffs" ]; then
    fail model_crash_msmvm_alert_keeps_going "$diffs"
  else
    pass model_crash_msmvm_alert_keeps_going "metrics of the survivors equal the model's"
  fi
fi
cd - >/dev/null || exit 1

# ---------------------------------------------------------------- the flight recorder
# SIGKILL right after SIGUSR1: the dump may not have started, be cut, or be whole; whichever,
# every file left decodes up to its whole packets and msmvm-stat --replay reads it.
SIM=$(model ringkill)
f=$tmp/ringkill/r.perfetto-trace
"$TRACE" --sim="$SIM" --ring 5 -o "$f" 2>"$tmp/ringkill/err" &
rec=$!; bg_pids+=("$rec")
if wait_for "$tmp/ringkill/err" attached; then
  "$SIM" run -w storm -P 2 --queues 2 -n 300 --seed 42 -o /dev/null 2>/dev/null
  kill -USR1 "$rec"; sleep 0.05; kill -KILL "$rec"
  wait "$rec" 2>/dev/null
  problems=(); seen=()
  for g in "$f" "$tmp/ringkill/r-1.perfetto-trace"; do
    [ -e "$g" ] || continue
    whole=$("$CHECK" complete "$g")
    head -c "$whole" "$g" >"$g.cut"
    seen+=("$(basename "$g") $whole/$(stat -c %s "$g") bytes whole")
    d=$(decode "$g.cut" --allow-open) || problems+=("$d")
    "$STAT" --replay "$g" >/dev/null 2>"$g.rerr" || problems+=("replay of $g: $(cat "$g.rerr")")
  done
  [ -e "$f" ] || problems+=("$f is gone")
  if [ ${#problems[@]} -eq 0 ]; then pass ring_sigkill_leaves_valid_files "${seen[*]}"
  else fail ring_sigkill_leaves_valid_files "${problems[@]}"; fi
else
  fail ring_sigkill_leaves_valid_files "did not attach" "$(cat "$tmp/ringkill/err")"
fi

# A dump onto a full disk (a 16 KiB tmpfs): said, exit 1, what was written is whole packets.
SIM=$(model ringfull)
mkdir -p "$tmp/full"
if mount -t tmpfs -o size=16k tmpfs "$tmp/full" 2>/dev/null; then
  f=$tmp/full/r.perfetto-trace
  "$TRACE" --sim="$SIM" --ring 30 -o "$f" 2>"$tmp/ringfull/err" &
  rec=$!; bg_pids+=("$rec")
  if wait_for "$tmp/ringfull/err" attached; then
    "$SIM" run -w storm -P 2 --queues 2 -n 300 --seed 43 -o /dev/null 2>/dev/null
    kill -USR1 "$rec"
    wait_for "$tmp/ringfull/err" 'r-1.perfetto-trace' 50
    kill -INT "$rec"; wait "$rec"; rc=$?
    cp "$tmp/full/"*.perfetto-trace "$tmp/ringfull/" 2>/dev/null
    problems=()
    [ "$rc" -eq 1 ] || problems+=("exit $rc, expected 1")
    grep -q "writing $tmp/full/r-1.perfetto-trace: No space left on device" "$tmp/ringfull/err" ||
      problems+=("no clear error naming the dump")
    for g in "$tmp/ringfull/"*.perfetto-trace; do
      [ -e "$g" ] || continue
      whole=$("$CHECK" complete "$g")
      [ "$whole" = "$(stat -c %s "$g")" ] || problems+=("$(basename "$g"): only $whole of $(stat -c %s "$g") bytes are whole packets")
      d=$(decode "$g" --allow-open) || problems+=("$d")
    done
    if [ ${#problems[@]} -eq 0 ]; then
      pass ring_disk_full "$(grep -m1 'No space' "$tmp/ringfull/err")"
    else
      fail ring_disk_full "${problems[@]}" "$(cat "$tmp/ringfull/err")"
    fi
  else
    fail ring_disk_full "did not attach" "$(cat "$tmp/ringfull/err")"
  fi
  umount "$tmp/full"
else
  echo "skip ring_disk_full # cannot mount a tmpfs here"
fi

# ---------------------------------------------------------------- no probe left behind
# While a tool runs, its BPF programs and links are read from /proc/PID/fdinfo; once it has
# exited, none of them may still be in the kernel (bpftool prog/link show), and no uprobe may
# remain on its model (bpftool perf show). The model runs meanwhile, so probes fire while
# they are taken down. Each tool on its own model copy, the four tools side by side.

# ids PID: "prog ID..." and "link ID..." of PID's BPF file descriptors
ids() {
  local fd
  for fd in /proc/"$1"/fdinfo/*; do
    sed -n 's/^prog_id:[[:space:]]*/prog /p; s/^link_id:[[:space:]]*/link /p' "$fd" 2>/dev/null
  done | sort -u
}

# left IDS_FILE SIM: what is still in the kernel of IDS_FILE's ids, or uprobes on SIM
left() {
  local progs links i out=
  progs=$(bpftool -j prog show 2>/dev/null | jq -r '.[].id')
  links=$(bpftool -j link show 2>/dev/null | jq -r '.[].id')
  while read -r kind id; do
    if [ "$kind" = prog ] && grep -qx "$id" <<<"$progs"; then out="$out prog $id"; fi
    if [ "$kind" = link ] && grep -qx "$id" <<<"$links"; then out="$out link $id"; fi
  done <"$1"
  i=$(bpftool perf show 2>/dev/null | grep -c -- "filename $2 ")
  [ "$i" -gt 0 ] && out="$out $i uprobes on $2"
  echo "$out"
}

# one_case NAME SIM END READY CMD...: start CMD (stderr+stdout in $dir/NAME.log), note the
# ids of its BPF fds until READY shows in its output with its probes attached (READY "-":
# until it exits by itself, an error path), end it (END: self = it ends by itself, or a
# signal name), then check nothing of it is left. Prints its ok/not ok line.
one_case() {
  local name=$1 sim=$2 end=$3 ready=$4; shift 4
  local dir log pid n rest i rc
  dir=$(dirname "$sim"); log=$dir/$name.log
  "$sim" run -w mixed -P 2 -r 150 -d 4 -o /dev/null 2>/dev/null &
  local sim_pid=$!
  "$@" >"$log" 2>&1 &
  pid=$!
  : >"$dir/$name.ids"
  for ((i = 0; i < 200; i++)); do
    ids "$pid" >>"$dir/$name.ids"
    [ "$ready" != - ] && grep -q -- "$ready" "$log" && grep -q '^link' "$dir/$name.ids" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  ids "$pid" >>"$dir/$name.ids"	# READY may come out while the last links are made
  sort -u -o "$dir/$name.ids" "$dir/$name.ids"
  if [ "$ready" != - ] && ! grep -q -- "$ready" "$log"; then
    fail "$name" "never ready ('$ready'):" "$(cat "$log")"
    kill -9 "$pid" "$sim_pid" 2>/dev/null; wait "$pid" "$sim_pid" 2>/dev/null
    return
  fi
  n=$(grep -c '^link' "$dir/$name.ids")
  [ "$end" = self ] || kill -"$end" "$pid"
  { wait "$pid"; } 2>/dev/null; rc=$?
  for i in $(seq 50); do
    rest=$(left "$dir/$name.ids" "$sim")
    [ -z "$rest" ] && break
    sleep 0.1
  done
  kill -TERM "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null
  if [ "$n" -eq 0 ]; then
    fail "$name" "no BPF link found while it ran" "$(cat "$dir/$name.ids")"
  elif [ -n "$rest" ]; then
    fail "$name" "still in the kernel 5 s after exit $rc:$rest" "$(tail -3 "$log")"
  else
    pass "$name" "exit $rc; its $(grep -c '^prog' "$dir/$name.ids") programs and $n links gone$([ "$i" -gt 1 ] && echo " after $(( (i - 1) * 100 )) ms")"
  fi
}

port=$((20000 + RANDOM % 20000))
tool_cases() {	# TOOL: its cases, one after the other, on its own model
  local s
  s=$(model "leak-$1")
  case $1 in
  stat)
    one_case no_probe_left_msmvm_stat_end "$s" self attached "$STAT" --sim="$s" -d 1
    one_case no_probe_left_msmvm_stat_sigterm "$s" TERM attached "$STAT" --sim="$s"
    one_case no_probe_left_msmvm_stat_sigint "$s" INT attached "$STAT" --sim="$s" ;;
  top)
    one_case no_probe_left_msmvmtop_end "$s" self 'binds/s' "$TOP" --sim="$s" -b -n 6 -d 0.5
    one_case no_probe_left_msmvmtop_sigterm "$s" TERM 'binds/s' "$TOP" --sim="$s" -b -d 0.3
    one_case no_probe_left_msmvmtop_sigint "$s" INT 'binds/s' "$TOP" --sim="$s" -b -d 0.3 ;;
  trace)
    one_case no_probe_left_msmvm_trace_end "$s" self attached "$TRACE" --sim="$s" -d 1 -o "$tmp/leak-trace/a.pt"
    one_case no_probe_left_msmvm_trace_sigterm "$s" TERM attached "$TRACE" --sim="$s" -o "$tmp/leak-trace/b.pt"
    one_case no_probe_left_msmvm_trace_sigint "$s" INT attached "$TRACE" --sim="$s" --ring 2 -o "$tmp/leak-trace/c.pt"
    one_case no_probe_left_msmvm_trace_sigkill "$s" KILL attached "$TRACE" --sim="$s" -o "$tmp/leak-trace/d.pt" ;;
  alert)
    # a second msmvm-alert on the first one's port fails after attaching: its error path
    local h
    h=$(model leak-alert-holder)
    "$ALERT" --sim="$h" --listen "127.0.0.1:$port" >"$tmp/leak-alert/holder.log" 2>&1 &
    local holder=$!
    if wait_for "$tmp/leak-alert/holder.log" watching; then
      one_case no_probe_left_msmvm_alert_error_exit "$s" self - \
        "$ALERT" --sim="$s" --listen "127.0.0.1:$port"
    else
      fail no_probe_left_msmvm_alert_error_exit "the first msmvm-alert did not start" "$(cat "$tmp/leak-alert/holder.log")"
    fi
    kill -TERM "$holder"; wait "$holder"
    one_case no_probe_left_msmvm_alert_sigterm "$s" TERM watching "$ALERT" --sim="$s" --stall 100/1000 --keep-caps
    one_case no_probe_left_msmvm_alert_sigint "$s" INT watching "$ALERT" --sim="$s" --drift 0 \
      --flight-recorder "$tmp/leak-alert" ;;
  esac
}
for t in stat top trace alert; do
  tool_cases "$t" >"$tmp/cases-$t" 2>&1 &
  bg_pids+=("$!")
done
wait
cat "$tmp"/cases-{stat,top,trace,alert}
