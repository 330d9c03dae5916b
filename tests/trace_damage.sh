#!/usr/bin/env bash
# Damaged traces are found, said and refused (docs/msmvm-trace.md, "Checksums"): a recording
# of the model (its replay first held against the model's own summary) gets one bit flipped
# at a time, every bit of a sample of byte positions spread over the whole file (and of the
# header's target string and the file's last bytes). Each flipped file must either fail
# msmvm-stat --replay with exit 1 and "FILE: bytes A..B are damaged (...)", the flipped byte
# between A and B, or replay to exactly the report of the file as written (a harmless flip:
# counted and shown); never a number changed in silence. With --ignore-damage the report of
# every flipped file is valid UTF-8 JSON (jq parses it, iconv accepts it). msmvm-tune is held
# to the same on the top bit of each position. Also: a file written before checksums existed
# still loads (with one note), a cut file as before, and the option's usage.
#   TRACE_DAMAGE_POSITIONS=N   byte positions spread over the file (default 40; 8 bits each)
#   TRACE_DAMAGE_FULL=1        every bit of every byte (long: two replays per flip)
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
TRACE=$B/msmvm-trace
STAT=$B/msmvm-stat
TUNE=$B/msmvm-tune
CHECK=$B/tests/test_trace

. tests/lib.sh

if [ "$(id -u)" -ne 0 ]; then
  echo "skip trace_damage # needs root to attach uprobes (msmvm-trace --sim)"
  exit 0
