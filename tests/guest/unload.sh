#!/usr/bin/env bash
# The driver going away, for real: run INSIDE the guest (tools/guest/run), as root, from the
# project root. With the kernel twin loaded, msmvm-stat --json, msmvm-trace, msmvmtop
# (--json and -b) and msmvm-alert (HTTP metrics) are attached with kprobes; msmvm-sim run
# --kernel issues VM_BINDs; then `rmmod msm_kmodel`. Checked against the twin's ground truth
# (debugfs msm_kmodel/vms, read before the rmmod), counts compared exactly:
#   - stat, top and trace end by themselves with status 0 and a line naming the module;
#     their final report / last frame / trace (recounted by msmvm-stat --replay) hold the
#     twin's counts;
#   - msmvm-alert stays up, exports msmvm_driver_attached 0 and one detach, still serves the
#     counts; after `insmod` it re-attaches and its totals are the first load's plus the
#     second's, exactly, and no scrape ever saw a total go down;
#   - with fentry/fexit attached the kernel holds the module: rmmod is refused ("in use").
# Prints "ok" / "not ok" / "skip" lines. In the emulated guest every process start costs tens
# of ms (jq most of a second): polls, sums and comparisons use bash builtins, jq runs once.
set -u
B=${BUILD:-build}
MOD=msm_kmodel
KO=$B/kmodel/$MOD.ko
VMS=/sys/kernel/debug/$MOD/vms

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do printf '%s\n' "$l" | head -20 | sed 's/^/#   /'; done; }
skip() { echo "skip $1 # $2"; }

if [ "$(id -u)" -ne 0 ]; then skip guest_unload "needs root (run it in the guest)"; exit 0; fi
for t in msmvm-stat msmvm-trace msmvmtop msmvm-alert msmvm-sim; do
  [ -x "$B/$t" ] || { skip guest_unload "$B/$t is not built"; exit 0; }
done
[ -e "$KO" ] || { skip guest_unload "$KO is not built"; exit 0; }
for c in curl jq awk; do command -v $c >/dev/null || { skip guest_unload "no $c"; exit 0; }; done

# kprobes: they are what let a module go
TGT=(--module "$MOD" --attach=kprobe)

tmp=$(mktemp -d)
pids=()
mkfifo "$tmp/tick"
exec 9<>"$tmp/tick"
nap() { read -r -t "$1" -u 9 _; }	# a sleep without sleep(1)
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
  loaded || load_twin >/dev/null 2>&1	# leave the twin loaded, as other tests expect
}
trap cleanup EXIT

