#!/usr/bin/env bash
# Every tool's --help (and msmvm-sim's subcommands') fits an 80-column terminal, and argp's
# tools are not wrapped twice.
#
# argp fills the help text to its right margin (79 columns) itself. A paragraph written with
# its own line breaks and a line longer than that gets broken twice: argp wraps the long line,
# then the explicit break comes a word later and leaves that word alone on a line. So, in the
# text as written (argp asked for a margin so wide that it wraps nothing, ARGP_HELP_FMT), each
# line of the description above OPTIONS: is at most 79 columns, or a paragraph by itself.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
B=${BUILD:-build}

failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

FAIL_LINES=40
# shellcheck source=tests/lib.sh
. tests/lib.sh

# wide FILE: its lines wider than 80 columns (display width, UTF-8), numbered
wide() {
  LC_ALL=C.UTF-8 awk '{ n = 0; s = $0; gsub(/\t/, "        ", s)
    while (length(s) > 0) { c = substr(s, 1, 1); s = substr(s, 2); n++ }
    if (n > 80) printf "line %d (%d columns): %s\n", NR, n, $0 }' "$1"
}

# twice FILE: lines of an argp text (wide margin) that argp would break and that carry on
# on the next line: the paragraph was wrapped by hand and will be wrapped again
twice() {
  awk '/^OPTIONS:/ || /^  *-/ { exit }
       prev != "" && length(prev) > 79 && $0 != "" { printf "line %d: %s\n", NR - 1, prev }
       { prev = $0 }' "$1"
}

helps=("msmvm-stat" "msmvmtop" "msmvm-trace" "msmvm-alert" "msmvm-tune" "msmvm-sim"
       "msmvm-sim run" "msmvm-sim count")
for h in "${helps[@]}"; do
  read -ra cmd <<<"$h"
  name=help_width_${h// /_}
  if [ ! -x "$B/${cmd[0]}" ]; then
    fail "$name" "$B/${cmd[0]} is not built"
    continue
  fi
  COLUMNS=80 "$B/${cmd[0]}" "${cmd[@]:1}" --help >"$tmp/out" 2>&1
  rc=$?
  w=$(wide "$tmp/out")
  if [ "$rc" -ne 0 ] || [ ! -s "$tmp/out" ]; then
    fail "$name" "'$h --help' exited $rc: $(head -c 300 "$tmp/out")"
  elif [ -n "$w" ]; then
    fail "$name" "'$h --help' is wider than 80 columns:" "$w"
  else
    pass "$name" "$(wc -l <"$tmp/out") lines"
  fi
done

# argp's tools: nothing wrapped twice (the help text comes first, before the options)
for t in msmvm-stat msmvmtop msmvm-trace msmvm-alert msmvm-tune; do
  name=help_wrapped_once_$t
  ARGP_HELP_FMT=rmargin=1000 "$B/$t" --help >"$tmp/raw" 2>&1
  if ! grep -q '^Usage: ' "$tmp/raw"; then
    fail "$name" "no argp help from $t: $(head -c 200 "$tmp/raw")"
    continue
  fi
  tw=$(twice "$tmp/raw")
  if [ -z "$tw" ]; then
    pass "$name"
  else
    fail "$name" "$t --help: these lines of a hand-wrapped paragraph are longer than argp's 79 columns, so argp breaks them again (one line per paragraph, or shorter lines):" "$tw"
  fi
done

[ "$failed" -eq 0 ]
