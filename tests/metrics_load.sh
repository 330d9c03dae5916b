#!/usr/bin/env bash
# msmvm-alert's /metrics under load (issue 16): with 2,000 idle TCP connections held open, a
# scraper still gets 200 and metrics that pass promtool and equal the model's summary; other
# methods get 405 (with Allow), other paths 404; the idle connections are closed after the
# timeout; the HTTP thread holds no capability; libmicrohttpd's messages come through the
# tool's logger (prefixed, rate-limited), also when the connection limit is reached.
#
#   metrics_load_idle_connections_accepted   the 2,000 are accepted (the daemon holds them)
#   metrics_load_scrapes_while_held          5 scrapes: 200, promtool, binds = the model's
#   metrics_load_methods_and_paths           POST/PUT/DELETE 405 + Allow: GET, HEAD; 404; HEAD
#   metrics_load_idle_timeout                the held connections are closed by the daemon
#   metrics_load_http_thread_no_caps         CapEff 0 in every thread
#   metrics_load_stderr_prefixed_and_few     every stderr line "msmvm-alert: ", at most 20
#   metrics_load_limit_reached_*             with RLIMIT_NOFILE 400: the limit is said and
#                                            held to, scrapes work again once the idle
#                                            connections time out
#   metrics_load_messages_rate_limited       60 malformed requests: at most 10 messages said,
#                                            the rest counted in one "suppressed" line
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
ALERT=$(realpath "$B/msmvm-alert")
N=2000			# idle connections
TIMEOUT_S=10		# msmvm-alert's HTTP_TIMEOUT_S

pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do printf '%s\n' "$l" | head -20 | sed 's/^/#   /'; done; }

if [ "$(id -u)" -ne 0 ]; then
  echo "skip metrics_load # needs root to attach uprobes"
  exit 0
fi
for c in curl promtool prlimit jq; do
  command -v $c >/dev/null || { echo "skip metrics_load # $c is not installed (tools/deps.sh)"; exit 0; }
done
# the holder needs N descriptors of its own, the daemon N more
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $((N + 300)) ]; then
  echo "skip metrics_load # the hard RLIMIT_NOFILE $(ulimit -Hn) is below $((N + 300))"
  exit 0
fi

tmp=$(mktemp -d)
alert_pid= holder_pid=
cleanup() {
  [ -n "$holder_pid" ] && kill -9 "$holder_pid" 2>/dev/null
  [ -n "$alert_pid" ] && kill -9 "$alert_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cp "$B/msmvm-sim" "$tmp/msmvm-sim"	# a private inode: only these runs are probed
SIM=$tmp/msmvm-sim

# listening TCP ports now (hex, from /proc/net/tcp: state 0A)
listening() { awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6; }

# start_alert NOFILE ARGS...: msmvm-alert --listen on a free port under prlimit --nofile=NOFILE,
# once it says "watching" (alert_pid, port); a port taken meanwhile: another one
start_alert() {
  local nofile=$1 try i
  shift
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 30000))
    listening | grep -qix "$(printf %04X $port)" && continue
    : >"$tmp/alert.err"
    prlimit --nofile="$nofile" "$ALERT" --sim="$SIM" --listen "127.0.0.1:$port" "$@" \
      >"$tmp/alert.out" 2>"$tmp/alert.err" &
    alert_pid=$!
    for ((i = 0; i < 300; i++)); do
      grep -q watching "$tmp/alert.err" && return 0
      kill -0 "$alert_pid" 2>/dev/null || break
      sleep 0.1
    done
    wait "$alert_pid" 2>/dev/null
    alert_pid=
    grep -q "Address already in use" "$tmp/alert.err" || return 1
  done
  return 1
}
stop_alert() {
  kill -TERM "$alert_pid"; wait "$alert_pid"; local rc=$?; alert_pid=; return $rc
}

# sockets the daemon holds open (its listening one included)
sockets() { find "/proc/$alert_pid/fd" -lname 'socket:*' 2>/dev/null | wc -l; }