fi
tmp=$(mktemp -d)
rec_pid=
cleanup() {
  [ -n "$rec_pid" ] && kill -9 "$rec_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
# A private copy of the model: uprobes bind to the file's inode (see stat_sim.sh).
cp "$B/msmvm-sim" "$tmp/msmvm-sim"
SIM=$tmp/msmvm-sim

# --- the option's usage ---
"$STAT" --ignore-damage >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- '--ignore-damage only goes with --replay' "$tmp/err"; then
  pass ignore_damage_needs_replay
else
  fail ignore_damage_needs_replay "exit $rc, expected 2" "$(cat "$tmp/err")"
fi
# (the help read whole first: grep -q leaving early makes the writer's pipe break, and pipefail
# would take that for a failure)
if grep -q -- '--ignore-damage' <<<"$("$STAT" --help)" && grep -q -- '--ignore-damage' <<<"$("$TUNE" --help)"; then
  pass ignore_damage_in_help
else
  fail ignore_damage_in_help "msmvm-stat --help or msmvm-tune --help lacks --ignore-damage"
fi

# --- a file written before checksums existed: the committed corpus of the fuzzer ---
old=tests/fuzz/trace/corpus/storm-2procs.perfetto-trace
"$STAT" --replay "$old" --json >"$tmp/old.json" 2>"$tmp/old.err"
rc=$?
"$TUNE" "$old" --json >/dev/null 2>"$tmp/oldtune.err"
trc=$?
if [ "$rc" -eq 0 ] && [ "$trc" -eq 0 ] && jq -e '.totals.binds > 0' "$tmp/old.json" >/dev/null &&
   [ "$(grep -c 'has no checksums' "$tmp/old.err")" -eq 1 ] && ! grep -q damaged "$tmp/old.err" "$tmp/oldtune.err"; then
  pass old_file_without_checksums_loads "$(jq .totals.binds "$tmp/old.json") binds; $(cat "$tmp/old.err")"
else
  fail old_file_without_checksums_loads "replay exit $rc, tune exit $trc" "$(cat "$tmp/old.err" "$tmp/oldtune.err")"
fi

# --- a recording of the model: its replay is the model's ground truth ---
f=$tmp/t.perfetto-trace
if ! start_rec -o "$f" --limit 96; then
  fail damage_recording "msmvm-trace did not attach:" "$(cat "$tmp/rec.err")"
  stop_rec KILL
  exit 0
fi
"$SIM" run -w mixed -P 2 -n 60 -r 120 --seed 31 --limit 96 --job-cost 4000 -o "$tmp/sum.json" 2>"$tmp/sim.err"
stop_rec INT
"$STAT" --replay "$f" --json >"$tmp/base.json" 2>"$tmp/base.err"
rc=$?
"$STAT" --replay "$f" >"$tmp/base.txt" 2>/dev/null
diffs=$(jq -rn --slurpfile r "$tmp/base.json" --slurpfile m "$tmp/sum.json" '
  ["binds","ops","errors","pages_counted","pages_used","pages_overcount","waits",
   "interrupted_waits","in_flight","drift"][] as $k |
  select($r[0].totals[$k] != $m[0].totals[$k]) | "\($k): replay \($r[0].totals[$k]), model \($m[0].totals[$k])"' 2>&1)
protoc --decode=perfetto.protos.Trace -I tests tests/trace.proto <"$f" >"$f.txt" 2>"$tmp/protoc.err"
prc=$?
"$CHECK" check --trace "$f" "$f.txt" >"$f.chk" 2>"$f.cerr"
crc=$?
if [ "$rec_rc" -ne 0 ] || [ "$rc" -ne 0 ] || [ -s "$tmp/base.err" ] || [ -n "$diffs" ] ||
   [ "$prc" -ne 0 ] || [ "$crc" -ne 0 ] || ! jq -e '.sealed and .checksums >= 3' "$f.chk" >/dev/null; then
  fail damage_recording "recorder exit $rec_rc, replay exit $rc, protoc $prc, checker $crc:" \
    "$(cat "$tmp/rec.err" "$tmp/base.err" "$tmp/protoc.err" "$f.cerr")" "$diffs" "$(cat "$f.chk")"
  exit 0
fi
size=$(stat -c %s "$f")
pass damage_recording "$size bytes, $(jq .checksums "$f.chk") checksum packets (verified with zlib against protoc's decoding), replay = the model's totals ($(jq .totals.binds "$tmp/base.json") binds)"
"$TUNE" "$f" >"$tmp/tune.base" 2>/dev/null || fail damage_recording "msmvm-tune fails on the file as written"

# --- the flips ---
if [ "${TRACE_DAMAGE_FULL:-0}" = 1 ]; then
  positions=$(seq 0 $((size - 1)))
else
  n=${TRACE_DAMAGE_POSITIONS:-40}
  hdr=$(grep -abo 'model /' "$f" | head -1 | cut -d: -f1)
  # spread over the file (a varying offset inside each stride), the space after "model" in
  # the header's target (its top bit flipped is the 0xA0 of a bad UTF-8 string), the last
  # 20 bytes (the final checksum packet)
  positions=$( { for ((i = 0; i < n; i++)); do echo $(( i * size / n + (i * 7919) % (size / n) )); done
                 [ -n "$hdr" ] && echo $((hdr + 5))
                 seq $((size - 20)) $((size - 1)); } | sort -nu)
fi
mkdir "$tmp/fl"
read -r -a flip_bytes <<<"$(echo $positions)"
flips=0 found=0 harmless=0 silent=0 tune_runs=0 ignored=0
harmless_at=() problems=()
: >"$tmp/all.jsonl"
for ((k = 0; k < ${#flip_bytes[@]}; k++)); do
  pos=${flip_bytes[k]}
  # the flipped files, 32 positions at a time (8 files each, as big as the trace)
  if [ $((k % 32)) -eq 0 ] && ! "$CHECK" flips "$f" "$tmp/fl" "${flip_bytes[@]:k:32}"; then
    problems+=("cannot flip the bits of byte $pos on"); break
  fi
  for bit in 0 1 2 3 4 5 6 7; do
    g=$tmp/fl/$pos.$bit
    flips=$((flips + 1))
    "$STAT" --replay "$g" --json >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 0 ]; then
      if cmp -s "$tmp/out" "$tmp/base.json"; then
        harmless=$((harmless + 1)); harmless_at+=("$pos.$bit")
      else
        silent=$((silent + 1))
        problems+=("byte $pos bit $bit: exit 0, the report changed: $(head -c 200 "$tmp/err")")
      fi
    else
      range=$(grep -o "^msmvm-stat: $g: bytes [0-9]*\.\.[0-9]* are damaged (" "$tmp/err" | grep -o '[0-9]*\.\.[0-9]*')
      if [ "$rc" -ne 1 ] || [ -z "$range" ] || [ "${range%..*}" -gt "$pos" ] || [ "${range#*..}" -lt "$pos" ]; then
        problems+=("byte $pos bit $bit: exit $rc: $(head -c 200 "$tmp/err")")
      else
        found=$((found + 1))
      fi
    fi
    # read on: a report, in valid UTF-8 JSON, the damage warned about
    "$STAT" --replay "$g" --json --ignore-damage >>"$tmp/all.jsonl" 2>"$tmp/err2"
    rc2=$?
    if [ "$rc2" -eq 0 ] && [ "$rc" -ne 0 ] && ! grep -q 'warning: .* are damaged' "$tmp/err2"; then
      problems+=("byte $pos bit $bit: --ignore-damage read on without a warning")
    elif [ "$rc2" -ne 0 ] && [ "$rc2" -ne 1 ]; then
      problems+=("byte $pos bit $bit: --ignore-damage: exit $rc2: $(head -c 200 "$tmp/err2")")
    elif [ "$rc2" -eq 0 ]; then
      ignored=$((ignored + 1))
    fi
    # msmvm-tune, on the top bit: refuses the damage, or the same study
    if [ "$bit" -eq 7 ]; then
      tune_runs=$((tune_runs + 1))
      "$TUNE" "$g" >"$tmp/tout" 2>"$tmp/terr"
      trc=$?
      if [ "$trc" -eq 0 ] && ! cmp -s "$tmp/tout" "$tmp/tune.base"; then
        problems+=("byte $pos bit 7: msmvm-tune exit 0, its study changed")
      elif [ "$trc" -ne 0 ] && { [ "$trc" -ne 1 ] || ! grep -q "^msmvm-tune: $g: bytes [0-9]*\.\.[0-9]* are damaged (" "$tmp/terr"; }; then
        # a flip the replay found harmless may still make the file no workload: say which
        problems+=("byte $pos bit 7: msmvm-tune exit $trc: $(head -c 200 "$tmp/terr")")
      fi
    fi
    rm -f "$g"
  done
done
if [ "${#problems[@]}" -eq 0 ] && [ "$silent" -eq 0 ] && [ $((found + harmless)) -eq "$flips" ]; then
  pass every_flip_is_said_or_harmless "$flips flips of ${#flip_bytes[@]} bytes of $size: $found said with their byte range (exit 1), $harmless harmless (the same report${harmless_at[*]:+: byte.bit ${harmless_at[*]:0:20}}); msmvm-tune on $tune_runs of them"
else
  fail every_flip_is_said_or_harmless "$flips flips: $found said, $harmless harmless, $silent changed silently" "${problems[@]:0:15}"
fi

# every report read through the damage: JSON (one object a line), valid UTF-8
lines=$(wc -l <"$tmp/all.jsonl")
if ! jq -c . "$tmp/all.jsonl" >/dev/null 2>"$tmp/jq.err"; then
  fail damaged_json_is_valid "jq refuses the reports read through damage:" "$(head -c 300 "$tmp/jq.err")"
elif ! iconv -f UTF-8 -t UTF-8 "$tmp/all.jsonl" >/dev/null 2>"$tmp/iconv.err"; then
  fail damaged_json_is_valid "not valid UTF-8:" "$(cat "$tmp/iconv.err")"
elif [ "$lines" -ne "$ignored" ] || [ "$lines" -eq 0 ]; then
  fail damaged_json_is_valid "$lines report lines for $ignored replays that read on"
else
  pass damaged_json_is_valid "$lines reports read on past the damage: jq parses them, iconv -f UTF-8 accepts them"
fi

# the header's target with its top bit flipped (0x20 -> 0xA0): U+FFFD in the JSON, not 0xA0
if [ -n "${hdr:-}" ]; then
  g=$tmp/a0.perfetto-trace
  cp "$f" "$g"
  printf '\240' | dd of="$g" bs=1 seek=$((hdr + 5)) conv=notrunc status=none
  "$STAT" --replay "$g" --json --ignore-damage >"$tmp/a0.json" 2>/dev/null
  target=$(jq -r .plan.target "$tmp/a0.json" 2>/dev/null)
  if grep -q "^model"$'\xef\xbf\xbd'"/" <<<"$target" && iconv -f UTF-8 -t UTF-8 "$tmp/a0.json" >/dev/null 2>&1; then
    pass damaged_header_string_is_utf8 "plan.target: $target"
  else
    fail damaged_header_string_is_utf8 "plan.target: $(head -c 80 "$tmp/a0.json" | od -c | head -3)"
  fi
fi

# a file cut short inside a packet, as a killed recorder leaves it: read up to the cut (its
# tail after the last checksum unverified, as before), said, exit 0
cut=$((size / 2))
head -c "$cut" "$f" >"$tmp/cut.perfetto-trace"
if [ "$("$CHECK" complete "$tmp/cut.perfetto-trace")" -eq "$cut" ]; then
  head -c $((cut + 1)) "$f" >"$tmp/cut.perfetto-trace"	# on a boundary: one byte into the next
fi
"$STAT" --replay "$tmp/cut.perfetto-trace" --json >"$tmp/cut.json" 2>"$tmp/cut.err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q 'ends inside a packet' "$tmp/cut.err" && ! grep -q damaged "$tmp/cut.err" &&
   [ "$(jq .totals.binds "$tmp/cut.json")" -lt "$(jq .totals.binds "$tmp/base.json")" ]; then
  pass cut_file_is_cut_not_damaged "$(jq .totals.binds "$tmp/cut.json") of $(jq .totals.binds "$tmp/base.json") binds"
else
  fail cut_file_is_cut_not_damaged "exit $rc" "$(cat "$tmp/cut.err")"
fi
