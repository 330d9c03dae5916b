#!/usr/bin/env bash
# Every command in README.md's and docs/*.md's code blocks runs as written (the model path), or
# is listed below as skipped with its reason. A new command in a doc that is neither fails.
#
# Extraction: code blocks are fenced (```) or indented by 4 spaces after a blank line; a command
# is a line whose first word (after a "$ " prompt) is a program (make, build/..., msmvm-*, jq,
# tar, ...; see starts_command below); "# comments" are stripped, lines ending in "\" and open
# quotes are joined, runs of blanks squeezed. That text is the key of the table.
#
# Where they run: in a scratch copy of the tree (mktemp -d; sources copied, build/ a symlink to
# this tree's build dir), as root, in document order (README.md, then docs/*.md), each with
# `bash -c` and a time limit. So the doc's own file names (sum.json, vmbind.perfetto-trace, the
# unpacked BTF fixture) are written there, a command reads what an earlier one wrote, and the
# tree is left alone; build/ is shared, so the tools are the ones `make` built.
#
# The table: one entry per line, "MODE :: ARG :: COMMAND", COMMAND exactly as extracted (the
# test prints the text of an unregistered one: paste it). A COMMAND ending in " ..." matches
# every command starting with what precedes it. MODE:
#   run     run to its end; exit 0, and the output (stdout+stderr) matches the ERE ARG ("-": no
#           check; "ERE1 && ERE2": both; "jq:FILTER": a JSON line of the output for which
#           FILTER is true, e.g. the model's own summary). In ARG, {FILE:JQ} is replaced by `jq -r JQ FILE` (scratch dir) at check
#           time: compare with the model's own summary, not with the tool's output.
#   int     runs until Ctrl-C: started, once ready (stderr says "attached" or "watching") it gets
#           SIGINT 2 s later; exit 0 and the output matches ARG.
#   bg      started in the background like int; the doc's "other terminal": it gets SIGINT once
#           the next run command has ended, or, when it ends in " &", at the next killbg entry.
#   killbg  the doc's "kill -INT %1; wait": SIGINT to the bg command, whose exit and ARG are
#           checked then.
#   skip    cannot run here; ARG says why (a board, an installed system, a long make target).
#   text    not a command (a synopsis, an output sample, a file listing); ARG says which.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${BUILD:-build}
source tests/lib.sh

