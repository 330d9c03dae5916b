#!/usr/bin/env bash
# docs/msmvm-tune.md's worked example, run as the page writes it: the commands are taken from
# the page's first `sh` code block after "## Worked example" (so the page and this test cannot
# drift apart), run in a scratch directory holding copies of build/'s tools (the commands use
# build/ paths and write their files where they run), and their output is held to the output
# block the page shows next, in the numbers that do not depend on the machine's timing (the page
# says which): the first line's counts, the driver's table's limits and UNUSED%, the overcount
# line's pages, and the recommendation (and the driver's peaks to within 2 %). Ground truth too: the model's own summary
# (the example's -o file) has the calls, ops and pages the replay reports.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${BUILD:-build}
DOC=docs/msmvm-tune.md

. tests/lib.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# block N: the Nth fenced block after the worked example's heading, without its fences
block() {
  awk -v want="$1" '
    /^## Worked example/ { in_ex = 1; next }
    in_ex && /^## / { exit }
    in_ex && /^```/ { if (inb) { inb = 0; if (n == want) exit; next } n++; inb = 1; next }
    in_ex && inb && n == want { print }' "$DOC"
}
block 1 >"$tmp/commands.sh"
block 2 >"$tmp/expected.txt"

if ! grep -q 'build/msmvm-tune' "$tmp/commands.sh" || ! grep -q '^msmvm-tune: ' "$tmp/expected.txt"; then
  fail tune_example_found "$DOC: no worked example (commands, then msmvm-tune's output) under '## Worked example'" \
    "commands: $(cat "$tmp/commands.sh")"
  exit 1
fi
pass tune_example_found "$(wc -l <"$tmp/commands.sh") commands"

if [ "$(id -u)" -ne 0 ]; then
  echo "skip tune_example_reproduces # needs root to attach uprobes"
  exit 0
fi
# The example records with `msmvm-trace ... -- CMD` (attach, run CMD, end when it exits).
if grep -q -- 'msmvm-trace .* -- ' "$tmp/commands.sh" &&
   ! grep -qE -- '(\[--\]|--) *(CMD|COMMAND)' <<<"$("$B/msmvm-trace" --help 2>&1)"; then
  echo "skip tune_example_reproduces # $B/msmvm-trace has no '-- CMD' (run a command while recording) yet, which the example uses"
  exit 0
fi

# Private copies: uprobes bind to the file's inode, and other tests probe build/msmvm-sim.
mkdir -p "$tmp/run/build"
cp "$B/msmvm-trace" "$B/msmvm-sim" "$B/msmvm-tune" "$tmp/run/build/"
if ! (cd "$tmp/run" && timeout 600 bash -e "$tmp/commands.sh") >"$tmp/out.txt" 2>"$tmp/err.txt"; then
  fail tune_example_runs "the example's commands failed" "$(cat "$tmp/commands.sh")" \
    "stderr: $(tail -n 20 "$tmp/err.txt")"
  exit 1
fi
pass tune_example_runs

# The numbers of msmvm-tune's text output that a run reproduces, one fact a line.
facts() {
  awk '
    /^msmvm-tune: / {
      line = $0; sub(/^msmvm-tune: [^:]*: /, "", line)
      limit = line; sub(/.*recorded at limit /, "", limit); sub(/[^0-9].*/, "", limit)
      sub(/ over .*/, "", line)
      print "calls: " line; print "recorded limit: " limit
    }
    /^Driver.s count/ { drv = 1; next }
    drv && /^ *LIMIT/ { next }
    drv && NF == 0 { drv = 0 }
    drv {
      rec = substr($0, 4, 1) == ">"
      split(substr($0, 5), f, " ")
      printf "limit %s: unused %s%%\n", f[1], f[11]
      if (rec) print "recommended (table): " f[1]
    }
    /^Overcount at limit/ {
      line = $0; sub(/.*preallocated /, "", line); sub(/\);.*/, ")", line)
      print "overcount: " line
    }
    /^Recommended limit: / { l = $3; sub(/\.$/, "", l); print "recommended: " l }'
}
facts <"$tmp/expected.txt" >"$tmp/want"
facts <"$tmp/out.txt" >"$tmp/got"
if [ "$(wc -l <"$tmp/want")" -lt 8 ]; then
  fail tune_example_reproduces "too few facts read from the page's output block" "$(cat "$tmp/want")"
elif diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
  pass tune_example_reproduces "$(grep -c . "$tmp/want") facts, $(grep '^recommended: ' "$tmp/got")"
else
  fail tune_example_reproduces "msmvm-tune's output differs from $DOC's (- page, + this run):" \
    "$(tail -n +3 "$tmp/diff")"
fi

# The driver's peaks: nearly fixed (the thread is always throttled and its checks follow the
# frees), but a thread preempted for longer than a job on a loaded machine can let one more free
# in before a check at a high limit: within 2 % of the page's, which a change to the replay
# would be far beyond.
peaks() { awk '/^Driver.s count/ { d = 1; next } d && /^ *LIMIT/ { next } d && NF == 0 { exit }
               d { split(substr($0, 5), f, " "); print f[1], f[2] }'; }
bad=$(join <(peaks <"$tmp/expected.txt" | sort) <(peaks <"$tmp/out.txt" | sort) |
  awk '{ d = $3 - $2; if (d < 0) d = -d; if (d > $2 * 0.02) printf "limit %s: peak %s pages, the page says %s\n", $1, $3, $2 }')
n=$(join <(peaks <"$tmp/expected.txt" | sort) <(peaks <"$tmp/out.txt" | sort) | wc -l)
if [ "$n" -lt 5 ]; then
  fail tune_example_peaks "only $n limits in both the page's table and this run's"
elif [ -n "$bad" ]; then
  fail tune_example_peaks "$bad"
else
  pass tune_example_peaks "$n limits within 2 % of the page's"
fi

# Ground truth: the model's summary, wherever the example has it written.
sum=$(grep -o -- '-o [^ ]*\.json' "$tmp/commands.sh" | head -n 1 | cut -c4-)
if [ -z "$sum" ] || ! jq -e .totals "$tmp/run/$sum" >/dev/null 2>&1; then
  fail tune_example_truth "no model summary (-o FILE.json) from the example's commands"
else
  want=$(jq -r '.totals | "\(.binds) VM_BINDs, \(.ops) ops; \(.pages_counted) pages for \(.pages_used) used"' "$tmp/run/$sum")
  got=$(awk '/^msmvm-tune: / { sub(/^msmvm-tune: [^:]*: /, ""); split($0, a, ", "); c = a[1] ", " a[2] }
             /^Overcount at limit/ { sub(/.*preallocated /, ""); sub(/ \(.*/, ""); o = $0 }
             END { print c "; " o }' "$tmp/out.txt")
  if [ "$want" = "$got" ]; then pass tune_example_truth "$got"
  else fail tune_example_truth "model: $want" "msmvm-tune: $got"; fi
fi
