#!/usr/bin/env bash
# Bash completion (tools/completion/msmvm) against the tools themselves: bash-completion and
# the file sourced in a non-interactive bash, its completion function driven through
# COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT as bash fills them, and what it offers checked
# against the built binaries ($BUILD): every option their --help lists is offered; every word
# offered, option or value, is one the tool accepts (it parses past it); the values offered
# for an enumerated option are all those the tool accepts among the words of its --help and
# of its own error message; files, directories and pids where the help says FILE, PATH, CMD,
# DIR, PID; the tool's --help is run once per build, not per TAB.
# One "ok NAME" or "not ok NAME" per check; exits 1 on a failure.
set -uo pipefail
set -f			# words like -? are no patterns
export LC_ALL=C		# one sort order for comm, the tools' messages in English
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
BUILD_ABS=$(cd "$BUILD" 2>/dev/null && pwd) || BUILD_ABS=
COMPLETION=$PWD/tools/completion/msmvm
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
TOOLS=(msmvm-stat msmvmtop msmvm-trace msmvm-alert msmvm-tune msmvm-sim)
SENTINEL=--zz-not-an-option

failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tests/lib.sh
. tests/lib.sh

if [ ! -r "$BASH_COMPLETION" ]; then
  fail completion_bash_completion "$BASH_COMPLETION is missing: install bash-completion (tools/deps.sh)"
  exit 1
fi
for t in "${TOOLS[@]}"; do
  if [ ! -x "$BUILD_ABS/$t" ]; then
    fail completion_binaries "$BUILD/$t is missing: run make first"
    exit 1
  fi
done
unset POSIXLY_CORRECT ARGP_HELP_FMT	# the tools parse options as they do by default

# ---------------------------------------------------------------- the tools' own word

# run_tool OUT TOOL ARGS...: the built tool, stdin empty; exit status in rc, stderr in OUT.err
run_tool() {
  local out=$1 t=$2
  shift 2
  (cd "$tmp/probe" && LC_ALL=C timeout -s KILL 30 "$BUILD_ABS/$t" "$@" >"$out.out" 2>"$out.err" </dev/null)
  rc=$?
}

# opt_accepted TOOL "SUB" WORD: whether the tool (its command SUB) recognises the option
# WORD (as offered: --opt= gets a value). A word and a value ("0") are followed by an
# unknown option, so that the tool always stops at a usage error and never runs.
opt_accepted() {
  local t=$1 sub=$2 w=$3 name=${3%=}
  local -a args=()
  [ -n "$sub" ] && args=("$sub")
  if [ "$t $sub" = "msmvm-sim " ]; then
    run_tool "$tmp/p" "$t" "$w"		# --help, --version: print and exit 0
    [ "$rc" -eq 0 ]
    return
  fi
  if [ "$sub" = count ]; then
    # count takes its options alone or before its ops, and nothing after
    run_tool "$tmp/p" "$t" count "$w"
    [ "$rc" -eq 0 ] && return 0
    local v
    for v in ${4:-}; do
      run_tool "$tmp/p" "$t" count "$w" "$v" map:0x100000000:4K
      [ "$rc" -eq 0 ] && return 0
    done
    return 1
  fi
  case $w in
    *=) args+=("${w}0" "$SENTINEL") ;;
    *) args+=("$w" 0 "$SENTINEL") ;;
  esac
  run_tool "$tmp/p" "$t" "${args[@]}"
  [ "$rc" -ne 137 ] || return 1
  ! grep -qF -e "unrecognized option '$name'" -e "unrecognized option '$name=" \
      -e "unknown option '$name'" -e "invalid option -- '${name#-}'" \
      -e "'$name' is ambiguous" -e "'$name' doesn't allow" "$tmp/p.err"
}

