#!/usr/bin/env bash
# In the arm64 guest, against the REAL msm.ko (Debian's 7.2 arm64 kernel, no Qualcomm
# hardware): msmvm-stat's start-up checks and --dry-run (every program through the verifier,
# CO-RE against msm's own BTF); then each hook plan (direct, fallback) with each attach kind
# (fentry, kprobe) attached for a second: exit 0, the start-up line and the JSON plan name msm,
# the plan and the attach kind of every probe, and the final report holds exactly zero in
# every counter (the ground truth: msm binds no device here, so nothing can issue a VM_BIND).
set -u
cd "$(dirname "$0")/../../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/guest-arm64/lib.sh

msm_ready stat_msm || exit 0
pass stat_msm_premise "msm loaded with BTF, binding no device (no VM_BIND can happen)"

# --- --dry-run: start-up checks, the plan, the verifier; nothing attached ---
t0=$EPOCHREALTIME
"$STAT" --dry-run >"$tmp/dry.out" 2>"$tmp/dry.err"
rc=$?
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
if [ $rc -ne 0 ]; then
  fail stat_msm_dry_run "msmvm-stat --dry-run exited $rc:" "$(cat "$tmp/dry.err" "$tmp/dry.out")"
elif ! grep -q '^target: kernel .*(msm' "$tmp/dry.out" || ! grep -q '^verified: all' "$tmp/dry.out"; then
  fail stat_msm_dry_run "no 'target: kernel ... (msm' or 'verified: all' line:" "$(cat "$tmp/dry.out")"
else
  pass stat_msm_dry_run "$(grep '^verified:' "$tmp/dry.out"); ${secs}s"
fi

# --- each plan x attach kind, one second attached ---
for hooks in direct fallback; do
  for attach in fentry kprobe; do
    name=stat_msm_${hooks}_$attach
    kind=$([ $attach = fentry ] && echo fentry/fexit || echo kprobes)
    t0=$EPOCHREALTIME
    "$STAT" --json --hooks="$hooks" --attach="$attach" -d 1 >"$tmp/$name.json" 2>"$tmp/$name.err"
    rc=$?
    secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    line=$(grep -m1 'attached' "$tmp/$name.err")
    if [ $rc -ne 0 ]; then
      fail "$name" "msmvm-stat --hooks=$hooks --attach=$attach -d 1 exited $rc:" "$(cat "$tmp/$name.err")"
      continue
    fi
    if [[ $line != *"(msm; $kind) ($hooks)"* ]]; then
      fail "$name" "start-up line without '(msm; $kind) ($hooks)':" "$line"
      continue
    fi
    # the plan in the final line: its kind and every probe's attach kind
    plan=$(jq -rs --arg h "$hooks" --arg a "$attach" 'last | .plan as $p |
      if $p.kind != $h then "plan.kind \($p.kind)"
      elif $p.attach != $a then "plan.attach \($p.attach)"
      elif ($p.probes | length) == 0 then "no probes"
      elif any($p.probes[]; (.attach | startswith($a == "fentry" | if . then "f" else "k" end)) | not)
        then "a probe attached otherwise: \([$p.probes[] | "\(.function):\(.attach)"] | join(" "))"
      elif ($p.target | test("msm") | not) then "plan.target \($p.target)"
      else "ok \([$p.probes[] | "\(.function):\(.attach)"] | unique | join(" "))" end' "$tmp/$name.json" 2>&1)
    if [[ $plan != ok\ * ]]; then
      fail "$name" "the JSON plan: $plan" "$(tail -c 600 "$tmp/$name.json")"
      continue
    fi
    zero=$(zero_report "$tmp/$name.json")
    if [ -n "$zero" ]; then
      fail "$name" "not zero with no msm device:" "$zero"
      continue
    fi
    pass "$name" "every count 0; ${plan#ok }; ${line#msmvm-stat: }; ${secs}s"
  done
done