# make run: its frames show waits, and it lasted through a storm: the model's summary averages
# over 40 ops a bind (storm binds have 256..512, mixed's others about 20: docs/model.md)
TABLE=$(cat <<'EOF'
run    :: ^totals:.* waits [1-9] && jq:.totals.ops / .totals.binds > 40 && ^(Stopping the model interrupted [0-9]+ of|No thread was asleep) :: make run
skip   :: the whole suite (~8 min): CI runs it; not run from inside itself :: make test
text   :: an msmvmtop frame (output)    :: msmvmtop every 1s ...
run    :: -                            :: make
run    :: ^6$                          :: build/msmvm-sim count map:0x100000000:4K map:0x100400000:4K
run    :: binds +{sum.json:.totals.binds}$ && exited with status 0 :: build/msmvm-stat -P -- build/msmvm-sim run -w storm -P 2 -n 200 -o sum.json
skip   :: installs into /usr/local (no DESTDIR): the installed system's files :: make install
skip   :: dpkg-buildpackage and lintian (minutes); tests/deb.sh builds and installs it in a chroot :: make deb
skip   :: installs the package make deb builds, into this system (tests/deb.sh: in a chroot) :: apt install ./build/deb/msmvm_*_$(dpkg --print-architecture).deb
run    :: no process of the model [^ ]*build/msmvm-sim ran while watching :: build/msmvm-stat --sim -d 5
run    :: binds                        :: build/msmvm-stat --sim -P 1 3
run    :: "type": ?"final"             :: build/msmvm-stat --sim --json -d 2
run    :: jq:.type == "final" and .totals.binds == 200 and .command.exit_status == 0 :: build/msmvm-stat --json -- build/msmvm-sim run -w storm -n 200
skip   :: the kernel's msm driver: none here (tests/guest.sh runs the kernel flavor) :: build/msmvm-stat -P 1
run    :: -                            :: xz -dkf tests/fixtures/btf/debian-7.2.13-arm64.btf.xz
run    :: in_flight +632               :: build/msmvm-stat --dry-run --btf tests/fixtures/btf/debian-7.2.13-arm64.btf
skip   :: the interactive dashboard: needs a terminal (tests/top_tmux.sh drives it in tmux) :: build/msmvmtop --sim
run    :: ^totals: binds               :: build/msmvmtop --sim -b -n 5 -d 2
run    :: ^totals: binds 4000 && exited with status 0 :: build/msmvmtop -b -- build/msmvm-sim run -P 2 -n 2000
skip   :: the kernel's msm driver, interactive (tests/guest.sh runs the kernel flavor) :: build/msmvmtop
run    :: "binds": ?1200, && t.perfetto-trace: [0-9]+ events :: build/msmvm-trace -o t.perfetto-trace -- build/msmvm-sim run -w sparse -P 2 -n 600
run    :: vmbind.perfetto-trace: [0-9]+ events :: build/msmvm-trace --sim -o vmbind.perfetto-trace -d 10
int    :: stall.perfetto-trace: [0-9]+ events :: build/msmvm-trace --sim --ring 5 -o stall.perfetto-trace
run    :: binds                        :: build/msmvm-stat --replay vmbind.perfetto-trace
int    :: watching model               :: build/msmvm-alert --sim --stall 200/1000 --wait-max 500 --wedge 5 --drift 1024
run    :: Z stall vm=[^ ]+ pid=[0-9]+ comm=storm-0: stall: && exited with status 0 :: build/msmvm-alert --stall 20/1000 -- build/msmvm-sim run -w storm -n 300
skip   :: the kernel's msm driver, and a fixed port (tests/alert.sh, tests/prometheus.sh: the model) :: build/msmvm-alert --stall 200/1000 --wait-max 500 --wedge 5 --drift 1024 --syslog --listen 127.0.0.1:9464
skip   :: an installed system with systemd                                   :: systemctl daemon-reload && systemctl enable --now msmvm-alert
run    :: "binds": ?1200, && game.perfetto-trace: [1-9][0-9]* events :: build/msmvm-trace -o game.perfetto-trace -- build/msmvm-sim run -w sparse -P 2 -n 600 --rate 300 --job-cost 3000
run    :: Recommended limit            :: build/msmvm-tune game.perfetto-trace --max-prealloc-mib 8 --svg tune.svg
run    :: "totals"                     :: build/msmvm-sim run -w storm -P 2 --queues 2 -n 200 --log events.jsonl
skip   :: cross build, its first run downloads arm64 packages (make test-arm64 in CI) :: make arm64
skip   :: packs make arm64's output                                          :: tar -C build -czf msmvm-arm64.tar.gz arm64/msmvm-stat arm64/msmvmtop arm64/msmvm-trace arm64/msmvm-alert arm64/msmvm-tune arm64/msmvm-sim
skip   :: copies to a board                                                  :: scp msmvm-arm64.tar.gz board:
skip   :: on a board                                                         :: tar -xzf msmvm-arm64.tar.gz
skip   :: on a board                                                         :: sudo ./arm64/msmvm-stat --dry-run
skip   :: on a board                                                         :: sudo ./arm64/msmvm-stat -P 1
skip   :: on a board                                                         :: sudo ./arm64/msmvmtop
skip   :: the kernel twin, built for the guest's kernel (tests/guest.sh)     :: make && make kmodel
skip   :: in the x86 guest (tests/guest.sh runs this recipe's checks)        :: tools/guest/run -- sh -c ' ...
skip   :: reads the guest run's files (above)                                :: jq .totals build/stat.json build/sum.json
skip   :: cross build (make test-arm64 in CI)                                :: make -j2 arm64
skip   :: the arm64 suite, minutes (CI)                                      :: make test-arm64
skip   :: copies to a board                                                  :: scp build/arm64/msmvm-* board:
skip   :: libFuzzer for minutes                                              :: make fuzz
skip   :: ten minutes                                                        :: make soak
skip   :: a minute at least (CI's soak)                                      :: make soak SOAK_SECS=60
text   :: a file listing                                                     :: tests/fuzz/fuzz_NAME.c LLVMFuzzerTestOneInput
text   :: a file listing                                                     :: tests/fuzz/NAME.dict a libFuzzer dictionary (keys, op kinds, interned strings)
text   :: a file listing                                                     :: tests/fuzz/replay.c the regression driver (below)
text   :: a file listing                                                     :: tests/fuzz/run-fuzz.sh what `make fuzz` runs
skip   :: installed name, the kernel's msm driver                            :: sudo msmvm-alert --stall 200/1000 --wait-max 500 --wedge 5 --drift 1024 --syslog --listen 127.0.0.1:9464
text   :: synopsis                                                           :: msmvm-stat [--sim[=PATH]] [-p PID] [-P] [--json] [-d SECS] [--hooks auto|direct|fallback]
text   :: synopsis                                                           :: msmvm-stat --replay FILE [-p PID] [-P] [--json]
run    :: -                                                                  :: xz -dkf tests/fixtures/btf/debian-7.2.13-arm64.btf.xz
text   :: synopsis                                                           :: msmvm-trace [--sim[=PATH]] -o FILE [-d SECS] [--max-size MB] [-p PID] [--ring SECS]
skip   :: installed name, the kernel's msm driver                            :: sudo msmvm-trace -o vmbind.perfetto-trace -d 10
run    :: exited with status 0 && sparse.perfetto-trace: [0-9]+ events, 0 dropped :: build/msmvm-trace --sim -o sparse.perfetto-trace -- build/msmvm-sim run -w sparse -P 1 -n 300 --job-cost 10000 --seed 7 -o sparse-model.json
run    :: Recommended limit: 128       :: build/msmvm-tune sparse.perfetto-trace --max-prealloc-mib 2 --svg tune.svg
text   :: synopsis                                                           :: msmvm-stat [OPTION...] [INTERVAL [COUNT]] -- CMD [ARG...] (or -c 'CMD ARG...')
text   :: synopsis                                                           :: msmvm-trace -o FILE [OPTION...] -- CMD [ARG...] (or -c 'CMD ARG...')
run    :: -                                                                  :: build/msmvm-stat --json -- build/msmvm-sim run -w storm -P 2 -n 200 > out
run    :: ^\[400,400\]$                                                       :: jq -c -s '[.[].totals.binds]' out
skip   :: the btf fixtures are committed; remaking them downloads Debian's arm64 kernel packages (minutes) :: tools/make-btf-fixtures.sh
skip   :: as above, one kernel version                                       :: ONLY=6.17.13 tools/make-btf-fixtures.sh
text   :: a template: DIR is where the .deb files are                        :: DEB_DIR=DIR tools/make-btf-fixtures.sh
skip   :: about 15 minutes (make bench is not a test)                        :: make bench
skip   :: about 15 minutes, and writes docs/PERFORMANCE.md                   :: make bench BENCH_UPDATE=1
skip   :: about 15 minutes, and writes docs/PERFORMANCE.md                   :: make bench BENCH_UPDATE=force
text   :: synopsis                                                           :: msmvm-tune TRACE [--limits 128,256,...] [--max-prealloc-mib M] [--max-stall-ms S]
text   :: synopsis                                                           :: msmvm-tune --workload NAME [--procs N] [--binds N] [--rate R] [--seed S] [--op-cost USEC] ...
text   :: synopsis                                                           :: msmvmtop [--sim[=PATH]] [-p PID] [-d SECS] [-C] [--limit PAGES] [--hooks auto|direct|fallback]
text   :: synopsis                                                           :: msmvmtop -b [-n N] ... plain-text frames
text   :: synopsis                                                           :: msmvmtop --json [-n N] ... one JSON object per interval
EOF
)

# FILE:LINE<TAB>COMMAND for each command of the docs' code blocks (see the header)
extract() {
  awk '
  function starts_command(s,   w) {
    w = s; sub(/^\$ /, "", w); sub(/[ \t].*/, "", w)
    if (w ~ /\/$/) return 0			# a directory: a layout listing
    return w ~ /^(sudo|make|build\/.*|\.\/.*|tools\/.*|tests\/.*|msmvm-(stat|trace|alert|tune|sim)|msmvmtop|bash|sh|jq|tar|scp|systemctl|apt|apt-get|dpkg|man|kill|cat|curl|promtool|cd|export|env|yes|ls|rm|cp|mv|echo|xz|gzip|git|python3|until|for|while|[A-Z_]+=.*)$/
  }
  function strip(s,   i, c, out, prev) {	# drops a comment; q: a quote left open
    out = ""; prev = " "
    for (i = 1; i <= length(s); i++) {
      c = substr(s, i, 1)
      if (q == "" && c == "#" && prev ~ /[ \t]/) break
      if (q == "" && (c == "\047" || c == "\"")) q = c
      else if (q != "" && c == q) q = ""
      out = out c; prev = c
    }
    return out
  }
  FNR == 1 { fence = 0; prevcode = 0; prevblank = 1; pending = ""; q = "" }
  {
    line = $0; code = 0
    if (line ~ /^[ \t]*```/) { fence = !fence; prevblank = 0; prevcode = 0; next }
    if (fence) code = 1
    else if (line ~ /^(    |\t)/ && (prevblank || prevcode)) code = 1
    blank = line ~ /^[ \t]*$/
    if (code) prevcode = 1
    else if (!blank) prevcode = 0
    prevblank = blank
    if (!code) { pending = ""; q = ""; next }
    t = line; sub(/^[ \t]+/, "", t)
    if (pending == "" && !starts_command(t)) next
    if (pending == "") { where = FILENAME ":" FNR; q = "" }
    t = strip(t); sub(/[ \t]+$/, "", t)
    if (q == "" && t ~ /\\$/) { sub(/\\$/, "", t); pending = pending t " "; next }
    if (q != "") { pending = pending t " "; next }
    cmd = pending t; pending = ""
    gsub(/[ \t]+/, " ", cmd); sub(/ $/, "", cmd); sub(/^\$ /, "", cmd)
    print where "\t" cmd
  }' "$@"
}

# lookup CMD: sets mode, arg (empty mode: not registered)
lookup() {
  local cmd=$1 m a k
  mode= arg=
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    m=${line%% :: *}; m=${m%% *}
    a=${line#* :: }; k=${a#* :: }; a=${a%% :: *}
    a=$(printf '%s' "$a" | sed 's/ *$//'); k=$(printf '%s' "$k" | sed 's/^ *//')
    if [ "$k" = "$cmd" ] || { [ "${k% ...}" != "$k" ] && [ "${cmd#"${k% ...}"}" != "$cmd" ]; }; then
      mode=$m arg=$a
      return 0
    fi
  done <<<"$TABLE"
  return 1
}

# check_out NAME ERE FILE: the ERE, {FILE:JQ} replaced, matches a line of FILE
check_out() {
  local name=$1 ere=$2 out=$3 f jqp v
  [ "$ere" = - ] && return 0
  if [[ $ere == *" && "* ]]; then
    check_out "$name" "${ere%% && *}" "$out" && check_out "$name" "${ere#* && }" "$out"
    return
  fi
  if [ "${ere#jq:}" != "$ere" ]; then
    grep '^{.*}$' "$out" | jq -e "select(${ere#jq:})" 2>/dev/null | grep -q . && return 0
    fail "$name" "no JSON line of the output satisfies '${ere#jq:}'" "$(tail -c 600 "$out")"
    return 1
  fi
  while [[ $ere =~ \{([^:{}]+):([^{}]+)\} ]]; do
    f=${BASH_REMATCH[1]} jqp=${BASH_REMATCH[2]}
    v=$(jq -r "$jqp" "$scratch/$f" 2>/dev/null) || v="(no $f)"
    ere=${ere/"${BASH_REMATCH[0]}"/$v}
  done
  grep -Eq -- "$ere" "$out" && return 0
  fail "$name" "output has no line matching '$ere'" "$(tail -c 600 "$out")"
  return 1
}

# started in the background: until it says it is ready (attached, watching), or it ended
wait_ready() {
  local pid=$1 err=$2
  for _ in $(seq 1200); do
    grep -Eq 'attached|watching' "$err" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# bash -c CMD in the background, SIGINT deliverable: a lone command is exec'd, so the signal
# goes to the tool (its handler replaces the SIG_IGN of an async command)
start_bg() {
  local cmd=$1 n=$2
  [[ $cmd =~ [\;\&\|] ]] || cmd="exec $cmd"
  (cd "$scratch" && exec timeout -s KILL 600 bash -c "$cmd") >"$tmp/$n.out" 2>&1 &
  bg_pid=$!
}

# stop_bg NAME ERE [DETAIL]: SIGINT to the background command, its exit 0 and output checked
stop_bg() {
  local name=$1 ere=$2 detail=${3:-$bg_cmd} rc
  # to the tool itself, timeout(1)'s child
  local child
  child=$(pgrep -P "$bg_pid" | head -1)
  kill -INT "${child:-$bg_pid}" 2>/dev/null
  wait "$bg_pid"; rc=$?
  bg_pid=
  if [ "$rc" -ne 0 ]; then
    fail "$name" "exit $rc after SIGINT, expected 0" "$(tail -c 600 "$bg_out")"
  elif check_out "$name" "$ere" "$bg_out"; then
    pass "$name" "$detail"
  fi
}

tmp=$(mktemp -d)
scratch=$tmp/tree
bg_pid=
cleanup() {
  if [ -n "$bg_pid" ]; then
    kill -KILL $(pgrep -P "$bg_pid") "$bg_pid" 2>/dev/null
    wait "$bg_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$scratch"
(tar -cf - --exclude=./build --exclude=./.git --exclude=./debian/build --exclude=./"$B" . |
  tar -xf - -C "$scratch") || { fail doc_commands_scratch "cannot copy the tree"; exit 1; }
ln -s "$ROOT/$B" "$scratch/build"
[ "$(id -u)" -eq 0 ] || echo "# not root: the --sim commands will fail (the docs say: as root)"

docs=(README.md docs/*.md)
extract "${docs[@]}" >"$tmp/commands"
echo "# $(wc -l <"$tmp/commands") commands in ${#docs[@]} files"
n=0 bg_mode= bg_name= bg_ere= bg_out= bg_cmd=
declare -A used=()
while IFS=$'\t' read -r where cmd; do
  n=$((n + 1))
  name="doc_cmd ${where}"
  if ! lookup "$cmd"; then
    fail "$name" "not registered in tests/doc_commands.sh: add a line \"run :: ERE :: $cmd\"" \
      "(or skip/text with a reason; see the test's header)"
    continue
  fi
  used[$cmd]=1
  case $mode in
  skip)
    echo "skip $name # $arg: $cmd"
    ;;
  text)	# not a command: no test line
    echo "# $name: not a command ($arg): $cmd"
    ;;
  run)
    # the doc's dashboard recipe and make's targets can take minutes under load
    (cd "$scratch" && timeout -s KILL 900 bash -c "$cmd") </dev/null >"$tmp/$n.out" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ]; then
      fail "$name" "$cmd: exit $rc" "$(tail -c 800 "$tmp/$n.out")"
    elif check_out "$name" "$arg" "$tmp/$n.out"; then
      pass "$name" "$cmd"
    fi
    # the other terminal's watcher ends once this has
    if [ -n "$bg_pid" ] && [ "$bg_mode" = next ]; then stop_bg "$bg_name" "$bg_ere"; fi
    ;;
  int | bg)
    if [ -n "$bg_pid" ]; then stop_bg "$bg_name" "$bg_ere"; fi
    c=${cmd% &}
    start_bg "$c" "$n"
    bg_name=$name bg_ere=$arg bg_out=$tmp/$n.out bg_cmd=$cmd
    bg_mode=next
    [ "$c" != "$cmd" ] && bg_mode=kill
    if ! wait_ready "$bg_pid" "$bg_out"; then
      wait "$bg_pid"
      fail "$name" "$cmd: never said it attached (exit $?)" "$(tail -c 800 "$bg_out")"
      bg_pid=
      continue
    fi
    if [ "$mode" = int ]; then
      sleep 2	# a while of watching: the doc's "until Ctrl-C"
      stop_bg "$bg_name" "$bg_ere"
    fi
    ;;
  killbg)
    if [ -z "$bg_pid" ]; then
      fail "$name" "$cmd: no background command to end (its & line is not run?)"
    else
      stop_bg "$name" "$bg_ere" "$cmd: ended $bg_cmd (${bg_name#doc_cmd })"
    fi
    ;;
  *)
    fail "$name" "bad mode '$mode' in the table for: $cmd"
    ;;
  esac
done <"$tmp/commands"
[ -z "$bg_pid" ] || stop_bg "$bg_name" "$bg_ere"

# entries no doc has any more: harmless, said so they can go
stale=0
while IFS= read -r line; do
  k=${line#* :: }; k=${k#* :: }; k=$(printf '%s' "$k" | sed 's/^ *//')
  [ -n "$k" ] || continue
  found=0
  for c in "${!used[@]}"; do
    if [ "$c" = "$k" ] || { [ "${k% ...}" != "$k" ] && [ "${c#"${k% ...}"}" != "$c" ]; }; then found=1; break; fi
  done
  [ "$found" = 1 ] || { stale=$((stale + 1)); echo "# table entry no doc has: $k"; }
done <<<"$TABLE"
pass doc_commands_walked "$n commands, $stale stale table entries"