# val_accepted TOOL "SUB" OPT VALUE: whether the tool takes VALUE for OPT: it parses on to
# the unknown option after it (count: computes)
val_accepted() {
  local t=$1 sub=$2 o=$3 v=$4
  local -a args=()
  if [ "$sub" = count ]; then
    if [ "$o" = OP ]; then
      run_tool "$tmp/v" "$t" count "$v:0x100000000:4K"
    else
      run_tool "$tmp/v" "$t" count "$o" "$v" map:0x100000000:4K
    fi
    [ "$rc" -eq 0 ]
    return
  fi
  [ -n "$sub" ] && args=("$sub")
  run_tool "$tmp/v" "$t" "${args[@]}" "$o=$v" "$SENTINEL"
  grep -q -- "$SENTINEL" "$tmp/v.err"
}

# The option table of a help text: "NAME META" per option, one per line (META: the
# argument's name, "-" for none); short options as "-x LONG". Parsed here with awk, apart
# from the completion's own parser.
help_table() {
  awk '
    /^[ \t]*-[-A-Za-z0-9?]/ {
      line = $0; sub(/^[ \t]+/, "", line); short = ""
      if (match(line, /^-[A-Za-z0-9?](,[ \t]*|[ \t]+|$)/)) {
        short = substr(line, 1, 2); line = substr(line, RLENGTH + 1)
      }
      long = ""; meta = "-"
      if (match(line, /^--[A-Za-z0-9][A-Za-z0-9-]*/)) {
        long = substr(line, 1, RLENGTH); rest = substr(line, RLENGTH + 1)
        if (match(rest, /^\[=[^]]+\]/)) meta = "[" substr(rest, 3, RLENGTH - 3) "]"
        else if (match(rest, /^=[^ \t]+/)) meta = substr(rest, 2, RLENGTH - 1)
        else if (match(rest, /^ [A-Z][A-Z0-9_\/]*([ \t]|$)/)) { meta = substr(rest, 2, RLENGTH - 1); sub(/[ \t]$/, "", meta) }
        print long, meta
      }
      if (short != "") print short, (long != "" ? long : "-")
    }'
}

# description OPT: the help text of OPT (its table line and the indented lines after it)
description() {
  awk -v opt="$1" '
    on && /^[ \t]{8}/ && !/^[ \t]*-[-A-Za-z0-9?]/ { print; next }
    { on = 0 }
    /^[ \t]*-[-A-Za-z0-9?]/ && index($0, opt) {
      s = $0; sub(/^[ \t]*(-[A-Za-z0-9?],[ \t]*)?/, "", s)
      if (index(s, opt) == 1 && substr(s, length(opt) + 1, 1) !~ /[a-z0-9-]/) { on = 1; print }
    }'
}

mkdir -p "$tmp/probe"
sim_key="msmvm-sim "
declare -A LONGS SHORTS META HELP
for spec in "msmvm-stat:" "msmvmtop:" "msmvm-trace:" "msmvm-alert:" "msmvm-tune:" \
    "msmvm-sim:" "msmvm-sim:run" "msmvm-sim:count"; do
  t=${spec%%:*} sub=${spec#*:}
  key="$t $sub"
  run_tool "$tmp/h" "$t" ${sub:+"$sub"} --help
  HELP[$key]=$(cat "$tmp/h.out")
  longs= shorts=
  while read -r name meta; do
    case $name in
      # (a name seen again, say in a wrapped example, keeps the table's argument)
      --*) case " $longs " in *" $name "*) ;; *) longs+=" $name" ;; esac
           [ "${META["$key $name"]:--}" = - ] && META["$key $name"]=$meta ;;
      -?) case " $shorts " in *" $name "*) ;; *) shorts+=" $name" ;; esac
          META["$key $name"]=$meta ;;	# META: its long option
    esac
  done < <(printf '%s\n' "${HELP[$key]}" | help_table)
  # options named in the text only (msmvm-sim's, or one inside another's description):
  # those the tool recognises. msmvm-sim's help says 'msmvm-sim COMMAND --help'.
  mentions=$(printf '%s\n' "${HELP[$key]}" ${sub:+"${HELP[$sim_key]}"} |
             grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
  for m in $mentions; do
    case " $longs " in *" $m "*) continue ;; esac
    opt_accepted "$t" "$sub" "$m" && longs+=" $m" && META["$key $m"]='?'
  done
  LONGS[$key]=${longs# } SHORTS[$key]=${shorts# }
done
# a short option's argument is its long one's
for k in "${!META[@]}"; do
  case $k in
    *" -"[!-]) l=${META[$k]}; [ "$l" != - ] && META[$k]=${META[${k% *} $l]:-?} ;;
  esac
