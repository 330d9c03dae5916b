#!/usr/bin/env bash
# msmvm-stat on the kernel twin (msm_kmodel.ko) with each attach kind (--attach=fentry,
# --attach=kprobe) and each plan (--hooks direct, fallback). Runs INSIDE the guest
# (tools/guest/run), as root, from the project root, with msm_kmodel loaded; prints
# "ok ..." / "not ok ..." lines. Each case: msmvm-stat attached, a storm of VM_BINDs that
# waits in the throttle and is interrupted by signals, then msmvm-stat's totals against the
# twin's ground truth (debugfs vms), exactly. Also: the plan names the twin and the attach
# kind; fentry/fexit hold the module (its refcnt, rmmod refused), kprobes do not.
set -uo pipefail

BUILD=${BUILD:-build}
STAT=$BUILD/msmvm-stat
CLIENT=tools/kmodel/kmodel-client
P=/sys/module/msm_kmodel/parameters
fail=0

ok() { echo "ok attach: $*"; }
nok() { echo "not ok attach: $*"; fail=1; }

if [ ! -d /sys/module/msm_kmodel ]; then
  echo "not ok attach: msm_kmodel is not loaded (run inside tools/guest/run)"
  exit 1
fi
# rmmod: the guest's kmod (tools/guest/fetch unpacks it; the host may have none)
RMMOD=$(command -v rmmod || true)
if [ -z "$RMMOD" ] && [ -r "$BUILD/guest/kernel.env" ]; then
  # shellcheck disable=SC1091
  . "$BUILD/guest/kernel.env"
  RMMOD=$KMOD_SBIN/rmmod
  export LD_LIBRARY_PATH=$KMOD_LIBS
fi

tmp=$(mktemp -d)
stat_pid=
cleanup() {
  [ -n "$stat_pid" ] && kill -INT "$stat_pid" 2>/dev/null && wait "$stat_pid" 2>/dev/null
  for k in prealloc_limit job_cost_us interrupt_ppm; do
    [ -f "$tmp/$k" ] && cat "$tmp/$k" >"$P/$k"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
for k in prealloc_limit job_cost_us interrupt_ppm; do cat "$P/$k" >"$tmp/$k"; done

# A small limit and slow jobs: the storm's threads wait in the throttle; a quarter of the
# threads about to sleep get SIGURG (the client has a handler: -ERESTARTSYS, retried).
echo 64 >$P/prealloc_limit
echo 200 >$P/job_cost_us
echo 250000 >$P/interrupt_ppm

refcnt() { cat /sys/module/msm_kmodel/refcnt; }
base_ref=$(refcnt)

for attach in fentry kprobe; do
  for hooks in direct fallback; do
    name="--attach=$attach --hooks $hooks"
    "$STAT" --attach="$attach" --hooks "$hooks" --json >"$tmp/stat.json" 2>"$tmp/stat.err" &
    stat_pid=$!
    for _ in $(seq 600); do
      grep -q 'attached' "$tmp/stat.err" && break
      kill -0 "$stat_pid" 2>/dev/null || break
      sleep 0.1
    done
    if ! grep -q 'attached' "$tmp/stat.err"; then
      nok "$name: msmvm-stat did not attach: $(head -c 600 "$tmp/stat.err")"
      wait "$stat_pid"
      stat_pid=
      continue
    fi
    want_kind=$([ "$attach" = fentry ] && echo "fentry/fexit" || echo "kprobes")
    if grep -q "(msm_kmodel, the kernel twin; $want_kind) ($hooks)" "$tmp/stat.err"; then
      ok "$name: $(head -n1 "$tmp/stat.err" | sed 's/ in [0-9.]* ms;.*//')"
    else
      nok "$name: start-up line: $(head -n1 "$tmp/stat.err")"
    fi

    # fentry/fexit hold a reference on the module: rmmod is refused; kprobes hold none
    ref=$(refcnt)
    if [ "$attach" = fentry ]; then
      if [ "$ref" -gt "$base_ref" ] && ! "$RMMOD" msm_kmodel >"$tmp/rmmod" 2>&1 &&
         grep -q 'in use' "$tmp/rmmod" && [ -d /sys/module/msm_kmodel ]; then
        ok "$name: refcnt $ref (was $base_ref), rmmod refused: $(head -n1 "$tmp/rmmod")"
      else
        nok "$name: refcnt $ref (was $base_ref), rmmod: $(head -c 300 "$tmp/rmmod")"
        [ -d /sys/module/msm_kmodel ] || { echo "not ok attach: the twin is gone"; exit 1; }
      fi
    elif [ "$ref" = "$base_ref" ]; then
      ok "$name: refcnt $ref, unchanged (kprobes let the module go)"
    else
      nok "$name: refcnt $ref with kprobes, was $base_ref"
    fi

    if ! "$CLIENT" storm --threads 4 --binds 30 --nops 6 --sigurg >"$tmp/storm.json" \
         2>"$tmp/storm.err"; then
      nok "$name: storm failed: $(head -c 400 "$tmp/storm.err")"
    fi
    kill -INT "$stat_pid"
    wait "$stat_pid"
    rc=$?
    stat_pid=
    [ "$rc" = 0 ] || nok "$name: msmvm-stat exited $rc: $(tail -c 400 "$tmp/stat.err")"

    # the twin's VM (the storm's only one) against msmvm-stat's totals
    if ! python3 - "$tmp/storm.json" "$tmp/stat.json" "$attach" "$hooks" >"$tmp/cmp" 2>&1 <<'EOF'
import json, sys
storm = json.load(open(sys.argv[1]))
vm = storm["vm"]
if isinstance(vm, str):
    vm = dict(t.split("=", 1) for t in vm.split())
final = [json.loads(l) for l in open(sys.argv[2]) if '"type":"final"' in l][0]
t, plan = final["totals"], final["plan"]
truth = {k: int(vm[k]) for k in ("binds", "ops", "errors", "pages_counted", "pages_used",
                                  "waits", "interrupted_waits")}
truth["drift"] = int(vm["in_flight"]) - int(vm["outstanding_pages"])
bad = [f"{k}: twin {v}, msmvm-stat {t[k]}" for k, v in truth.items() if t[k] != v]
if plan["attach"] != sys.argv[3] or plan["kind"] != sys.argv[4]:
    bad.append(f"plan {plan['attach']} {plan['kind']}")
want = ("fentry", "fexit") if sys.argv[3] == "fentry" else ("kprobe", "kretprobe")
bad += [f"{p['program']} is {p.get('attach')}" for p in plan["probes"]
        if p.get("attach") != want[p["return"]]]
bad += [f"health {k} {v}" for k, v in final.get("health", {}).items() if v and k != "events"]
print(" ".join(f"{k}={v}" for k, v in truth.items()))
if bad:
    print("; ".join(bad))
    sys.exit(1)
EOF
    then
      nok "$name: $(tr '\n' ' ' <"$tmp/cmp")"
    elif ! grep -q 'interrupted_waits=[1-9]' "$tmp/cmp" || ! grep -q 'waits=[1-9]' "$tmp/cmp"; then
      nok "$name: the storm neither waited nor was interrupted: $(cat "$tmp/cmp")"
    else
      ok "$name: the twin's totals, exactly: $(cat "$tmp/cmp")"
    fi
  done
done

# Gone with the tools: the module's references are back where they were.
if [ "$(refcnt)" = "$base_ref" ]; then
  ok "refcnt back to $base_ref after the tools exited"
else
  nok "refcnt $(refcnt) after the tools exited, was $base_ref"
fi
exit $fail
