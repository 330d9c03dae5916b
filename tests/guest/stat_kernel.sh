#!/usr/bin/env bash
# In the guest (tools/guest/run): msmvm-stat on the kernel flavor against the msm_kmodel twin,
# with each attach kind (kprobe, fentry) and each hook plan (direct, fallback), while
# msmvm-sim run --kernel issues real VM_BINDs from real processes and threads. Every counter
# must equal the twin's ground truth (debugfs msm_kmodel/vms, as the run's summary reports
# it) exactly: in total, per process (by pid) and per VM (by the struct msm_gem_vm's
# address); wait times within the rule of tests/stat_sim.sh (stat_compare in tests/lib.sh).
# Also: the start-up line and the --json plan name the twin, the plan and the attach kind of
# every probe; the health counters stay zero; fentry/fexit hold a reference on the module
# while attached, kprobes none (that rmmod is then refused: tests/guest/unload.sh).
#
# The four msmvm-stat (attach kind x hook plan) watch the same runs side by side: different
# programs on the same functions coexist, and attaching takes seconds each in the emulated
# guest (BTF, verifier), so they attach once, together, and each workload case runs once.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. tests/guest/lib.sh

guest_ready stat_kernel || exit 0
pass stat_kernel_twin "$TWIN loaded, its BTF in /sys/kernel/btf"
REFCNT=/sys/module/$TWIN/refcnt

# Waits built from bash builtins only: in the emulated guest a fork costs tens of ms, and a
# poll loop of grep and sleep would take CPU from the tools being waited for.
mkfifo "$tmp/tick"
exec 9<>"$tmp/tick"
nap() { read -r -t "$1" -u 9 _; }	# a sleep without sleep(1)
has() {	# FILE WORD: FILE holds WORD; its first line with it in hit
  local l
  hit=
  while IFS= read -r l; do [[ $l == *"$2"* ]] && { hit=$l; return 0; }; done <"$1"
  return 1
}
refcnt() { local r; read -r r <"$REFCNT"; echo "$r"; }

groups=(kprobe_direct kprobe_fallback fentry_direct fentry_fallback)
declare -A gpid gok
read -r base_ref <"$REFCNT"

t0=$SECONDS
for g in "${groups[@]}"; do
  : >"$tmp/$g.err"
  "$STAT" --json --attach="${g%_*}" --hooks "${g#*_}" -d 600 >"$tmp/$g.json" 2>"$tmp/$g.err" &
  gpid[$g]=$! gok[$g]=1
  pids+=($!)
done
# until every one has attached or died (120 s: four attach at once on the guest's CPUs)
end=$((SECONDS + 120))
while [ $SECONDS -le $end ]; do
  left=0
  for g in "${groups[@]}"; do
    has "$tmp/$g.err" attached || { kill -0 "${gpid[$g]}" 2>/dev/null && left=1; }
  done
  [ $left = 0 ] && break
  nap 0.2
done
attach_s=$((SECONDS - t0))
for g in "${groups[@]}"; do
  kind=$([ "${g%_*}" = fentry ] && echo fentry/fexit || echo kprobes)
  want="($TWIN, the kernel twin; $kind) (${g#*_})"
  if ! has "$tmp/$g.err" attached; then
    fail "kernel_${g}_attach" "msmvm-stat did not attach in $attach_s s:" "$(cat "$tmp/$g.err")"
    kstop "${gpid[$g]}" KILL; gok[$g]=0
  elif [[ $hit != *"$want"* ]]; then
    fail "kernel_${g}_attach" "start-up line without '$want':" "$hit"
  else
    pass "kernel_${g}_attach" "${hit#msmvm-stat: }"
  fi
done

# fentry/fexit: the kernel holds the module while they are attached (its refcnt)
ref=$(refcnt)
if [ "${gok[fentry_direct]}${gok[fentry_fallback]}" != 11 ]; then
  fail kernel_fentry_holds_module "the fentry msmvm-stat did not attach"
elif [ "$ref" -gt "$base_ref" ]; then
  pass kernel_fentry_holds_module "refcnt $ref with fentry/fexit and kprobes attached, $base_ref before"
else
  fail kernel_fentry_holds_module "refcnt $ref with fentry/fexit attached, $base_ref before"
fi

