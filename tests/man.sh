#!/usr/bin/env bash
# The man pages (docs/man/): each passes `mandoc -T lint -W warning` with nothing to say, and
# documents exactly the options its tool's --help names (the built tool is the truth, not the
# page): long options, short ones and which long option each short one stands for, and each
# option's argument. msmvm-alert.conf(5) documents exactly the keys msmvm-alert's config
# parser accepts (asked of `msmvm-alert --check-config`), and its example passes that check.
#
# The pages' convention, which this parses: in a section whose name holds "OPTIONS", each
# option is a .TP whose tag line is \fB\-x\fR, \fB\-\-long\fR=\fIARG\fR (no short form: just
# \fB\-\-long\fR...; an optional argument [=\fIARG\fR]; msmvm-sim's " \fIARG\fR" form too).
# Tags that do not start with a dash (operands) are not options. In msmvm-alert.conf(5), each
# .TP tag of the KEYS section starts with the key.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
unset ARGP_HELP_FMT	# argp's layout as it is by default: rows, one option each
BUILD=${BUILD:-build}
MAN=${MAN_DIR:-docs/man}

# shellcheck source=tests/lib.sh
. tests/lib.sh
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

FAIL_LINES=40

# page tool: every tool has a page; msmvm-alert.conf.5 is checked against msmvm-alert below
pages=(msmvm-stat.8:msmvm-stat msmvmtop.8:msmvmtop msmvm-trace.8:msmvm-trace
       msmvm-alert.8:msmvm-alert msmvm-tune.1:msmvm-tune msmvm-sim.1:msmvm-sim
       msmvm-alert.conf.5:)

# --- facts, one per line: "L --long", "S -x --long" (a short form and its long one),
# "A --long ARG" (an argument named for it; [ARG] when optional)

# help_facts TOOL (tests/lib.sh): TOOL's --help text on stdin, as facts

# page_facts PAGE: the same from the .TP tags of the page's OPTIONS sections; a dash tag
# that does not parse is said as "X tag" (reported)
page_facts() {
  awk '
    /^\.SH/ { sec = toupper($0); opts = (sec ~ /OPTIONS/); next }
    /^\.TP/ { tag = opts; next }
    tag { print; tag = 0 }
  ' "$1" |
    sed -E 's/\\f(\[[^]]*\]|\(..|.)//g; s/\\-/-/g; s/\\&//g; s/[[:space:]]+$//' |
    while IFS= read -r t; do
      case $t in -*) ;; *) continue ;; esac
      if [[ $t =~ ^(-[[:alnum:]?],\ )?(--[[:alnum:]][[:alnum:]-]*)(=([^][:space:][]+)|\[=([^][:space:]]+)\]|\ ([^][:space:][]+))?$ ]]; then
        local short=${BASH_REMATCH[1]%, } long=${BASH_REMATCH[2]}
        local arg=${BASH_REMATCH[4]}${BASH_REMATCH[6]}
        [ -n "${BASH_REMATCH[5]}" ] && arg="[${BASH_REMATCH[5]}]"
        echo "L $long"
        [ -n "$short" ] && echo "S $short $long"
        [ -n "$arg" ] && echo "A $long $arg"
      elif [[ $t =~ ^(-[[:alnum:]?])$ ]]; then
        echo "S ${BASH_REMATCH[1]} -"
      else
        echo "X $t"
      fi
    done
}

