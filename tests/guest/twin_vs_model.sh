#!/usr/bin/env bash
# The kernel twin's throttle against the model's, in the guest: the same seeded workload run
# by `msmvm-sim run --kernel` (real ioctls on msm_kmodel, drm_sched, kmem_cache) and by
# `msmvm-sim run` (the user-space model), no probes and no fault injection. Both compile the
# same rules (src/driver/), so what the op streams alone decide must be equal exactly:
# binds, ops, errors, pages counted, and, with one queue per VM, pages used and the page
# tables each VM ends with (with several queues per VM the order jobs reach a VM's tables
# is timing, and which job takes a table from its pool with it). Both must throttle a
# storm, never let a throttle check pass above the limit, and end with nothing in flight
# and no drift. Waits, wait times and peaks are timing: only bounded.
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/guest/lib.sh

guest_ready twin_vs_model || exit 0

# The per-VM comparison, in jq: one line per difference. Processes are matched by comm
# (WORKLOAD-N: same index, same seeded ops), VMs by their index in the process.
read -r -d '' TWIN_VS_MODEL <<'JQ'
def vms: [.processes | sort_by(.comm)[] | .comm as $c | .vms | to_entries[] | {key: "\($c) vm \(.key)", value: .value}];
def pass_max: .model.max_in_flight_at_pass;
$t[0] as $t | $m[0] as $m |
"note binds \($t.totals.binds), pages counted \($t.totals.pages_counted) used \($t.totals.pages_used); waits twin \($t.totals.waits) model \($m.totals.waits); peak twin \($t.totals.peak_in_flight) model \($m.totals.peak_in_flight)",
($exact[] as $k | select($t.totals[$k] != $m.totals[$k]) | "totals \($k): twin \($t.totals[$k]), model \($m.totals[$k])"),
(if ([$t.processes[].comm] | sort) != ([$m.processes[].comm] | sort)
 then "processes: twin \([$t.processes[].comm]), model \([$m.processes[].comm])" else empty end),
(($t | vms) as $tv | ($m | vms) as $mv |
  (if ($tv | length) != ($mv | length) then "VMs: twin \($tv | length), model \($mv | length)" else empty end),
  ($mv[] as $v | ([$tv[] | select(.key == $v.key)] | first) as $w |
    if $w == null then "\($v.key) missing from the twin"
    else
      ($exact[] as $k | select($w.value.totals[$k] != $v.value.totals[$k])
        | "\($v.key) \($k): twin \($w.value.totals[$k]), model \($v.value.totals[$k])"),
      (if $tables and ($w.value.model.page_tables != $v.value.model.page_tables)
       then "\($v.key) page_tables: twin \($w.value.model.page_tables), model \($v.value.model.page_tables)" else empty end)
    end)),
# each run on its own: nothing left in flight, no drift, it throttled, no check passed over
# the limit, and the storm went over it
([["twin", $t], ["model", $m]][] as [$who, $r] |
  ($r.limit // 1024) as $lim |
  (if $r.totals.in_flight != 0 or $r.totals.drift != 0 then "\($who): in_flight \($r.totals.in_flight), drift \($r.totals.drift) at the end" else empty end),
  (if $r.totals.waits <= 0 then "\($who): no wait: the storm did not throttle" else empty end),
  (if $r.totals.peak_in_flight < $lim + 1 then "\($who): peak_in_flight \($r.totals.peak_in_flight), not over the limit \($lim)" else empty end),
  ($r | vms[] | select(.value | pass_max == null or pass_max > $lim)
    | "\($who) \(.key): max_in_flight_at_pass \(.value | pass_max) (limit \($lim))"),
  (if $tables and ([$r | vms[] | .value.model.page_tables | select(. == null or . <= 0)] | length) > 0
   then "\($who): a VM without its page_tables" else empty end))
JQ

# versus NAME TABLES EXACT -- SIM_ARGS...: the twin's run and the model's, compared
versus() {
  local name=$1 tables=$2 exact=$3 t0=$SECONDS diffs
  shift 4
  if ! krun "$tmp/twin.json" '.binds > 0' "$@" >"$tmp/krun.out"; then
    fail "$name" "$(cat "$tmp/krun.out")"; return
  fi
  local twin_s=$((SECONDS - t0))
  if ! "$SIM" run "$@" -o "$tmp/model.json" 2>"$tmp/model.err"; then
    fail "$name" "msmvm-sim run $* failed:" "$(tail -n 20 "$tmp/model.err")"; return
  fi
  jq -rn --slurpfile t "$tmp/twin.json" --slurpfile m "$tmp/model.json" \
    --argjson exact "$exact" --argjson tables "$tables" "$TWIN_VS_MODEL" >"$tmp/diffs" 2>&1
  diffs=$(grep -v '^note ' "$tmp/diffs")
  if [ -n "$diffs" ]; then
    fail "$name" "$diffs" "twin:  $(cat "$tmp/twin.json")" "model: $(cat "$tmp/model.json")"
    return
  fi
  pass "$name" "$(sed -n 's/^note //p' "$tmp/diffs"); twin ${twin_s} s, model $((SECONDS - t0 - twin_s)) s"
}

# one queue per VM: each VM's jobs in one seeded order, so its tables too
versus twin_vs_model_storm_one_queue_per_vm true \
  '["binds","ops","errors","pages_counted","pages_used","pages_overcount","in_flight","drift"]' -- \
  -w storm -P 2 --queues 1 -n 15 --job-cost 3000 --seed 71
# two queues on one VM: the calls and their counts are the op streams', the order is not
versus twin_vs_model_storm_two_queues false \
  '["binds","ops","errors","pages_counted","in_flight","drift"]' -- \
  -w storm -P 1 --queues 2 -n 20 --job-cost 3000 --seed 72