# kmod: the system's, or the one tools/guest/fetch unpacked
kmod() {	# rmmod|insmod|modprobe ARGS...
  local c=$1; shift
  if command -v "$c" >/dev/null; then
    "$c" "$@"
  else
    # shellcheck disable=SC1091
    (. "$B/guest/kernel.env" && LD_LIBRARY_PATH=$KMOD_LIBS "$KMOD_SBIN/$c" "$@")
  fi
}
loaded() { [ -e /sys/module/$MOD ]; }
load_twin() {
  kmod modprobe drm 2>/dev/null; kmod modprobe gpu-sched 2>/dev/null
  kmod insmod "$KO"
}
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }	# no fork: the guest is slow
has() {	# FILE TEXT: FILE holds TEXT; the last line with it in hit
  local l found=1
  hit=
  [ -r "$1" ] || return 1
  while IFS= read -r l; do [[ $l == *"$2"* ]] && { hit=$l; found=0; }; done <"$1"
  return $found
}
wait_for() {	# FILE TEXT [SECS]
  local i
  for ((i = 0; i < ${3:-30} * 10; i++)); do has "$1" "$2" && return 0; nap 0.1; done
  return 1
}
# FILE PATTERN: ms since the epoch when FILE first held it, polled every 10 ms with builtins
# only (a fork costs tens of ms in the emulated guest: it would be measured too)
seen_at() {
  local i l lines
  [ -p "$tmp/tick" ] || mkfifo "$tmp/tick"
  exec 9<>"$tmp/tick"
  for ((i = 0; i < 1000; i++)); do
    mapfile -t lines <"$1" 2>/dev/null
    for l in "${lines[@]}"; do [[ $l == *"$2"* ]] && { exec 9>&-; now_ms; return 0; }; done
    read -r -t 0.01 -u 9 l	# a 10 ms sleep without sleep(1)
  done
  exec 9>&-
}
# sums NAME FILE: the twin's ground truth (FILE, a copy of its vms) in the associative array
# NAME: each KEY=N summed over every VM since the module was loaded
sums() {
  local -n _s=$1
  local l w
  _s=()
  while read -ra l; do
    for w in "${l[@]}"; do
      [[ $w =~ ^([a-z_]+)=([0-9]+)$ ]] && _s[${BASH_REMATCH[1]}]=$((${_s[${BASH_REMATCH[1]}]:-0} + BASH_REMATCH[2]))
    done
  done <"$2"
}
# msums NAME FILE: Prometheus metrics (FILE) in the associative array NAME, each metric's
# integer samples summed over its labels
msums() {
  local -n _m=$1
  local l
  _m=()
  while read -r l; do
    [[ $l =~ ^([a-z_]+)\{.*\}\ ([0-9]+)$ ]] && _m[${BASH_REMATCH[1]}]=$((${_m[${BASH_REMATCH[1]}]:-0} + BASH_REMATCH[2]))
  done <"$2"
}
# every VM closed and drained (open=0): its figures are final
drained() {
  local i
  for i in $(seq 100); do has "$VMS" 'open=1' || return 0; nap 0.1; done
  return 1
}
read_truth() {	# OUT
  drained || echo "warning: VMs still open in $VMS" >&2
  cp "$VMS" "$1"
}

# a fresh twin: its vms file then holds only what these tools see (one that has seen no VM
# yet, as tests/guest/run-all.sh leaves it, is as good as a reloaded one)
if loaded && [ -r "$VMS" ] && ! has "$VMS" serial=; then
  :
else
  if loaded; then kmod rmmod $MOD || { fail guest_unload_setup "cannot rmmod a $MOD loaded before the test"; exit 0; }; fi
  if ! load_twin; then fail guest_unload_setup "cannot load $KO"; exit 0; fi
fi
[ -r "$VMS" ] || { fail guest_unload_setup "no $VMS (debugfs mounted?)"; exit 0; }

# --- stat, trace, top --json, top -b and alert, all attached with kprobes ---
"$B/msmvm-stat" "${TGT[@]}" --json >"$tmp/stat.json" 2>"$tmp/stat.err" & stat_pid=$!
"$B/msmvm-trace" "${TGT[@]}" -o "$tmp/rec.perfetto-trace" 2>"$tmp/trace.err" & trace_pid=$!
"$B/msmvmtop" "${TGT[@]}" --json -d 0.5 >"$tmp/top.json" 2>"$tmp/top.err" & top_pid=$!
"$B/msmvmtop" "${TGT[@]}" -b -d 0.5 >"$tmp/top.txt" 2>"$tmp/topb.err" & topb_pid=$!
port=$((20000 + RANDOM % 20000))
# the guest boots with its loopback down: /metrics needs it
ip link set lo up 2>/dev/null || busybox ip link set lo up 2>/dev/null
"$B/msmvm-alert" "${TGT[@]}" --listen "127.0.0.1:$port" --textfile "$tmp/metrics.prom" \
  --stall 100/1000 >/dev/null 2>"$tmp/alert.err" &
