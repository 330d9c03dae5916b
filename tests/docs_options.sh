#!/usr/bin/env bash
# Each tool's doc (docs/TOOL.md; docs/model.md for msmvm-sim and its commands) names every
# option the built tool's --help names, and names no option the tool does not have (the built
# tool is the truth, not the doc). tests/man.sh does the same for the man pages; both read
# --help through tests/lib.sh's help_facts.
#
# The doc's side, both ways:
# - an option of --help is in the doc when its text holds it as a word (`--name`, not
#   `--name-more`); a short option (-x) likewise, as "-x" between non-word characters;
# - the options the doc mentions are the --words in its `code spans` and indented example
#   lines, except after the name of another msmvm tool there ("msmvm-sim run --seed 1" in
#   msmvm-stat.md is msmvm-sim's), as help_facts reads --help.
# And msmvm-alert's config keys (asked of its parser with --check-config) are its long options
# minus the ones docs/msmvm-alert.md lists as not keys (the bullets after the line that starts
# "Options that are not config keys").
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
unset ARGP_HELP_FMT
BUILD=${BUILD:-build}
DOCS=${DOCS_DIR:-docs}
# shellcheck source=tests/lib.sh
. tests/lib.sh

failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
FAIL_LINES=40

# doc_mentions TOOL DOC: the --options the doc's code spans and example lines name, one a line
doc_mentions() {
  local t text
  # code spans (one a line) and indented lines (an indented line that names no option adds
  # nothing); one whose command is another program (`protoc --decode`, `make run`) is that
  # program's: its first word, past sudo, VAR=value and a directory, is neither TOOL nor an option
  # shellcheck disable=SC2016  # backticks: Markdown's, not the shell's
  text=$( { grep -oE '`[^`]+`' "$2" | tr -d '`'; grep -E '^(    |	)' "$2"; } |
    sed -E 's/^[[:space:]]+//; s/^sudo +//; s/^([A-Z_]+=[^ ]* +)+//; s,^[^ /]*/,,' |
    awk -v tool="$1" '{ w = $1 } w ~ /^[A-Za-z][A-Za-z0-9_.+-]*:?$/ && w != tool { next } { print }')
  for t in $MSMVM_TOOLS; do
    [ "$t" = "$1" ] && continue
    text=$(sed -E "s/(^|[^[:alnum:]-])$t([^[:alnum:]-].*|\$)/\1/" <<<"$text")
  done
  grep -oE -- '(^|[^[:alnum:]-])--[[:alnum:]][[:alnum:]-]*' <<<"$text" |
    sed -E 's/^[^-]//; s/-+$//' | sort -u
}

# word_in FILE WORD: WORD in FILE's text, not as part of a longer option or word
word_in() {
  grep -qE -- "(^|[^[:alnum:]-])${2//\?/[?]}([^[:alnum:]-]|\$)" "$1"
}

for tool in $MSMVM_TOOLS; do
  doc=$DOCS/$tool.md
  [ "$tool" = msmvm-sim ] && doc=$DOCS/model.md
  name=docs_options_$tool
  if [ ! -x "$BUILD/$tool" ]; then
    echo "skip $name # $BUILD/$tool is not built (make)"
    continue
  fi
  if [ ! -f "$doc" ]; then
    fail "$name" "$doc is missing"
    continue
  fi
  tool_help "$BUILD" "$tool" >"$tmp/help" || { fail "$name" "$tool --help failed"; continue; }
  help_facts "$tool" <"$tmp/help" >"$tmp/hf"
  grep '^L ' "$tmp/hf" | cut -c3- | sort -u >"$tmp/hl"
  grep '^S ' "$tmp/hf" | cut -d' ' -f2 | sort -u >"$tmp/hs"
  if [ ! -s "$tmp/hl" ]; then
    fail "$name" "no option found in $tool --help: the parser is wrong"
    continue
  fi
  errs=()
  while IFS= read -r o; do
    word_in "$doc" "$o" || errs+=("in --help, not in $doc: $o")
  done < <(cat "$tmp/hl" "$tmp/hs")
  doc_mentions "$tool" "$doc" >"$tmp/dl"
  while IFS= read -r o; do
    errs+=("in $doc, not in $tool --help: $o")
  done < <(comm -13 "$tmp/hl" "$tmp/dl")
  if [ ${#errs[@]} -eq 0 ]; then
    pass "$name" "$(wc -l <"$tmp/hl") long options, $(wc -l <"$tmp/hs") short ones, $(wc -l <"$tmp/dl") named in the doc"
  else
    fail "$name" "${errs[@]}"
  fi
done

# --- msmvm-alert's config keys: its long options minus the documented exceptions
alert=$BUILD/msmvm-alert
doc=$DOCS/msmvm-alert.md
if [ ! -x "$alert" ]; then
  echo "skip docs_alert_config_keys # $alert is not built (make)"
else
  # the check can fail: an unknown key is refused, a known one taken
  printf 'no-such-key = 1\n' >"$tmp/c.conf"
  timeout 30 "$alert" --config "$tmp/c.conf" --textfile "$tmp/m.prom" --check-config \
    >/dev/null 2>&1
  rc1=$?
  printf 'stall = 100/1000\n' >"$tmp/c.conf"
  timeout 30 "$alert" --config "$tmp/c.conf" --check-config >/dev/null 2>&1
  rc2=$?
  alert_config_keys "$alert" "$tmp" | sort -u >"$tmp/keys"
  # shellcheck disable=SC2016  # backticks: Markdown's, not the shell's
  awk '
    /^Options that are not config keys/ { on = 1; next }
    on && /^- / { print; next }
    on && /^  / { next }
    on { exit }
  ' "$doc" | grep -oE -- '`--[[:alnum:]][[:alnum:]-]*`' | tr -d '`' | sed 's/^--//' |
    sort -u >"$tmp/except"
  "$alert" --help 2>&1 | help_facts msmvm-alert | grep '^L ' | cut -c5- | sort -u >"$tmp/longs"
  comm -23 "$tmp/longs" "$tmp/except" >"$tmp/expected"
  errs=()
  [ $rc1 -eq 2 ] || errs+=("an unknown key: --check-config exit $rc1, expected 2")
  [ $rc2 -eq 0 ] || errs+=("stall = 100/1000: --check-config exit $rc2, expected 0")
  [ -s "$tmp/except" ] || errs+=("$doc lists no exceptions (\"Options that are not config keys\" and its bullets)")
  while IFS= read -r l; do errs+=("$l"); done <"$tmp/undecided"
  while IFS= read -r l; do errs+=("a long option, not a config key, not listed as an exception in $doc: $l"); done \
    < <(comm -23 "$tmp/expected" "$tmp/keys")
  while IFS= read -r l; do errs+=("listed as not a config key in $doc, but the parser takes it: $l"); done \
    < <(comm -12 "$tmp/except" "$tmp/keys")
  while IFS= read -r l; do errs+=("listed as an exception in $doc, not an option: $l"); done \
    < <(comm -23 "$tmp/except" "$tmp/longs")
  if [ ${#errs[@]} -eq 0 ]; then
    pass docs_alert_config_keys "$(wc -l <"$tmp/keys") keys, $(wc -l <"$tmp/except") exceptions"
  else
    fail docs_alert_config_keys "${errs[@]}"
  fi
fi

[ $failed -eq 0 ]