done

# the probes can tell: an unknown option and a bogus value are refused
if opt_accepted msmvm-stat "" --zz-bogus || opt_accepted msmvm-sim run --zz-bogus ||
   val_accepted msmvm-stat "" --hooks zz-bogus || val_accepted msmvm-sim run --workload zz-bogus; then
  fail completion_probes_refuse "a probe took --zz-bogus or the value zz-bogus"
else
  pass completion_probes_refuse
fi
if ! opt_accepted msmvm-stat "" --json || ! val_accepted msmvm-stat "" --hooks direct; then
  fail completion_probes_accept "a probe refused msmvm-stat --json or --hooks=direct"
else
  pass completion_probes_accept
fi

# ---------------------------------------------------------------- driving the completion

# A scratch directory with known files for the file options.
work=$tmp/work
mkdir -p "$work/gamma.d" "$tmp/wrap" "$tmp/user/completions"
: >"$work/alpha.perfetto-trace"
: >"$work/beta.conf"
FILES="alpha.perfetto-trace beta.conf gamma.d"
DIRS="gamma.d"

# The driver: one bash with bash-completion and the file, reading command lines (the
# cursor at their end) and printing what the completion offers, "@@ LINE" then "= WORD"s.
# A line "! CMD" is run instead.
cat >"$tmp/driver.sh" <<'EOF'
. "$BASH_COMPLETION" || exit 1
. "$COMPLETION" || exit 1
# COMP_WORDS as readline splits the line: at blanks, and "=" and ":" (in COMP_WORDBREAKS)
# are words of their own
split_line() {
  local line=$1 w c i
  COMP_WORDS=()
  w=
  for ((i = 0; i < ${#line}; i++)); do
    c=${line:i:1}
    case $c in
      ' ') [[ $w ]] && COMP_WORDS+=("$w"); w= ;;
      [=:]) [[ $w ]] && COMP_WORDS+=("$w"); COMP_WORDS+=("$c"); w= ;;
      *) w+=$c ;;
    esac
  done
  if [[ $w || $line == *' ' ]]; then
    COMP_WORDS+=("$w")
  fi
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
}
complete_line() {
  local line=$1 spec func cmd
  split_line "$line"
  COMP_LINE=$line COMP_POINT=${#line} COMP_TYPE=9 COMP_KEY=9
  cmd=${COMP_WORDS[0]}
  spec=$(complete -p "$cmd" 2>/dev/null || complete -p "${cmd##*/}" 2>/dev/null)
  if [[ ! $spec ]]; then
    # what bash's default completion (bash-completion's loader) does: sudo, say
    __load_completion "${cmd##*/}"
    spec=$(complete -p "${cmd##*/}" 2>/dev/null)
  fi
  func=${spec#*-F }
  func=${func%% *}
  COMPREPLY=()
  [[ $spec == *" -F "* ]] && "$func" "$cmd" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
}
while IFS= read -r line; do
  if [[ $line == '! '* ]]; then
    eval "${line#! }"
    continue
  fi
  complete_line "$line"
  printf '@@ %s\n' "$line"
  [[ ${#COMPREPLY[@]} -gt 0 ]] && printf '= %s\n' "${COMPREPLY[@]}"
done
EOF

requests=$tmp/requests
: >"$requests"
req() { printf '%s\n' "$@" >>"$requests"; }

declare -A ENUM	# "TOOL SUB OPT" -> 1: the options whose values are a fixed set
for spec in "msmvm-stat:" "msmvmtop:" "msmvm-trace:" "msmvm-alert:" "msmvm-tune:" \
    "msmvm-sim:run" "msmvm-sim:count"; do
  t=${spec%%:*} sub=${spec#*:}
  key="$t $sub" cmd="$t${sub:+ $sub}"
  req "$cmd --" "$cmd -"
  for o in ${LONGS[$key]} ${SHORTS[$key]}; do
    meta=${META["$key $o"]}
    [ "$meta" = - ] && continue
    # the forms bash completes an argument in: --opt=, --opt VALUE, -o VALUE
    case $o in
      --*) [[ $meta == \[* ]] && req "$cmd $o=" || req "$cmd $o=" "$cmd $o " ;;
      *) req "$cmd $o " ;;
    esac
    # enumerated: a list in the argument's name, and the brief's workload names
    [[ $meta == *'|'* || $o == --workload || $o == -w ]] && ENUM["$key $o"]=1
  done
done
req "msmvm-sim " "msmvm-sim -" "msmvm-sim count " "msmvm-sim count map:0x100000000:4K -"
req "msmvm-tune " "sudo msmvm-stat --" "sudo -u root msmvm-alert --flight-recorder="
# after --, a command and its own arguments (-- CMD ARG...): bash's completion of CMD
req "msmvm-stat --json -- msmvm-si" "msmvm-trace -o x -- msmvm-sim " "msmvmtop -b -- msmvm-sim run --wo"
for t in msmvmtop msmvm-trace msmvm-alert; do req "$t "; done
for k in "${!ENUM[@]}"; do
  set -- $k
  if [ $# -eq 2 ]; then req "$1 $2=a"; elif [[ $3 == --* ]]; then req "$1 $2 $3=a"; else req "$1 $2 $3 a"; fi
done
# the same file with the cursor after a partial name
req "msmvm-alert --config=al" "msmvm-trace -o be" "msmvm-alert --flight-recorder=g"
# once per build: a copy of msmvm-tune that counts its runs, completed 5 times, changed
# (its mtime and size), completed twice more
cat >"$tmp/wrap/msmvm-tune" <<EOF
#!/bin/sh
echo run >>"$tmp/wrap/runs"
exec "$BUILD_ABS/msmvm-tune" "\$@"
EOF
chmod +x "$tmp/wrap/msmvm-tune"
# (it looks at the binary on every TAB here, not every few seconds)
req "! _msmvm_recheck=0"
for i in 1 2 3 4 5; do req "$tmp/wrap/msmvm-tune --"; done
req "! echo '# changed' >>$tmp/wrap/msmvm-tune"
req "$tmp/wrap/msmvm-tune --" "$tmp/wrap/msmvm-tune --j"
req "! _msmvm_recheck=2"
# the time of a TAB once the help is read: the completion function alone, as bash calls it
req "! split_line 'msmvm-alert --'; COMP_LINE='msmvm-alert --' COMP_POINT=14"
req '! t0=$EPOCHREALTIME; for i in {1..100}; do _msmvm msmvm-alert -- msmvm-alert; done; t1=$EPOCHREALTIME'
req '! printf "@@ #time\n= %s\n" $(( (${t1/./} - ${t0/./}) / 100 ))'

(cd "$work" && PATH="$BUILD_ABS:$PATH" BASH_COMPLETION=$BASH_COMPLETION COMPLETION=$COMPLETION \
   timeout -s KILL 300 bash --norc --noprofile "$tmp/driver.sh" <"$requests" >"$tmp/replies" 2>"$tmp/driver.err")
drc=$?
if [ "$drc" -ne 0 ] || [ -s "$tmp/driver.err" ]; then
  fail completion_driver "the driver exited $drc" "$(cat "$tmp/driver.err")"
else
  pass completion_driver "$(wc -l <"$requests") command lines completed"
fi

declare -A REPLY_OF
cur=
while IFS= read -r l; do
  case $l in
    '@@ '*) cur=${l#@@ }; REPLY_OF[$cur]= ;;
    '= '*) REPLY_OF[$cur]+="${l#= }"$'\n' ;;
  esac
done <"$tmp/replies"

# offered LINE: what was offered for LINE, one per line, sorted
offered() { printf '%s' "${REPLY_OF[$1]-}" | sort -u; }
# words LIST...: one per line, sorted
words() { printf '%s\n' "$@" | grep -v '^$' | sort -u; }

# ---------------------------------------------------------------- options

for spec in "msmvm-stat:" "msmvmtop:" "msmvm-trace:" "msmvm-alert:" "msmvm-tune:" \
    "msmvm-sim:run" "msmvm-sim:count" "msmvm-sim:"; do
  t=${spec%%:*} sub=${spec#*:}
  key="$t $sub" cmd="$t${sub:+ $sub}" name=${t//-/_}${sub:+_$sub}
  # every long option after "--", every short one after "-"
  if [ -n "$sub" ] || [ "$t" != msmvm-sim ]; then
    missing=$(comm -23 <(words ${LONGS[$key]}) <(offered "$cmd --" | sed 's/=$//' | sort -u))
    if [ -n "$missing" ]; then
      fail "completion_${name}_long_options" "not offered after '$cmd --':" $missing
    else
      pass "completion_${name}_long_options" "$(words ${LONGS[$key]} | wc -l) from --help"
    fi
  fi
  missing=$(comm -23 <(words ${LONGS[$key]} ${SHORTS[$key]}) <(offered "$cmd -" | sed 's/=$//' | sort -u))
  if [ -n "$missing" ]; then
    fail "completion_${name}_options" "not offered after '$cmd -':" $missing
  else
    pass "completion_${name}_options" "$(words ${SHORTS[$key]} | wc -l) short, $(words ${LONGS[$key]} | wc -l) long"
  fi
  # everything offered is in the help, and the tool recognises it; an option that takes an
  # argument is offered as --opt= where the help writes it so (argp)
  bad=()
  while IFS= read -r w; do
    [ -n "$w" ] || continue
    n=${w%=}
    case " ${LONGS[$key]} ${SHORTS[$key]} " in
      *" $n "*) ;;
      *) bad+=("$w: not in '$cmd --help'"); continue ;;
    esac
    meta=${META["$key $n"]}
    if [[ $w == *= && ( $meta == - || $meta == \[* ) ]]; then
      bad+=("$w: the option takes no argument, or an optional one")
    elif [[ $w != *= && $n == --* && $meta != [-?[]* && ${HELP[$key]} == *"$n=$meta"* ]]; then
      bad+=("$w: --help writes $n=$meta")
    fi
    vals=$(offered "$cmd $n " | tr '\n' ' ')
    opt_accepted "$t" "$sub" "$w" "$vals" || bad+=("$w: refused: $(head -1 "$tmp/p.err")")
  done < <(offered "$cmd -")
  if [ ${#bad[@]} -gt 0 ]; then
    fail "completion_${name}_options_accepted" "${bad[@]}"
  else
    pass "completion_${name}_options_accepted" "$(offered "$cmd -" | wc -l) offered, each recognised by the tool"
  fi
done

# -- CMD: the command's name from PATH, then its words as its own completion offers them
if offered "msmvm-stat --json -- msmvm-si" | grep -qx msmvm-sim &&
  offered "msmvm-trace -o x -- msmvm-sim " | grep -qx run &&
  offered "msmvmtop -b -- msmvm-sim run --wo" | grep -qx -e --workload -e --workload=; then
  pass completion_command_after_dashdash
else
  fail completion_command_after_dashdash "'msmvm-stat -- msmvm-si': $(offered "msmvm-stat --json -- msmvm-si" | tr '\n' ' ')" \
    "'msmvm-trace -o x -- msmvm-sim ': $(offered "msmvm-trace -o x -- msmvm-sim " | tr '\n' ' ')" \
    "'msmvmtop -b -- msmvm-sim run --wo': $(offered "msmvmtop -b -- msmvm-sim run --wo" | tr '\n' ' ')"
fi

# options with no operands are offered on an empty word as well
for t in msmvmtop msmvm-trace msmvm-alert; do
  if [ "$(offered "$t ")" = "$(offered "$t -")" ] && [ -n "$(offered "$t ")" ]; then
    pass "completion_${t}_empty_word"
  else
    fail "completion_${t}_empty_word" "'$t ' does not offer what '$t -' does"
  fi
done

# ---------------------------------------------------------------- values

# The values of an enumerated option: the words of its --help entry and of the tool's error
# for a bogus value that the tool takes, in each form bash completes them in.
for k in "${!ENUM[@]}"; do
  set -- $k
  t=$1
  if [ $# -eq 3 ]; then sub=$2 o=$3; else sub= o=$2; fi
  key="$t $sub" cmd="$t${sub:+ $sub}"
  long=$o
  [[ $o == --* ]] || long=$(printf '%s\n' "${HELP[$key]}" | help_table | awk -v s="$o" '$1 == s { print $2 }')
  run_tool "$tmp/e" "$t" ${sub:+"$sub"} "$long=zz-bogus" "$SENTINEL"
  cands=$( { printf '%s\n' "${META["$key $long"]}" | tr '|' '\n'
             printf '%s\n' "${HELP[$key]}" | description "$long"
             cat "$tmp/e.err"; } | grep -oE '[a-z][a-z0-9-]*' | sort -u)
  truth=()
  for c in $cands; do
    val_accepted "$t" "$sub" "$long" "$c" && truth+=("$c")
  done
  oname=${o#-}
  name="completion_${t}${sub:+_$sub}_values_${oname#-}"
  name=${name//-/_}
  bad=()
  [ ${#truth[@]} -ge 1 ] || bad+=("the tool accepts ${#truth[@]} of the words of its help: ${truth[*]-}")
  forms=("$cmd $o ")
  [[ $o == --* ]] && forms+=("$cmd $o=")
  for f in "${forms[@]}"; do
    got=$(offered "$f")
    [ "$got" = "$(words "${truth[@]}")" ] ||
      bad+=("'$f' offers: $(echo $got)" "the tool accepts: ${truth[*]}")
  done
  # a prefix narrows them
  f="$cmd $o=a"
  [[ $o == --* ]] || f="$cmd $o a"
  if [ ${#bad[@]} -eq 0 ]; then
    want=$(words "${truth[@]}" | grep '^a' || true)
    got=$(offered "$f")
    [ "$got" = "$want" ] || bad+=("'$f' offers: $(echo $got), expected: $(echo $want)")
  fi
  if [ ${#bad[@]} -gt 0 ]; then
    fail "$name" "${bad[@]}"
  else
    pass "$name" "${truth[*]}"
  fi
done

# Every value offered for an option that is not a file, directory, pid or module is taken by
# the tool (sizes for --vm-size, auto for --job-cost, ...).
for spec in "msmvm-stat:" "msmvmtop:" "msmvm-trace:" "msmvm-alert:" "msmvm-tune:" \
    "msmvm-sim:run" "msmvm-sim:count"; do
  t=${spec%%:*} sub=${spec#*:}
  key="$t $sub" cmd="$t${sub:+ $sub}" n=0
  bad=()
  for o in ${LONGS[$key]}; do
    meta=${META["$key $o"]}
    case $meta in -|FILE|PATH|CMD|DIR|PID|\[*) continue ;; esac
    [ "$o" = --module ] && continue
    for v in $(offered "$cmd $o="); do
      n=$((n + 1))
      val_accepted "$t" "$sub" "$o" "$v" || bad+=("$o $v: refused: $(head -1 "$tmp/v.err")")
    done
  done
  name=completion_${t}${sub:+_$sub}_values_accepted
  if [ ${#bad[@]} -gt 0 ]; then
    fail "${name//-/_}" "${bad[@]}"
  else
    pass "${name//-/_}" "$n values offered, each taken"
  fi
done

# msmvm-sim's commands, and count's operation kinds (offered as KIND:)
truth=()
for c in $(printf '%s\n' "${HELP[$sim_key]}" | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1; next } { on = 0 }'); do
  run_tool "$tmp/c" msmvm-sim "$c" --help
  [ "$rc" -eq 0 ] && truth+=("$c")
done
if [ ${#truth[@]} -ge 2 ] && [ "$(offered "msmvm-sim ")" = "$(words "${truth[@]}")" ]; then
  pass completion_msmvm_sim_commands "${truth[*]}"
else
  fail completion_msmvm_sim_commands "'msmvm-sim ' offers: $(offered "msmvm-sim " | tr '\n' ' ')" \
    "the commands msmvm-sim --help lists and takes: ${truth[*]-}"
fi
run_tool "$tmp/k" msmvm-sim count zz-bogus:0x100000000:4K
truth=()
for c in $( { printf '%s\n' "${HELP[msmvm-sim count]}"; cat "$tmp/k.err"; } |
            grep -oE '[a-z][a-z0-9-]*' | sort -u); do
  val_accepted msmvm-sim count OP "$c" && truth+=("$c:")
done
got=$(offered "msmvm-sim count ")
if [ ${#truth[@]} -ge 2 ] && [ "$got" = "$(words "${truth[@]}")" ]; then
  pass completion_msmvm_sim_count_ops "${truth[*]}"
else
  fail completion_msmvm_sim_count_ops "'msmvm-sim count ' offers: $(echo $got)" \
    "the kinds count takes: ${truth[*]-}"
fi
# after an op, count takes no option
bad=()
for w in $(offered "msmvm-sim count map:0x100000000:4K -"); do
  run_tool "$tmp/c" msmvm-sim count map:0x100000000:4K "$w"
  [ "$rc" -eq 0 ] || bad+=("$w")
done
if [ ${#bad[@]} -gt 0 ]; then
  fail completion_msmvm_sim_count_after_op "offered after an op and refused there: ${bad[*]}"
else
  pass completion_msmvm_sim_count_after_op
fi

# ---------------------------------------------------------------- files, directories, pids

# The arguments the help names FILE, PATH or CMD get the files of the current directory,
# DIR its directories, PID the running processes, --module=NAME the modules with BTF.
n_file=0
found=" "
bad=()
for spec in "msmvm-stat:" "msmvmtop:" "msmvm-trace:" "msmvm-alert:" "msmvm-tune:" \
    "msmvm-sim:run" "msmvm-sim:count"; do
  t=${spec%%:*} sub=${spec#*:}
  key="$t $sub" cmd="$t${sub:+ $sub}"
  for o in ${LONGS[$key]} ${SHORTS[$key]}; do
    meta=${META["$key $o"]}
    case $meta in
      FILE|PATH|CMD|\[PATH\]) want=$(words $FILES) ;;
      DIR) want=$(words $DIRS) ;;
      *) continue ;;
    esac
    found+="$t:$o "
    forms=()
    case $o in
      --*) forms+=("$cmd $o=")
           [[ $meta == \[* ]] || forms+=("$cmd $o ") ;;
      *) forms+=("$cmd $o ") ;;
    esac
    for f in "${forms[@]}"; do
      n_file=$((n_file + 1))
      got=$(offered "$f")
      [ "$got" = "$want" ] || bad+=("'$f' offers: $(echo $got); in the directory: $(echo $want)")
    done
  done
done
# the brief's list: all of them found in the help texts above
for w in msmvm-stat:--btf msmvm-stat:--replay msmvm-stat:--sim msmvm-trace:-o msmvm-trace:--output \
    msmvm-alert:--config msmvm-alert:--textfile msmvm-alert:--flight-recorder msmvm-alert:--exec \
    msmvm-tune:--svg msmvm-sim:-o msmvm-sim:--summary msmvm-sim:--log msmvm-sim:--kmodel; do
  case $found in *" $w "*) ;; *) bad+=("$w: its help does not name a file or directory argument") ;; esac
done
got=$(offered "msmvm-tune ")
[ "$got" = "$(words $FILES)" ] || bad+=("'msmvm-tune ' (TRACE) offers: $(echo $got)")
[ "$(offered "msmvm-alert --config=al")" = alpha.perfetto-trace ] || bad+=("'msmvm-alert --config=al' offers: $(offered "msmvm-alert --config=al" | tr '\n' ' ')")
[ "$(offered "msmvm-trace -o be")" = beta.conf ] || bad+=("'msmvm-trace -o be' offers: $(offered "msmvm-trace -o be" | tr '\n' ' ')")
[ "$(offered "msmvm-alert --flight-recorder=g")" = gamma.d ] || bad+=("'msmvm-alert --flight-recorder=g' offers: $(offered "msmvm-alert --flight-recorder=g" | tr '\n' ' ')")
if [ ${#bad[@]} -gt 0 ]; then
  fail completion_files "${bad[@]}"
else
  pass completion_files "$n_file file and directory arguments, and TRACE"
fi

bad=()
n=0
for t in msmvm-stat msmvmtop msmvm-trace msmvm-alert; do
  for f in "$t -p " "$t --pid=" "$t --pid "; do
    got=$(offered "$f")
    n=$((n + 1))
    # the test's own shell runs, and was running before the driver: it is offered
    printf '%s\n' "$got" | grep -qx "$$" || bad+=("'$f' lacks pid $$ (this test)")
    printf '%s\n' "$got" | grep -qvx '[0-9]\+' && bad+=("'$f' offers a non-pid: $(printf '%s\n' "$got" | grep -vx '[0-9]\+' | head -3 | tr '\n' ' ')")
  done
done
if [ ${#bad[@]} -gt 0 ]; then
  fail completion_pids "${bad[@]}"
else
  pass completion_pids "$n forms"
fi

# modules: those whose BTF the tools would read (/sys/kernel/btf/NAME), each taken by --module
want=$(ls /sys/kernel/btf 2>/dev/null | grep -vx vmlinux | sort -u)
bad=()
for t in msmvm-stat msmvmtop msmvm-trace msmvm-alert; do
  got=$(offered "$t --module=")
  [ "$got" = "$want" ] || bad+=("'$t --module=' offers $(echo $got | head -c 200); /sys/kernel/btf: $(echo $want | head -c 200)")
  for m in $(printf '%s\n' "$got" | head -5); do
    val_accepted "$t" "" --module "$m" || bad+=("$t --module=$m: refused: $(head -1 "$tmp/v.err")")
  done
done
if [ ${#bad[@]} -gt 0 ]; then
  fail completion_modules "${bad[@]}"
else
  pass completion_modules "$(printf '%s' "$want" | grep -c .) modules with BTF here"
fi

# through sudo (bash-completion's, which adds the sbin directories to PATH)
if [ -n "$(offered "msmvm-stat --")" ] && [ "$(offered "sudo msmvm-stat --")" = "$(offered "msmvm-stat --")" ] &&
   [ "$(offered "sudo -u root msmvm-alert --flight-recorder=")" = "$(words $DIRS)" ]; then
  pass completion_sudo
else
  fail completion_sudo "'sudo msmvm-stat --' offers: $(offered "sudo msmvm-stat --" | tr '\n' ' ')" \
    "'sudo -u root msmvm-alert --flight-recorder=' offers: $(offered "sudo -u root msmvm-alert --flight-recorder=" | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- cost, loading

runs=$(grep -c run "$tmp/wrap/runs" 2>/dev/null || echo 0)
got=$(offered "$tmp/wrap/msmvm-tune --j")
if [ "$runs" -eq 2 ] && [ "$got" = "$(words --job-cost= --json)" ]; then
  pass completion_help_read_once "7 TABs, 2 builds: $runs runs of --help"
else
  fail completion_help_read_once "7 TABs over 2 builds of the binary ran its --help $runs times (expected 2)" \
    "'msmvm-tune --j' offers: $(echo $got)"
fi
us=$(offered "#time")
if [ -n "$us" ] && [ "$us" -lt 200000 ]; then
  pass completion_tab_time "$((us / 1000)).$(printf '%03d' $((us % 1000))) ms per TAB (msmvm-alert --)"
else
  fail completion_tab_time "a TAB took ${us:-?} us on average (limit 200 ms)"
fi

# bash-completion's loader finds the file under each tool's name (the install's symlinks)
for t in "${TOOLS[@]}"; do ln -s "$COMPLETION" "$tmp/user/completions/$t"; done
for t in "${TOOLS[@]}"; do
  out=$(BASH_COMPLETION_USER_DIR=$tmp/user bash --norc --noprofile -c '
    . "$1" && __load_completion "$2" && complete -p "$2"' _ "$BASH_COMPLETION" "$t" 2>&1)
  if [[ $out == "complete -F _msmvm $t" ]]; then
    pass "completion_loads_${t//-/_}"
  else
    fail "completion_loads_${t//-/_}" "bash-completion's loader, for $t: $out"
  fi
done

[ "$failed" -eq 0 ]
