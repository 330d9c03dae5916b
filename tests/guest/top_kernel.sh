#!/usr/bin/env bash
# msmvmtop on the kernel flavor, in the guest: attached to the kernel twin (kprobes or fentry
# on msm_kmodel, CO-RE against its BTF) while `msmvm-sim run --kernel` runs a storm of two
# processes with two queues each as real ioctls. The last frame (written on SIGTERM) must
# hold every counter of the twin's ground truth exactly: totals (-b and --json), and per
# process and per VM (--json).
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
top_pid=
cleanup() {
  [ -n "$top_pid" ] && kill -9 "$top_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. tests/guest/lib.sh

guest_ready top_kernel || exit 0
attach_args auto

RUN=(-w storm -P 2 --queues 2 -n 12)
# the run shows what these cases are about: two processes throttled over the limit
CHECK='.binds == 24 and .waits > 0 and .peak_in_flight > 1024 and .errors == 0'

# top_case NAME SEED MODE: msmvmtop MODE (-b or --json) during a run; $tmp/out, $tmp/sum.json
top_case() {
  local name=$1 seed=$2 mode=$3 t0=$SECONDS
  : >"$tmp/out"
  "$TOP" "${KARGS[@]}" "$mode" -d 0.5 >"$tmp/out" 2>"$tmp/err" &
  top_pid=$!
  # the first frame is printed once attached
  if ! wait_for "$tmp/out" . "$top_pid" 60; then
    fail "$name" "msmvmtop did not attach (or print a frame) in $((SECONDS - t0)) s:" "$(cat "$tmp/err")"
    kstop "$top_pid" KILL; top_pid=; return 1
  fi
  local attach_s=$((SECONDS - t0))
  if ! diffs=$(krun "$tmp/sum.json" "${RUN[@]}" --seed "$seed"); then
    fail "$name" "$diffs"; kstop "$top_pid" KILL; top_pid=; return 1
  fi
  # every job is freed once the run returns (its files closed, the twin drained): the last
  # frame, written on SIGTERM, has seen all of it
  kstop "$top_pid" TERM; top_pid=
  if [ "$krc" -ne 0 ]; then
    fail "$name" "msmvmtop exited $krc:" "$(cat "$tmp/err")"; return 1
  fi
  if ! jq -e ".totals | $CHECK" "$tmp/sum.json" >/dev/null; then
    fail "$name" "the run does not show what this case is about: $CHECK" "twin: $(jq -c .totals "$tmp/sum.json")"
    return 1
  fi
  note="attach ${attach_s} s, case $((SECONDS - t0)) s, binds $(jq .totals.binds "$tmp/sum.json"), waits $(jq .totals.waits "$tmp/sum.json")"
}

# --- JSON: every line valid; the last frame's totals, processes and VMs equal the twin's ---
if top_case top_kernel_json_equals_twin 41 --json; then
  problems=()
  while IFS= read -r line; do
    printf '%s' "$line" | jq -e . >/dev/null 2>&1 || { problems+=("invalid JSON line: ${line:0:80}"); break; }
  done <"$tmp/out"
  tail -n 1 "$tmp/out" | jq "$TOP_AS_STAT" >"$tmp/last.json" 2>/dev/null ||
    problems+=("the last frame does not parse")
  [ ${#problems[@]} -eq 0 ] && diffs=$(summary_cmp msmvmtop "$tmp/last.json" "$tmp/sum.json" "$EXACT" '[]')
  [ -n "${diffs:-}" ] && problems+=("$diffs")
  plan=$(tail -n 1 "$tmp/out" | jq -r .plan)
  if [ ${#problems[@]} -eq 0 ]; then
    pass top_kernel_json_equals_twin "$(wc -l <"$tmp/out") frames, plan $plan; $note"
  else
    fail top_kernel_json_equals_twin "${problems[@]}" "twin: $(jq -c .totals "$tmp/sum.json")"
  fi
fi

# --- batch: the last frame's "totals:" line equals the twin's totals ---
if top_case top_kernel_batch_equals_twin 42 -b; then
  problems=()
  last=$(grep '^totals:' "$tmp/out" | tail -n 1)
  for k in $(jq -r '.[]' <<<"$EXACT"); do
    a=$(printf '%s\n' "$last" | awk -v k="$k" '{for (i = 2; i < NF; i += 2) if ($i == k) print $(i + 1)}')
    b=$(jq ".totals.$k" "$tmp/sum.json")
    [ "$a" = "$b" ] || problems+=("$k: msmvmtop ${a:-none}, twin $b")
  done
  grep -q 'PID COMM' "$tmp/out" || problems+=("no process table")
  # both workload processes have their row in the last frame
  for pid in $(jq -r '.processes[].pid' "$tmp/sum.json"); do
    awk '/^msmvmtop / {f = ""} {f = f "\n" $0} END {print f}' "$tmp/out" | grep -qE "^ +$pid " ||
      problems+=("no row for process $pid in the last frame")
  done
  if [ ${#problems[@]} -eq 0 ]; then
    pass top_kernel_batch_equals_twin "$(grep -c '^totals:' "$tmp/out") frames; $note"
  else
    fail top_kernel_batch_equals_twin "${problems[@]}" "last: $last"
  fi
fi