alert_pid=$!
pids+=("$stat_pid" "$trace_pid" "$top_pid" "$topb_pid" "$alert_pid")
ok=1
wait_for "$tmp/stat.err" attached 120 || ok=0
wait_for "$tmp/trace.err" attached 120 || ok=0
wait_for "$tmp/top.json" '"totals"' 120 || ok=0
wait_for "$tmp/top.txt" 'totals:' 120 || ok=0
wait_for "$tmp/alert.err" watching 120 || ok=0
if [ $ok = 0 ]; then
  fail guest_unload_attach "$(tail -n 3 "$tmp"/*.err)"
  exit 0
fi
has "$tmp/stat.err" attached
pass guest_unload_attach "5 tools on ${hit#*msmvm-stat: }"

# a scrape into FILE: /metrics, else the textfile (written each tick, renamed into place)
http_ok=0
curl -sf "http://127.0.0.1:$port/metrics" >/dev/null 2>&1 && http_ok=1
scrape() {
  if [ $http_ok = 1 ]; then curl -sf "http://127.0.0.1:$port/metrics" >"$1"; else cat "$tmp/metrics.prom" >"$1"; fi
}
(
  declare -A S
  while [ ! -e "$tmp/stop" ]; do
    if scrape "$tmp/scrape" 2>/dev/null; then
      msums S "$tmp/scrape"
      echo "${S[msmvm_binds_total]:-0} ${S[msmvm_pages_counted_total]:-0} ${S[msmvm_pages_used_total]:-0}"
    fi
    nap 0.2
  done
) >"$tmp/scrapes" &
scraper=$!
pids+=("$scraper")

"$B/msmvm-sim" run --kernel -w mixed -P 3 -n 60 --seed 61 -o "$tmp/sum1.json" 2>"$tmp/sim1.err" ||
  fail guest_unload_workload "msmvm-sim run --kernel: $(tail -3 "$tmp/sim1.err")"
read_truth "$tmp/truth1"
sleep 1	# the tools' last snapshot before the unload is not what is checked: the final one is
t0=$(now_ms)
kmod rmmod $MOD; rmmod_rc=$?
t1=$(now_ms)
t_stat=$(seen_at "$tmp/stat.err" "driver module $MOD was unloaded; stopping")
if [ $rmmod_rc != 0 ]; then
  fail guest_unload_rmmod "rmmod $MOD failed ($rmmod_rc) with kprobes attached"
  exit 0
fi
wait "$stat_pid"; stat_rc=$?
wait "$trace_pid"; trace_rc=$?
wait "$top_pid"; top_rc=$?
wait "$topb_pid"; topb_rc=$?

# counts: the twin's ground truth, exactly. The tools' figures: the last line of stat's and
# top's JSON, the replay of the trace, all read by one jq.
declare -A T1 T2 GOT
sums T1 "$tmp/truth1"
replay_ok=0
"$B/msmvm-stat" --replay "$tmp/rec.perfetto-trace" --json >"$tmp/replay.json" 2>"$tmp/replay.err" && replay_ok=1
COUNTERS="binds ops errors pages_counted pages_used waits interrupted_waits"
files=("$tmp/stat.json" "$tmp/top.json")
[ $replay_ok = 1 ] && files+=("$tmp/replay.json")
while read -r f k v; do [ -n "$f" ] && GOT[$f.$k]=$v; done <<<"$(jq -rn --arg ks "$COUNTERS" '
  reduce inputs as $x ({}; .[input_filename | split("/") | last] = $x) | to_entries[]
  | .key as $f | .value | "\($f) type \(.type)", (($ks | split(" "))[] as $k | "\($f) \($k) \(.totals[$k])")' \
  "${files[@]}" 2>"$tmp/jq.err")"