# The workload cases, once each. Small counts: the guest is emulated (TCG), 10-50 times
# slower than the host. CHECK, a jq condition on the twin's totals, says the run shows what
# the case is about, whatever the timing. The interrupted case's jobs take 20 ms, so every
# bind that waits sleeps long past the signal's 200 us delay, and each sleep is interrupted
# (counted in interrupted_waits) or not (in waits) with an even chance: in its 26 to 61
# sleeps seen (on a busy host), all one way is a one-in-ten-million event.
cases=() checks=() times=()
declare -A case_err
case_run() {	# NAME CHECK -- SIM_ARGS...
  local name=$1 check=$2 t=$SECONDS n=${#cases[@]}
  shift 3
  cases+=("$name") checks+=("$check") times+=(0)
  if ! "$SIM" run --kernel "$@" -o "$tmp/sum$n.json" 2>"$tmp/sim$n.err"; then
    case_err[$n]="msmvm-sim run --kernel $* failed:
$(tail -n 20 "$tmp/sim$n.err")"
    return
  fi
  times[$n]=$((SECONDS - t))
}
case_run storm '.waits > 0 and .peak_in_flight > 1024' -- \
  -w storm -P 2 --queues 2 -n 16 --seed 12
case_run interrupted '.waits > 0 and .interrupted_waits > 0 and .drift < 0' -- \
  -w storm -P 2 -n 32 --job-cost 20000 --interrupt-rate 0.5 --seed 13
case_run alloc_fail '.drift > 0' -- \
  -w sparse -P 2 -n 200 --alloc-fail-rate 0.02 --wedge-timeout 0.5 --seed 14
case_run mixed '.binds == 120' -- \
  -w mixed -P 2 --vms 2 --queues 2 -n 60 --seed 15

# stop_group G: its final report written, or a failure said
stop_group() {
  local g=$1
  [ "${gok[$g]}" = 1 ] || return 0
  if ! kill -0 "${gpid[$g]}" 2>/dev/null; then
    kstop "${gpid[$g]}"
    fail "kernel_${g}_totals" "msmvm-stat ended before the runs did (status $krc):" "$(cat "$tmp/$g.err")"
    gok[$g]=0; return
  fi
  kill -INT "${gpid[$g]}"
}
# fentry first: with only kprobes left attached, the module's references are back
stop_group fentry_direct; stop_group fentry_fallback
for g in fentry_direct fentry_fallback; do
  [ "${gok[$g]}" = 1 ] || continue
  kstop "${gpid[$g]}"
  [ "$krc" = 0 ] || { fail "kernel_${g}_totals" "msmvm-stat exited $krc:" "$(cat "$tmp/$g.err")"; gok[$g]=0; }
done
# (the kernel drops the programs' module references as it frees them: not always at once)
for _ in $(seq 50); do [ "$(refcnt)" = "$base_ref" ] && break; nap 0.1; done
ref=$(refcnt)
if [ "${gok[kprobe_direct]}${gok[kprobe_fallback]}" != 11 ]; then
  fail kernel_kprobe_holds_no_reference "the kprobe msmvm-stat are not running"
elif ! kill -0 "${gpid[kprobe_direct]}" 2>/dev/null || ! kill -0 "${gpid[kprobe_fallback]}" 2>/dev/null; then
  fail kernel_kprobe_holds_no_reference "a kprobe msmvm-stat ended early"
elif [ "$ref" = "$base_ref" ]; then
  pass kernel_kprobe_holds_no_reference "refcnt $ref with kprobes still attached, fentry/fexit gone"
else
  fail kernel_kprobe_holds_no_reference "refcnt $ref with kprobes attached (fentry/fexit gone), was $base_ref"
fi
stop_group kprobe_direct; stop_group kprobe_fallback
for g in kprobe_direct kprobe_fallback; do
  [ "${gok[$g]}" = 1 ] || continue
  kstop "${gpid[$g]}"
  [ "$krc" = 0 ] || { fail "kernel_${g}_totals" "msmvm-stat exited $krc:" "$(cat "$tmp/$g.err")"; gok[$g]=0; }
done
pids=()
for _ in $(seq 50); do [ "$(refcnt)" = "$base_ref" ] && break; nap 0.1; done
if [ "$(refcnt)" = "$base_ref" ]; then
  pass kernel_refcnt_back "$base_ref after the tools exited"
else
  fail kernel_refcnt_back "refcnt $(refcnt) after the tools exited, was $base_ref"
fi

# A failed run: each msmvm-stat's line for that case says so
for g in "${groups[@]}"; do
  [ "${gok[$g]}" = 1 ] || continue
  for n in "${!case_err[@]}"; do fail "kernel_${g}_${cases[$n]}" "${case_err[$n]}"; done
done

# Every report against the twin, in one jq (each start of jq takes most of a second here):
# each case's processes and VMs against its summary (pids and addresses differ between
# cases), the totals against all the cases' summaries together (nothing else issues
# VM_BINDs in the guest), the plan and the health counters.
jgroups=() jcases=() jchecks="if false then false"
for g in "${groups[@]}"; do
  [ "${gok[$g]}" = 1 ] && jgroups+=("{\"name\":\"$g\",\"attach\":\"${g%_*}\",\"hooks\":\"${g#*_}\",\"file\":\"$tmp/$g.json\"}")
done
for n in "${!cases[@]}"; do
  [ -n "${case_err[$n]:-}" ] && continue
  # (the checks hold no quote: they go into JSON and jq as they are)
  jcases+=("{\"i\":$n,\"name\":\"${cases[$n]}\",\"file\":\"$tmp/sum$n.json\",\"secs\":${times[$n]},\"check\":\"${checks[$n]}\"}")
  jchecks+=" elif \$i == $n then (${checks[$n]})"
done
jchecks+=" else false end"
if [ ${#jgroups[@]} -gt 0 ]; then
  IFS=,
  jq -n -r --argjson groups "[${jgroups[*]}]" --argjson cases "[${jcases[*]}]" \
     --arg attach_s "$attach_s" "$STAT_CMP_JQ"'
def check($i): '"$jchecks"';
def line($name; $bad; $note):
  if ($bad | length) == 0 then "ok \($name) # \($note)"
  else "not ok \($name)\n" + ($bad[:20] | map("#   " + (tostring | split("\n")[0])) | join("\n")) end;
def figures: "binds \(.binds), waits \(.waits), interrupted \(.interrupted_waits), drift \(.drift)";
(reduce inputs as $x ({}; .[input_filename] = $x)) as $f
| [$f[$cases[].file]] as $sums
| $groups[] as $g | $f[$g.file] as $s | "kernel_\($g.name)" as $p
| if ($s | type) != "object" or $s.type != "final" then
    line("\($p)_totals"; ["no final report from msmvm-stat"]; "")
  else
    (($s.plan // {}) as $plan
     | (if $g.attach == "fentry" then ["fentry", "fexit"] else ["kprobe", "kretprobe"] end) as $want
     | [(if $plan.attach != $g.attach or $plan.kind != $g.hooks then
           "plan: attach \($plan.attach), kind \($plan.kind)" else empty end),
        (if ($plan.probes // []) == [] then "plan: no probes" else empty end),
        ($plan.probes // [])[] | select(.attach != $want[if .return then 1 else 0 end])
          | "probe \(.program) (\(.function)) attached as \(.attach)"] +
       [($s.health // {"health": "missing"}) | to_entries[]
          | select(.key != "events" and .value != 0) | "health \(.key) \(.value)"]
     | line("\($p)_plan"; .;
            "\($plan.attach) \($plan.kind), \($plan.probes | length) probes (\([$plan.probes[].attach] | unique | join("/"))), health zero")),
    ($cases[] as $c | $f[$c.file] as $m
     | [stat_cmp($s; $m; "twin"; "processes")] +
       (if ($m.totals | check($c.i)) then [] else
          ["the run does not show what this case is about (\($c.check)): \($m.totals | tojson)"] end)
     | line("\($p)_\($c.name)"; .; "\($m.totals | figures); \($c.secs) s")),
    (summary_merge($sums) as $all
     | [stat_cmp($s; $all; "twin"; "totals")]
     | line("\($p)_totals"; .; "\($sums | length) runs, binds \($all.totals.binds); attach \($attach_s) s"))
  end' "$tmp"/*.json 2>&1 || fail stat_kernel_compare "jq failed"
  unset IFS
fi