# compare NAME HELP_FACTS PAGE_FACTS
compare() {
  local name=$1 hf=$2 pf=$3 d=$tmp/cmp
  mkdir -p "$d"
  local errs=() l
  sort -u "$hf" >"$d/h"
  sort -u "$pf" >"$d/p"
  while IFS= read -r l; do errs+=("page: a tag that is no option (convention: see tests/man.sh): ${l#X }"); done \
    < <(grep '^X ' "$d/p")
  grep '^L ' "$d/h" | cut -c3- >"$d/hl"
  grep '^L ' "$d/p" | cut -c3- >"$d/pl"
  while IFS= read -r l; do errs+=("in --help, not in the page: $l"); done < <(comm -23 "$d/hl" "$d/pl")
  while IFS= read -r l; do errs+=("in the page, not in --help: $l"); done < <(comm -13 "$d/hl" "$d/pl")
  grep '^S ' "$d/h" | cut -c3- >"$d/hs"
  grep '^S ' "$d/p" | cut -c3- >"$d/ps"
  while IFS= read -r l; do errs+=("short option in --help, not in the page: $l"); done < <(comm -23 "$d/hs" "$d/ps")
  while IFS= read -r l; do errs+=("short option in the page, not in --help: $l"); done < <(comm -13 "$d/hs" "$d/ps")
  # arguments: the page's must be one --help names for that option; none where it names none
  local long parg hargs
  while IFS= read -r long; do
    parg=$(awk -v o="$long" '$1 == "A" && $2 == o { print $3 }' "$d/p")
    hargs=$(awk -v o="$long" '$1 == "A" && $2 == o { print $3 }' "$d/h")
    if [ -z "$hargs" ] && [ -n "$parg" ]; then
      errs+=("$long: the page gives it an argument ($parg), --help none")
    elif [ -n "$hargs" ] && [ -z "$parg" ]; then
      errs+=("$long: the page gives it no argument, --help: $(echo $hargs)")
    elif [ -n "$hargs" ] && ! grep -qxF -- "$parg" <<<"$hargs"; then
      errs+=("$long: argument $parg in the page, $(echo $hargs) in --help")
    fi
  done < <(comm -12 "$d/hl" "$d/pl")
  if [ ${#errs[@]} -eq 0 ]; then
    pass "$name" "$(wc -l <"$d/hl") long options, $(wc -l <"$d/hs") short ones"
  else
    fail "$name" "${errs[@]}"
  fi
}

# --- mandoc lint, per page
if ! command -v mandoc >/dev/null; then
  echo "skip man_lint # mandoc is not installed (tools/deps.sh)"
fi
for pt in "${pages[@]}"; do
  page=$MAN/${pt%%:*}
  if [ ! -f "$page" ]; then
    fail "man_page_${pt%%:*}" "$page is missing"
    continue
  fi
  command -v mandoc >/dev/null || continue
  out=$(mandoc -T lint -W warning "$page" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && [ -z "$out" ]; then
    pass "man_lint_${pt%%:*}"
  else
    fail "man_lint_${pt%%:*}" "mandoc -T lint -W warning $page: status $rc" "$out"
  fi
done

# --- options: the page against the tool's --help
for pt in "${pages[@]}"; do
  page=$MAN/${pt%%:*} tool=${pt#*:}
  [ -n "$tool" ] && [ -f "$page" ] || continue
  if [ ! -x "$BUILD/$tool" ]; then
    echo "skip man_options_${pt%%:*} # $BUILD/$tool is not built (make)"
    continue
  fi
  tool_help "$BUILD" "$tool" >"$tmp/help" || fail "man_options_${pt%%:*}" "$tool --help failed"
  help_facts "$tool" <"$tmp/help" >"$tmp/hf"
  page_facts "$page" >"$tmp/pf"
  if ! grep -q '^L ' "$tmp/hf"; then
    fail "man_options_${pt%%:*}" "no option found in $tool --help: the parser is wrong"
    continue
  fi
  compare "man_options_${pt%%:*}" "$tmp/hf" "$tmp/pf"
done

# --- msmvm-alert.conf(5): its keys against what msmvm-alert's config parser accepts
conf=$MAN/msmvm-alert.conf.5
alert=$BUILD/msmvm-alert
if [ ! -x "$alert" ]; then
  echo "skip man_conf_keys # $alert is not built (make)"
elif [ -f "$conf" ]; then
  mkdir -p "$tmp/dir"
  # check KEY VALUE: the config "KEY = VALUE" under --check-config (a metrics output on the
  # command line, so that a non-trigger key alone is something to do); rc, $tmp/check.err
  check() {
    printf '%s = %s\n' "$1" "$2" >"$tmp/c.conf"
    timeout 30 "$alert" --config "$tmp/c.conf" --textfile "$tmp/m.prom" --check-config \
      >/dev/null 2>"$tmp/check.err"
    rc=$?
  }
  # the check can fail: an unknown key and a bad value are refused
  check no-such-key 1
  if [ $rc -ne 2 ]; then
    fail man_conf_check_config_refuses "an unknown key: --check-config exit $rc, expected 2" \
      "$(cat "$tmp/check.err")"
  else
    check stall 2000/1000
    if [ $rc -ne 2 ]; then
      fail man_conf_check_config_refuses "stall = 2000/1000: exit $rc, expected 2"
    else
      pass man_conf_check_config_refuses
    fi
  fi
  alert_config_keys "$alert" "$tmp" >"$tmp/keys"
  mapfile -t undecided <"$tmp/undecided"
  sort -u "$tmp/keys" -o "$tmp/keys"
  awk '
    /^\.SH/ { keys = (toupper($0) ~ /^\.SH "?KEYS/); next }
    /^\.TP/ { tag = keys; next }
    tag { print; tag = 0 }
  ' "$conf" | sed -E 's/\\f(\[[^]]*\]|\(..|.)//g; s/\\-/-/g; s/\\&//g' |
    awk '{ print $1 }' | sort -u >"$tmp/pkeys"
  errs=("${undecided[@]}")
  while IFS= read -r l; do errs+=("accepted by msmvm-alert's config parser, not in the page: $l"); done \
    < <(comm -23 "$tmp/keys" "$tmp/pkeys")
  while IFS= read -r l; do errs+=("in the page, not a key msmvm-alert accepts: $l"); done \
    < <(comm -13 "$tmp/keys" "$tmp/pkeys")
  if [ ! -s "$tmp/keys" ]; then
    fail man_conf_keys "msmvm-alert accepted no key at all: the check is broken" "$(cat "$tmp/check.err")"
  elif [ ${#errs[@]} -eq 0 ]; then
    pass man_conf_keys "$(wc -l <"$tmp/keys") keys"
  else
    fail man_conf_keys "${errs[@]}"
  fi

  # the page's example file (its .EX block under EXAMPLES) is a valid config
  awk '
    /^\.SH/ { ex = (toupper($0) ~ /^\.SH "?EXAMPLES?/); next }
    ex && /^\.EX/ { inex = 1; n++; next }
    ex && /^\.EE/ { inex = 0; if (n == 1) exit; next }
    inex && n == 1 { print }
  ' "$conf" | sed -E 's/\\-/-/g; s/\\\(aq/'\''/g; s/\\e/\\/g; s/\\&//g' >"$tmp/example.conf"
  if [ ! -s "$tmp/example.conf" ]; then
    fail man_conf_example_valid "no .EX block under EXAMPLES in $conf"
  elif timeout 30 "$alert" --config "$tmp/example.conf" --check-config >/dev/null 2>"$tmp/check.err"; then
    pass man_conf_example_valid "$(grep -c '^[^#]*=' "$tmp/example.conf") settings"
  else
    fail man_conf_example_valid "the example in $conf: msmvm-alert --check-config refuses it" \
      "$(cat "$tmp/check.err")"
  fi
fi

[ $failed -eq 0 ]