cmp_json() {	# FILE (stat.json, top.json, replay.json): a problem per disagreement
  local k
  [ -s "$tmp/jq.err" ] && problems+=("jq: $(head -c 300 "$tmp/jq.err")")
  for k in $COUNTERS; do
    [ "${GOT[$1.$k]:-none}" = "${T1[$k]:-0}" ] || problems+=("$k: ${GOT[$1.$k]:-none}, twin ${T1[$k]:-0}")
  done
}
problems=()
[ "$stat_rc" = 0 ] || problems+=("exit status $stat_rc")
[ -n "$t_stat" ] || problems+=("no unload line: $(cat "$tmp/stat.err")")
[ "${GOT[stat.json.type]:-}" = final ] || problems+=("no final report")
cmp_json stat.json
[ "${T1[binds]:-0}" -gt 0 ] || problems+=("the twin counted no binds")
if [ ${#problems[@]} -eq 0 ]; then
  pass guest_unload_stat_final_report "${GOT[stat.json.binds]} binds = twin"
else
  fail guest_unload_stat_final_report "${problems[@]}"
fi
if [ -n "$t_stat" ] && [ $((t_stat - t1)) -lt 1000 ]; then
  pass guest_unload_detected_within_1s "msmvm-stat said so $((t_stat - t1)) ms after rmmod returned (rmmod took $((t1 - t0)) ms)"
else
  fail guest_unload_detected_within_1s "said at ${t_stat:-never}, rmmod returned at $t1 (took $((t1 - t0)) ms)"
fi

problems=()
[ "$trace_rc" = 0 ] || problems+=("exit status $trace_rc")
grep -q "driver module $MOD was unloaded; stopping" "$tmp/trace.err" || problems+=("no unload line: $(cat "$tmp/trace.err")")
if [ $replay_ok = 1 ]; then
  { has "$tmp/replay.err" 'has no final stats' || has "$tmp/replay.err" 'ends inside a packet' ||
    has "$tmp/replay.err" lost; } && problems+=("$(cat "$tmp/replay.err")")
  cmp_json replay.json
else
  problems+=("--replay failed: $(cat "$tmp/replay.err")")
fi
if [ ${#problems[@]} -eq 0 ]; then pass guest_unload_trace_finalised; else fail guest_unload_trace_finalised "${problems[@]}"; fi

problems=()
[ "$top_rc" = 0 ] || problems+=("--json exit status $top_rc")
[ "$topb_rc" = 0 ] || problems+=("-b exit status $topb_rc")
for f in top topb; do
  has "$tmp/$f.err" "driver module $MOD was unloaded; stopping" || problems+=("$f: no unload line: $(cat "$tmp/$f.err")")
done
cmp_json top.json
last=
while IFS= read -r l; do [[ $l == totals:* ]] && last=$l; done <"$tmp/top.txt"
want=${T1[binds]:-0}
[[ "$last" == *" binds $want "* ]] || problems+=("-b last frame: '$last', twin binds $want")
if [ ${#problems[@]} -eq 0 ]; then pass guest_unload_top_last_frame; else fail guest_unload_top_last_frame "${problems[@]}"; fi

# --- alert: detached, serving, then re-attached with monotonic totals ---
wait_for "$tmp/alert.err" "driver module $MOD was unloaded: detached" 10
nap 0.5
problems=()
declare -A M
kill -0 "$alert_pid" 2>/dev/null || problems+=("msmvm-alert exited: $(cat "$tmp/alert.err")")
scrape "$tmp/detached.prom" || problems+=("no metrics while detached")
msums M "$tmp/detached.prom"
[ "${M[msmvm_driver_attached]:-none}" = 0 ] || problems+=("msmvm_driver_attached '${M[msmvm_driver_attached]:-none}', not 0")
[ "${M[msmvm_driver_detaches_total]:-none}" = 1 ] || problems+=("msmvm_driver_detaches_total '${M[msmvm_driver_detaches_total]:-none}', not 1")
[ $http_ok = 1 ] || problems+=("/metrics not reachable on 127.0.0.1:$port (the textfile was read)")
got=${M[msmvm_binds_total]:-0} want=${T1[binds]:-0}
[ "$got" = "$want" ] || problems+=("binds while detached $got, twin $want")
if [ ${#problems[@]} -eq 0 ]; then pass guest_unload_alert_detached "serving $got binds, attached 0"; else
  fail guest_unload_alert_detached "${problems[@]}"; fi

t0=$(now_ms)
if ! load_twin; then fail guest_unload_reinsmod "insmod $KO failed"; exit 0; fi
# the fentry/fexit case below attaches meanwhile (attaching takes seconds here): its
# programs beside the alert's kprobes change no count
"$B/msmvm-stat" --module "$MOD" --attach=fentry >/dev/null 2>"$tmp/fstat.err" & f_pid=$!
pids+=("$f_pid")
wait_for "$tmp/alert.err" 'is loaded again: re-attached' 60; t_re=$(now_ms)
"$B/msmvm-sim" run --kernel -w mixed -P 2 -n 50 --seed 62 -o "$tmp/sum2.json" 2>"$tmp/sim2.err" ||
  fail guest_unload_workload "second msmvm-sim run --kernel: $(tail -3 "$tmp/sim2.err")"
read_truth "$tmp/truth2"
sleep 1
scrape "$tmp/after.prom"
touch "$tmp/stop"; wait "$scraper" 2>/dev/null
kill -TERM "$alert_pid"; wait "$alert_pid"; alert_rc=$?
pids=("$f_pid")
problems=()
sums T2 "$tmp/truth2"
msums M "$tmp/after.prom"
[ "$alert_rc" = 0 ] || problems+=("exit status $alert_rc after SIGTERM")
has "$tmp/alert.err" 'is loaded again: re-attached' || problems+=("no re-attach line: $(cat "$tmp/alert.err")")
[ "${M[msmvm_driver_attached]:-none}" = 1 ] || problems+=("not attached again")
for k in binds:msmvm_binds_total ops:msmvm_ops_total errors:msmvm_errors_total \
         pages_counted:msmvm_pages_counted_total pages_used:msmvm_pages_used_total \
         waits:msmvm_waits_total; do
  a=${T1[${k%%:*}]:-0} b=${T2[${k%%:*}]:-0} got=${M[${k##*:}]:-none}
  [ "$got" = $((a + b)) ] || problems+=("${k##*:}: $got, twin $a + $b")
done
down=0 n=0 pb=0 pp=0 pu=0
while read -r b p u; do
  [ $n -gt 0 ] && { [ "$b" -lt $pb ] || [ "$p" -lt $pp ] || [ "$u" -lt $pu ]; } && down=$((down + 1))
  n=$((n + 1)) pb=$b pp=$p pu=$u
done <"$tmp/scrapes"
[ "$down" = 0 ] || problems+=("$down scrapes where a total went down")
if [ ${#problems[@]} -eq 0 ]; then
  pass guest_unload_alert_reattached_monotonic "binds ${M[msmvm_binds_total]} = ${T1[binds]} + ${T2[binds]}; re-attached $((t_re - t0)) ms after insmod; $n scrapes, none lower"
else
  fail guest_unload_alert_reattached_monotonic "${problems[@]}"
fi

# --- fentry/fexit: the kernel holds the module while attached, rmmod is refused ---
# (the msmvm-stat started with the second load)
if ! wait_for "$tmp/fstat.err" attached 120; then
  skip guest_unload_fentry_holds_module "fentry does not attach here: $(head -c 300 "$tmp/fstat.err")"
  exit 0
fi
kmod rmmod $MOD 2>"$tmp/rmmod.err"; r=$?
still=0; loaded && still=1
kill -INT "$f_pid"; wait "$f_pid"; f_rc=$?
pids=()
if [ $r != 0 ] && [ $still = 1 ] && grep -qi 'in use' "$tmp/rmmod.err" && [ $f_rc = 0 ]; then
  pass guest_unload_fentry_holds_module "rmmod: $(head -1 "$tmp/rmmod.err")"
else
  fail guest_unload_fentry_holds_module "rmmod status $r, loaded after: $still, msmvm-stat status $f_rc" "$(cat "$tmp/rmmod.err")"
fi
