#!/usr/bin/env bash
# --sim with no model: msmvm-stat and msmvm-trace say on stderr that no process of the model ran
# and how to start one; msmvmtop says it in its empty state (in tmux), and on stderr in batch
# mode; the exit status stays 0. With the model running all along, or started after the tool
# attached (it bound and ended before the tool did), or with another copy of the model running
# (another file: the probes are not on it), each is told apart. Each run uses its own copy of
# msmvm-sim, since the probes (and the check) are per binary file.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
. tests/lib.sh

tmp=$(mktemp -d)
model=
cleanup() {
  if [ -n "$model" ]; then kill -KILL "$model" 2>/dev/null; wait "$model" 2>/dev/null; fi
  [ -n "${sess:-}" ] && tmux kill-session -t "$sess" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
SIM=$tmp/msmvm-sim
OTHER=$tmp/other/msmvm-sim
mkdir -p "$tmp/other"
cp "$B/msmvm-sim" "$SIM" && cp "$B/msmvm-sim" "$OTHER" || { fail sim_presence_setup "cannot copy the model"; exit 1; }
hint="no process of the model $SIM"

# said NAME RC WANT(1: the hint, 0: none) ERRFILE
said() {
  local name=$1 rc=$2 want=$3 err=$4 has=0
  grep -qF "$hint" "$err" && grep -qF "'$SIM run -w mixed -P 2'" "$err" && has=1
  if [ "$rc" -ne 0 ]; then
    fail "$name" "exit $rc, expected 0" "$(cat "$err")"
  elif [ "$has" -ne "$want" ]; then
    fail "$name" "$([ "$want" = 1 ] && echo "no hint on stderr" || echo "a hint, with the model there")" "$(cat "$err")"
  else
    pass "$name"
  fi
}

# the model as a process of BIN, running until killed; returns once its workers bound
start_model() {
  "$1" run -w sparse -P 1 -r 50 -d 600 -o /dev/null 2>/dev/null &
  model=$!
  for _ in $(seq 300); do
    [ -n "$(cat /proc/"$model"/task/*/children 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  return 1
}
stop_model() { kill -TERM "$model" 2>/dev/null; wait "$model" 2>/dev/null; model=; }

# 1. no model at all
"$B/msmvm-stat" --sim="$SIM" -d 1 >"$tmp/out" 2>"$tmp/err"
said stat_no_model $? 1 "$tmp/err"
"$B/msmvm-trace" --sim="$SIM" -d 1 -o "$tmp/t.pftrace" >"$tmp/out" 2>"$tmp/err"
said trace_no_model $? 1 "$tmp/err"
"$B/msmvmtop" --sim="$SIM" -b -n 1 -d 1 >"$tmp/out" 2>"$tmp/err"
said top_batch_no_model $? 1 "$tmp/err"

# 2. another copy of the model runs: not the watched file, so still none
if start_model "$OTHER"; then
  "$B/msmvm-stat" --sim="$SIM" -d 1 >"$tmp/out" 2>"$tmp/err"
  said stat_other_model $? 1 "$tmp/err"
else
  fail stat_other_model "the other model did not start"
fi
stop_model

# 3. the watched model runs all along
if start_model "$SIM"; then
  "$B/msmvm-stat" --sim="$SIM" -d 1 >"$tmp/out" 2>"$tmp/err"
  said stat_model_running $? 0 "$tmp/err"
  "$B/msmvm-trace" --sim="$SIM" -d 1 -o "$tmp/t.pftrace" >"$tmp/out" 2>"$tmp/err"
  said trace_model_running $? 0 "$tmp/err"
else
  fail stat_model_running "the model did not start"
fi
stop_model

# 4. the model starts after the tool attached, binds, and ends before it: counted, so seen
# (err emptied first: step 3's "attached" must not pass for this one's, or the model runs, and
# the INT comes, before the tool has its handler; a background job ignores INT until then)
: >"$tmp/err"
"$B/msmvm-stat" --sim="$SIM" >"$tmp/out" 2>"$tmp/err" &
stat=$!
for _ in $(seq 600); do grep -q attached "$tmp/err" && break; sleep 0.1; done
"$SIM" run -w mixed -P 1 -n 20 -o "$tmp/sum.json" 2>/dev/null
kill -INT "$stat"; wait "$stat"
said stat_model_came_and_went $? 0 "$tmp/err"
want=$(jq .totals.binds "$tmp/sum.json")
grep -Eq "^ +binds +$want$" "$tmp/out" && pass stat_model_came_and_went_counted ||
  fail stat_model_came_and_went_counted "msmvm-stat's binds differ from the model's $want" "$(head -3 "$tmp/out")"

# 5. msmvmtop's empty state, on a terminal (tmux): the hint, then none once a model runs
sess=simpres$$
if tmux new-session -d -s "$sess" -x 120 -y 30 "$B/msmvmtop --sim=$SIM; sleep 30" 2>/dev/null; then
  seen=0
  for _ in $(seq 300); do
    tmux capture-pane -p -t "$sess" | tr -d '\n' | grep -qF "no process of the model" && { seen=1; break; }
    sleep 0.1
  done
  [ "$seen" = 1 ] && pass top_empty_state_hint || fail top_empty_state_hint "$(tmux capture-pane -p -t "$sess")"
  if start_model "$SIM"; then
    gone=0
    for _ in $(seq 300); do
      tmux capture-pane -p -t "$sess" | tr -d '\n' | grep -qF "no process of the model" || { gone=1; break; }
      sleep 0.1
    done
    [ "$gone" = 1 ] && pass top_hint_gone_with_model || fail top_hint_gone_with_model "$(tmux capture-pane -p -t "$sess")"
  else
    fail top_hint_gone_with_model "the model did not start"
  fi
  stop_model
  tmux send-keys -t "$sess" q
  tmux kill-session -t "$sess" 2>/dev/null
  sess=
else
  fail top_empty_state_hint "tmux did not start"
fi