# wait_sockets OP COUNT TENTHS: until sockets OP COUNT (-ge, -le), up to TENTHS/10 s
wait_sockets() {
  local i
  for ((i = 0; i < $3; i++)); do
    [ "$(sockets)" "$1" "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# hold COUNT: COUNT idle connections from a background shell (holder_pid), which says how
# many it opened in $tmp/held and keeps them until killed
hold() {
  rm -f "$tmp/held" "$tmp/fifo"
  mkfifo "$tmp/fifo"
  (
    ulimit -n $(($1 + 100)) || exit 3
    opened=0
    for ((i = 0; i < $1; i++)); do
      exec {fd}<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || break
      opened=$((opened + 1))
    done
    echo "$opened" >"$tmp/held"
    read -r _ <"$tmp/fifo"	# blocks (in the shell itself: no child shares the sockets)
  ) &
  holder_pid=$!
  local i
  for ((i = 0; i < 600; i++)); do
    [ -s "$tmp/held" ] && return 0
    sleep 0.1
  done
  return 1
}
release() { kill -9 "$holder_pid" 2>/dev/null; wait "$holder_pid" 2>/dev/null; holder_pid=; }

# scrape FILE: GET /metrics into FILE; the status code on stdout
scrape() { curl -s -m 30 -o "$1" -w '%{http_code}' "http://127.0.0.1:$port/metrics"; }

# --- 2,000 idle connections, the daemon's soft limit 1024 (it raises it), a scraper ---
if ! start_alert 1024:$((N + 5000)) --stall 100/1000; then
  fail metrics_load_start "msmvm-alert did not start" "$(cat "$tmp/alert.err")"
  exit 0
fi
"$SIM" run -w mixed -P 2 --rate 200 -d 1 --seed 161 -o "$tmp/sum.json" 2>/dev/null
want_binds=$(jq .totals.binds "$tmp/sum.json")
base=$(sockets)
hold $N
held=$(cat "$tmp/held" 2>/dev/null)
if [ "${held:-0}" = $N ] && wait_sockets -ge $((base + N)) 300; then
  pass metrics_load_idle_connections_accepted "$N held, the daemon has $(sockets) sockets open"
else
  fail metrics_load_idle_connections_accepted "held ${held:-none} of $N; the daemon has $(sockets) sockets (before: $base)" \
    "$(tail -5 "$tmp/alert.err")"
fi

problems=()
t0=$(date +%s.%N)
for i in 1 2 3 4 5; do
  code=$(scrape "$tmp/m$i.prom")
  [ "$code" = 200 ] || { problems+=("scrape $i: HTTP $code"); continue; }
  out=$(promtool check metrics <"$tmp/m$i.prom" 2>&1) || problems+=("scrape $i: promtool: $out")
  got=$(awk 'index($0, "msmvm_binds_total{") == 1 {s += $NF} END {print s + 0}' "$tmp/m$i.prom")
  [ "$got" = "$want_binds" ] || problems+=("scrape $i: msmvm_binds_total $got, the model's binds $want_binds")
done
t1=$(date +%s.%N)
during=$(sockets)
[ "$during" -ge $((base + N)) ] || problems+=("only $during sockets open after the scrapes: the idle ones were dropped")
if [ ${#problems[@]} -eq 0 ]; then
  pass metrics_load_scrapes_while_held "5 x 200 in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s, binds $want_binds"
else
  fail metrics_load_scrapes_while_held "${problems[@]}"
fi

problems=()
for m in POST PUT DELETE; do
  curl -s -m 30 -D "$tmp/h.$m" -o /dev/null -X $m --data 'x=1' "http://127.0.0.1:$port/metrics"
  head -1 "$tmp/h.$m" | grep -q '^HTTP/1.1 405' || problems+=("$m: $(head -1 "$tmp/h.$m")")
  grep -qi '^Allow: GET, HEAD' "$tmp/h.$m" || problems+=("$m: no 'Allow: GET, HEAD' header")
done
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
[ "$code" = 404 ] || problems+=("GET /: $code")
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metricsx")
[ "$code" = 404 ] || problems+=("GET /metricsx: $code")
code=$(curl -s -m 30 -I -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")
[ "$code" = 200 ] || problems+=("HEAD /metrics: $code")
if [ ${#problems[@]} -eq 0 ]; then pass metrics_load_methods_and_paths; else
  fail metrics_load_methods_and_paths "${problems[@]}"; fi

caps=$(awk '/^CapEff/ {print $2}' /proc/"$alert_pid"/task/*/status | sort -u | tr '\n' ' ')
threads=$(ls /proc/"$alert_pid"/task | wc -l)
if [ "$caps" = "0000000000000000 " ] && [ "$threads" -ge 2 ]; then
  pass metrics_load_http_thread_no_caps "$threads threads, CapEff 0 in each"
else
  fail metrics_load_http_thread_no_caps "CapEff: $caps ($threads threads)"
fi

# idle: closed by the daemon after the timeout (counted from the last byte, so after the
# scrapes at the latest); the holder still has them open
t_idle=$(date +%s)
if wait_sockets -le $((base + 10)) $(((TIMEOUT_S + 30) * 10)); then
  pass metrics_load_idle_timeout "closed $(( $(date +%s) - t_idle )) s after the scrapes (timeout $TIMEOUT_S s)"
else
  fail metrics_load_idle_timeout "$(sockets) sockets still open $((TIMEOUT_S + 30)) s later"
fi
release
stop_alert; rc=$?

bad=$(grep -cv '^msmvm-alert: ' "$tmp/alert.err")
lines=$(wc -l <"$tmp/alert.err")
if [ $rc = 0 ] && [ "$bad" = 0 ] && [ "$lines" -le 20 ]; then
  pass metrics_load_stderr_prefixed_and_few "$lines lines, exit 0"
else
  fail metrics_load_stderr_prefixed_and_few "exit $rc, $lines lines, $bad unprefixed" "$(head -20 "$tmp/alert.err")"
fi

# --- the limit reached: RLIMIT_NOFILE 400 for the daemon, 1,000 clients ---
if ! start_alert 400:400 --stall 100/1000; then
  fail metrics_load_limit_start "msmvm-alert did not start" "$(cat "$tmp/alert.err")"
  exit 0
fi
limit=$(sed -n 's/.*http: at most \([0-9]*\) connections.*/\1/p' "$tmp/alert.err")
hold 1000
held=$(cat "$tmp/held" 2>/dev/null)
if [ -n "$limit" ] && [ "$limit" -lt 400 ] && wait_sockets -ge "$limit" 300 &&
   [ "$(sockets)" -le $((limit + 1)) ]; then
  pass metrics_load_limit_reached_held "limit $limit said; $(sockets) sockets open, $held connects"
else
  fail metrics_load_limit_reached_held "limit '${limit}', $(sockets) sockets, $held connects" "$(head -5 "$tmp/alert.err")"
fi
# the held ones time out, then a scraper is served again (the holder keeps its side open)
ok=0
for ((i = 0; i < (TIMEOUT_S + 30) * 2; i++)); do
  [ "$(scrape "$tmp/late.prom")" = 200 ] && { ok=1; break; }
  sleep 0.5
done
if [ $ok = 1 ] && promtool check metrics <"$tmp/late.prom" >/dev/null 2>&1; then
  pass metrics_load_limit_reached_recovers
else
  fail metrics_load_limit_reached_recovers "no 200 within $((TIMEOUT_S + 30)) s" "$(tail -5 "$tmp/alert.err")"
fi
release
# 60 malformed requests: libmicrohttpd says something of each (at least one message), the
# daemon at most 10 a minute, then how many it kept back (at exit, within the minute)
before=$(grep -c '^msmvm-alert: http: ' "$tmp/alert.err")
for ((i = 0; i < 60; i++)); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$port" || break
  printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n' "x$i" >&$fd
  read -r -t 30 reply <&$fd
  exec {fd}>&-
done
stop_alert; rc=$?
bad=$(grep -cv '^msmvm-alert: ' "$tmp/alert.err")
http=$(( $(grep -c '^msmvm-alert: http: ' "$tmp/alert.err") - before ))
said=$(grep -c '^msmvm-alert: http: .*Content-Length' "$tmp/alert.err")
kept=$(sed -n 's/^msmvm-alert: http: suppressed \([0-9]*\) more messages.*/\1/p' "$tmp/alert.err" | tail -1)
if [ $rc = 0 ] && [ "$bad" = 0 ] && [ "$http" -le 11 ] && [ "$said" -ge 1 ] &&
   [ "${reply%$'\r'}" = "HTTP/1.1 400 Bad Request" ] && [ "$(( ${kept:-0} + http - 1 ))" -ge 60 ]; then
  pass metrics_load_messages_rate_limited "60 bad requests: $((http - 1)) messages said, then 'suppressed $kept more'"
else
  fail metrics_load_messages_rate_limited "exit $rc, $http http lines ($said about Content-Length), $bad unprefixed, suppressed '${kept}', last reply '$reply'" "$(head -20 "$tmp/alert.err")"
fi
