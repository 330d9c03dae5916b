# Sourced by tools/bench/bench.sh: the guest parts of `make bench`. The x86 guest (the kernel
# twin msm_kmodel on the real drm_sched, QEMU TCG): msmvm-stat with kprobes and with fentry
# against the bpftrace script with kprobes and with kfunc, BPF run time per hook invocation,
# time added per VM_BIND, start to attached, /proc/kallsyms opens. The arm64 guest (the real
# msm.ko, no GPU): start to attached and /proc/kallsyms opens. The guests measure
# (tools/bench/guest-x86.sh, guest-arm64.sh) and leave raw files; everything is computed here,
# on the host, into the results (keys g.* and a64.*) that report.sh reads.
#
# Uses bench.sh's put, say, calc, num, cell, die, JQ_BT, JQ_OURS, JQ_CMP, KEYS_OURS, KEYS_BT, B,
# RUNS, W. Sets GUEST_X86 and GUEST_ARM64: "ran", or "skipped: REASON", or "failed: REASON".

GUEST_SECS=${BENCH_GUEST_SECS:-3}	# the timing runs' length in the x86 guest
GUEST_NB=${BENCH_GUEST_BINDS:-500}	# binds per process of a counted run (BPF statistics)
# QEMU's -icount for the x86 guest: its clock advances with the instructions it executes
# (2^shift ns each), not with the host's clock, so that a timing run's rate no longer follows
# the host's load; sleep=off: an idle guest jumps to its next timer. Empty: the host's clock.
# shift=0 (1 ns an instruction): with shift=1 the programs' run times per call came out several
# times as spread from round to round.
GUEST_ICOUNT=${BENCH_GUEST_ICOUNT-shift=0,sleep=off}
# The timing runs' workload: unmap-heavy (1..16 ops a VM_BIND, few pages), so that what a tool adds
# per call is not lost in what the kernel does per VM_BIND: with sparse (some 170 page-table pages
# preallocated and freed per VM_BIND) the twin alone varies by more than 10 % from run to run, with
# icount too, several times what a tool adds. The counted runs (BPF time per hook) stay on sparse.
GUEST_TWL=${BENCH_GUEST_TIMING_WORKLOAD:-unmap-heavy}
GUEST_X86="skipped: BENCH_GUEST=0" GUEST_ARM64="skipped: BENCH_GUEST=0"

# the function a program is attached to, by BTF type id, from the twin's BTF (fentry links)
btf_funcs() {	# R -> {"ID": "NAME"} of the FUNC records of the module's BTF
  bpftool -j -B "$1/vmlinux.btf" btf dump file "$1/msm_kmodel.btf" 2>/dev/null |
    jq -c '[.types[] | select(.kind == "FUNC") | {key: (.id | tostring), value: .name}] | from_entries'
}

# gprogs R TAG FUNCS -> JSON [{id, hook}]: the programs the tool of TAG has attached, from its
# fds (links: fentry/fexit, kfunc, libbpf's kprobe links) and bpftool perf show (its perf
# events: bpftrace's kprobes). Found by what they are attached to, never by program name.
gprogs() {
  local r=$1 tag=$2 funcs=$3 pid
  pid=$(cat "$r/$tag.pid")
  awk '/^fd / { if (p != "") print p, a, t; p = ""; a = ""; t = ""; link = 0 }
       /^link_type:/ { link = 1 }
       /^prog_id:/ && link { p = $2 }
       /^attach_type:/ { a = $2 }
       /^target_btf_id:/ { t = $2 }
       END { if (p != "") print p, a, t }' "$r/$tag.fdinfo" |
    jq -Rn --argjson funcs "$funcs" --argjson pid "$pid" --slurpfile perf "$r/$tag.perf.json" '
      [inputs | split(" ") | select(.[2] != null and .[2] != "")
        | {id: (.[0] | tonumber),
           hook: (($funcs[.[2]] // "btf id \(.[2])") + (if .[1] == "25" then ":return" else "" end))}] +
      [$perf[0][] | select(.pid == $pid and (.fd_type == "kprobe" or .fd_type == "kretprobe"))
        | {id: .prog_id, hook: ((.func // "?") + (if .fd_type == "kretprobe" then ":return" else "" end))}]
      | unique_by(.id)'
}

# gcheck R TAG CFG COUNTED: the tool's final counts against the twin's ground truth for the
# two runs it watched (its timing run TAG.A, the counted run COUNTED): puts g.check.CFG (1 agree,
# 0 not)
gcheck() {
  local r=$1 tag=$2 cfg=$3 counted=$4 keys diffs
  case $cfg in
    ours-*) keys=$KEYS_OURS; tail -n 1 "$r/$tag.out" | jq -c "$JQ_OURS" >"$r/$tag.counts.json" 2>/dev/null ;;
    bt-*) keys=$KEYS_BT; jq -nc "$JQ_BT" "$r/$tag.out" >"$r/$tag.counts.json" 2>/dev/null ;;
  esac
  if [ ! -s "$r/$tag.counts.json" ] || [ ! -s "$r/$tag.A.json" ] || [ ! -s "$counted" ]; then
    put "g.check.$cfg" 0
    say "  $tag: no final report or no ground truth ($(tail -n 2 "$r/$tag.err" | tr '\n' ' '))"
    return
  fi
  jq -s '{processes: ([.[].processes[]])}' "$r/$tag.A.json" "$counted" >"$r/$tag.truth.json"
  diffs=$(jq -rn --argjson keys "$keys" --argjson twin true --slurpfile tool "$r/$tag.counts.json" \
            --slurpfile sum "$r/$tag.truth.json" "$JQ_CMP" 2>&1)
  if [ -z "$diffs" ]; then
    put "g.check.$cfg" 1
  else
    put "g.check.$cfg" 0
    say "  $tag: disagrees with the twin's ground truth:"
    printf '%s\n' "$diffs" | head -n 8 | sed 's/^/    /' >&2
  fi
}

# gen_scripts R: the host side of the handshake (guest-x86.sh): the bpftrace scripts from the
# twin's BTF as the guest's kernel has it loaded, their offsets against CO-RE's
gen_scripts() {
  local r=$1 m why=
  for m in kprobe kfunc; do
    bash tools/bench/gen-bpftrace.sh --kernel msm_kmodel "$r/msm_kmodel.btf" "$r/vmlinux.btf" $m \
      >"$r/$m.bt.tmp" 2>"$r/gen.$m.err" || why="gen-bpftrace.sh --kernel ($m): $(cat "$r/gen.$m.err")"
  done
  if [ -z "$why" ]; then
    [ -s "$r/layout.kprobe.json" ] || why="msmvm-stat --dry-run failed in the guest: $(head -c 300 "$r/layout.kprobe.err")"
  fi
  if [ -z "$why" ]; then
    G_OFFSETS_OK=$(jq -r --rawfile bt "$r/kprobe.bt.tmp" '.layout as $l |
      def off($re): ($bt | capture($re).n | tonumber);
      [ off("drm_file.driver_priv = (?<n>[0-9]+)") == $l.drm_file_driver_priv,
        off("msm_context.vm = (?<n>[0-9]+)") == $l.msm_context_vm,
        off("in_flight.counter = (?<n>[0-9]+)") == $l.msm_gem_vm_in_flight,
        off("msm_vm_bind_job.vm = (?<n>[0-9]+)") == $l.msm_vm_bind_job_vm,
        off("prealloc.count = (?<n>[0-9]+)") == ($l.msm_vm_bind_job_prealloc + $l.msm_mmu_prealloc_count),
        off("prealloc.ptr = (?<n>[0-9]+)") == ($l.msm_vm_bind_job_prealloc + $l.msm_mmu_prealloc_ptr) ]
      | if all then "yes" else "NO" end' "$r/layout.kprobe.json" 2>&1)
    [ "$G_OFFSETS_OK" = yes ] || why="the generated script's offsets differ from CO-RE's ($G_OFFSETS_OK)"
  fi
  if [ -n "$why" ]; then
    echo "$why" >"$r/gen.failed"
    say "  bpftrace scripts: $why"
    return
  fi
  mv "$r/kprobe.bt.tmp" "$r/kprobe.bt"; mv "$r/kfunc.bt.tmp" "$r/kfunc.bt"
  cp "$r/kfunc.bt" "$W/example-kfunc.bt"
  touch "$r/gen.done"
  say "  bpftrace scripts from the twin's BTF; offsets equal to msmvm's CO-RE relocations: $G_OFFSETS_OK"
}

# guest_x86: boots the x86 guest once for everything above
guest_x86() {
  local r=$B/bench-guest/x86 log gpid rc i tag cfg funcs progs st
  command -v qemu-system-x86_64 >/dev/null || { GUEST_X86="skipped: no qemu-system-x86_64 (package qemu-system-x86)"; return; }
  if ! BUILD=$B tools/guest/fetch >"$W/guest-fetch.log" 2>&1; then
    GUEST_X86="skipped: no guest kernel ($(grep 'guest fetch:' "$W/guest-fetch.log" | tail -n 1))"; return
  fi
  rm -rf "$r"; mkdir -p "$r"
  log=$W/guest-x86.log
  G_OFFSETS_OK=n/a
  G_RESTARTS=
  local first=1 boots=0 nr
  while :; do
    # a generous timeout: on a loaded 2-core host every step of TCG takes several times longer
    BUILD=$B MSMVM_GUEST_TIMES=1 tools/guest/run --timeout $((600 + RUNS * 300)) ${GUEST_ICOUNT:+--icount "$GUEST_ICOUNT"} -- \
      bash tools/bench/guest-x86.sh "$r" "$RUNS" "$GUEST_SECS" "$GUEST_NB" "$GUEST_TWL" "$first" >"$log" 2>&1 &
    gpid=$!
    BG+=("$gpid")
    for ((i = 0; i < 6000; i++)); do	# the guest copies the BTF, then waits for the scripts
      [ -e "$r/gen.done" ] || [ -e "$r/gen.failed" ] && break	# answered on an earlier boot
      [ -e "$r/btf.ready" ] && { gen_scripts "$r"; break; }
      [ -e "$r/failed" ] && break
      kill -0 "$gpid" 2>/dev/null || break
      sleep 0.2
    done
    wait "$gpid"; rc=$?
    local keep=() q; for q in "${BG[@]}"; do [ "$q" = "$gpid" ] || keep+=("$q"); done; BG=("${keep[@]}")
    cp "$log" "$r/guest.log" 2>/dev/null
    [ -e "$r/done" ] || [ -e "$r/failed" ] || [ ! -e "$r/gen.done" ] && break
    # The guest died (under -icount, QEMU's TCG now and then corrupts a register and the
    # kernel oopses: docs/PERFORMANCE.md): boot it again for the rounds not finished, three
    # times at most
    nr=0
    while [ "$nr" -lt "$RUNS" ] && [ -s "$r/r$((nr + 1)).order" ]; do nr=$((nr + 1)); done
    [ "$boots" -lt 3 ] || break
    boots=$((boots + 1))
    G_RESTARTS+="${G_RESTARTS:+; }in round $((nr + 1)): $(grep -m 1 -E 'guest kernel: .*(Oops|BUG|panic|fault)' "$log" | sed 's/^guest kernel: //')"
    say "  x86 guest: the guest died in round $((nr + 1)) (tools/guest/run exited $rc); booted again for rounds $((nr + 1))-$RUNS"
    first=$((nr + 1))
    rm -f "$r/done"
  done
  guest_x86_results "$r" "$log" "$rc"
}

# guest_x86_results R LOG RC: the figures from the guest's raw files in R (LOG: tools/guest/run's
# output, RC: its exit status). A guest that died after some rounds (a kernel oops under TCG) still
# gives those rounds' figures; G_PARTIAL says what happened.
guest_x86_results() {
  local r=$1 log=$2 rc=$3 i tag cfg funcs progs st nr
  G_PARTIAL=
  if [ -e "$r/failed" ]; then GUEST_X86="failed: $(cat "$r/failed")"; return; fi
  if [ ! -e "$r/done" ]; then
    GUEST_X86="failed: the guest did not finish (tools/guest/run exited $rc: $(grep -v '^guest: boot' "$log" | tail -n 2 | tr '\n' ' '))"
    [ "$rc" = 125 ] && ! [ -e "$r/btf.ready" ] && GUEST_X86="skipped: the guest did not boot ($(tail -n 1 "$log"))"
    nr=$(ls "$r"/r*.order 2>/dev/null | wc -l)
    [ "$nr" -gt 0 ] || return
    G_PARTIAL="the guest stopped after $nr of $RUNS rounds (tools/guest/run exited $rc: $(grep -m 1 -E 'guest kernel: .*(Oops|BUG|panic|fault)' "$log" | sed 's/^guest kernel: //')); the figures are those rounds'"
    say "  x86 guest: $G_PARTIAL"
  fi
  GUEST_X86=ran
  G_BOOT=$(sed -n 's/^guest: \(boot-to-ready.*\)/\1/p' "$log" | tail -n 1)
  G_KERNEL=$(cat "$r/kernel")
  G_BTVER=$(head -n 1 "$r/bpftrace.version")
  # kallsyms: opens during a start (strace), per attach kind
  for m in kprobe fentry; do
    put "g.kallsyms.$m" "$(grep -c '/proc/kallsyms' "$r/strace.$m" 2>/dev/null)"
    put "g.strace_opens.$m" "$(grep -c 'open' "$r/strace.$m" 2>/dev/null)"
  done
  funcs=$(btf_funcs "$r")
  [ -n "$funcs" ] || funcs='{}'
  for ((i = 1; i <= RUNS; i++)); do
    [ -s "$r/r$i.order" ] || continue	# a round the guest did not finish
    # the round's runs in the order they ran (none0 TOOL none1 TOOL ...): thread time per bind
    # (GSECS x 2 processes / binds) and the guest's CPU per bind (all its CPUs busy, from
    # /proc/stat: the kworkers' job frees and the tool's own work included)
    for name in $(cat "$r/r$i.order"); do
      [ -s "$r/r$i.$name.A.json" ] || continue
      [ "${name#none}" != "$name" ] && put g.pages_per_bind.none "$(jq '.totals | if .binds > 0 then .pages_counted / .binds else 0 end' "$r/r$i.$name.A.json")"
      awk -v secs="$GUEST_SECS" -v binds="$(jq '.totals.binds' "$r/r$i.$name.A.json")" -v name="$name" -v round="$i" '
        { split($0, p, "|"); split(p[2], a, " "); split(p[3], b, " ")
          busy = (b[1] + b[2] + b[3] + b[6] + b[7] + b[8]) - (a[1] + a[2] + a[3] + a[6] + a[7] + a[8])
          print round, name, binds, secs * 2 / binds * 1e6, busy / 100 / binds * 1e6 }' \
        "$r/r$i.$name.A.time" >>"$W/gflat"
      # the tool's own process (msmvm-stat, bpftrace): its CPU per VM_BIND over its timing run
      [ -s "$r/r$i.$name.A.tool" ] && put "g.tool_cpu.$name" "$(awk -v binds="$(jq '.totals.binds' "$r/r$i.$name.A.json")" \
        -v hz="$CLK_TCK" '{ split($0, p, "|"); split(p[1], a, " "); split(p[2], b, " ")
          print (b[1] + b[2] - a[1] - a[2]) / hz / binds * 1e6 }' "$r/r$i.$name.A.tool")"
    done
    for cfg in ours-fentry bt-kfunc ours-kprobe bt-kprobe; do
      tag=r$i.$cfg
      kind=$(case $cfg in *fentry|*kfunc) echo fentry ;; *) echo kprobe ;; esac)
      [ -e "$r/$tag.pid" ] && [ -e "$r/r$i.$kind.p1.json" ] && [ -s "$r/r$i.$kind.B.json" ] || continue
      read -r t0 t1 <"$r/$tag.attach"
      put "g.attach_ms.$cfg" "$(calc "($t1 - $t0) * 1000")"
      [ "${cfg%%-*}" = ours ] && put "g.attach_self_ms.$cfg" "$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' "$r/$tag.err" | head -n 1)"
      progs=$(gprogs "$r" "$tag" "$funcs")
      put "g.progs.$cfg" "$(jq length <<<"$progs")"
      [ "$i" = 1 ] && echo "$progs" >"$W/gprogs.$cfg.json"
      # BPF run time over the counted run: the programs' counters after, less before
      st=$(jq -nc --argjson p "$progs" --slurpfile a "$r/r$i.$kind.p0.json" --slurpfile b "$r/r$i.$kind.p1.json" '
        ($a[0] | map({key: (.id | tostring), value: .}) | from_entries) as $before |
        [$b[0][] as $g | $p[] | select(.id == $g.id)
          | . + {ns: (($g.run_time_ns // 0) - ($before[.id | tostring].run_time_ns // 0)),
                 cnt: (($g.run_cnt // 0) - ($before[.id | tostring].run_cnt // 0))}]')
      binds=$(jq '.totals.binds' "$r/r$i.$kind.B.json")
      GNS[$i.$cfg]=$(jq 'if (map(.cnt) | add // 0) > 0 then (map(.ns) | add) / (map(.cnt) | add) else "nan" end' <<<"$st")
      GNSB[$i.$cfg]=$(jq --argjson b "$binds" '(map(.ns) | add // 0) / $b' <<<"$st")
      put "g.bpf_ns.$cfg" "${GNS[$i.$cfg]}"
      put "g.bpf_ns_per_bind.$cfg" "${GNSB[$i.$cfg]}"
      put "g.calls_per_bind.$cfg" "$(jq --argjson b "$binds" '(map(.cnt) | add // 0) / $b' <<<"$st")"
      jq -r '.[] | "g.hook.\(.hook | gsub(" "; "_")).'"$cfg"' \(if .cnt > 0 then .ns / .cnt else 0 end)"' <<<"$st" >>"$RES"
      gcheck "$r" "$tag" "$cfg" "$r/r$i.$kind.B.json"
    done
    # per round: msmvm against the script, same attach kind (kfunc is bpftrace's fentry)
    for p in "fentry ours-fentry bt-kfunc" "kprobe ours-kprobe bt-kprobe"; do
      read -r kind a b <<<"$p"
      [ -n "${GNS[$i.$a]:-}" ] && [ -n "${GNS[$i.$b]:-}" ] || continue
      put "g.bpf_ratio.$kind" "$(calc "${GNS[$i.$a]} / ${GNS[$i.$b]}")"
      put "g.bpf_bind_ratio.$kind" "$(calc "${GNSB[$i.$a]} / ${GNSB[$i.$b]}")"
    done
  done
  # time added per VM_BIND: each tool's run against the mean of the two runs with no tool
  # around it (the same round); then msmvm / the script per round, same attach kind
  [ -s "$W/gflat" ] && awk '
    function flush_round(   k, a, b) {
      for (k = 1; k <= 4; k += 3) {
        a = pair[k + 1]; b = pair[k + 2]
        if ((a in wadd) && (b in wadd)) {
          print "g.wall_less." pair[k], (wadd[a] < wadd[b]) ? 1 : 0
          print "g.wall_half." pair[k], (wadd[a] <= 0.5 * wadd[b]) ? 1 : 0
          if (wadd[b] != 0) print "g.wall_ratio." pair[k], wadd[a] / wadd[b]
          if (cadd[b] != 0) print "g.cpu_ratio." pair[k], cadd[a] / cadd[b]
        }
      }
      delete wadd; delete cadd
    }
    BEGIN { split("fentry ours-fentry bt-kfunc kprobe ours-kprobe bt-kprobe", pair, " ") }
    $1 != round { if (round != "") flush_round(); round = $1; havenone = 0; nheld = 0 }
    { print "g.binds." ($2 ~ /^none/ ? "none" : $2), $3 }
    $2 ~ /^none/ {
      print "g.wall.none", $4; print "g.cpu.none", $5
      for (h = 1; h <= nheld && havenone; h++) {
        t = held[h]; wadd[t] = hw[h] - (nw + $4) / 2; cadd[t] = hc[h] - (nc + $5) / 2
        print "g.wall_added." t, wadd[t]; print "g.cpu_added." t, cadd[t]
      }
      nw = $4; nc = $5; havenone = 1; nheld = 0; next
    }
    { nheld++; held[nheld] = $2; hw[nheld] = $4; hc[nheld] = $5 }
    END { if (round != "") flush_round() }' "$W/gflat" >>"$RES"
  # starts that did not attach in time (tried again in the next round): how many, and where
  # the first one was (its stderr, its threads' kernel stacks)
  for cfg in ours-fentry bt-kfunc ours-kprobe bt-kprobe; do
    local nf=0 f
    for f in "$r"/r*."$cfg".stack; do [ -e "$f" ] && nf=$((nf + 1)); done
    put "g.attach_fail.$cfg" "$nf"
    if [ "$nf" -gt 0 ]; then
      f=$(ls "$r"/r*."$cfg".stack | head -n 1)
      { grep -m 3 . "${f%.stack}.err" | tr '\n' ' '; echo; grep -v '^$' "$f" | head -n 12; } >"$W/gattachfail.$cfg"
      say "  $cfg: $nf start(s) did not attach in time; the first: $(head -n 3 "$W/gattachfail.$cfg" | tr '\n' ' ')"
    fi
  done
  # what did not attach, and why (bpftrace's own words)
  for cfg in ours-fentry bt-kfunc ours-kprobe bt-kprobe; do
    if ! ls "$r"/r*."$cfg".pid >/dev/null 2>&1; then
      tag=$(ls "$r"/r*."$cfg".err 2>/dev/null | head -n 1)
      if [ -n "$tag" ]; then
        grep -v 'RLIMIT_MEMLOCK' "$tag" | grep -m 3 . | tr '\n' ' ' >"$W/gfail.$cfg"
      elif [ -e "$r/gen.failed" ]; then
        cp "$r/gen.failed" "$W/gfail.$cfg"
      else
        echo "not run" >"$W/gfail.$cfg"
      fi
    fi
  done
  say "  x86 guest: BPF ns per hook: msmvm fentry $(cell g.bpf_ns.ours-fentry 0), kprobe $(cell g.bpf_ns.ours-kprobe 0); bpftrace kfunc $(cell g.bpf_ns.bt-kfunc 0), kprobe $(cell g.bpf_ns.bt-kprobe 0)"
  say "  x86 guest: start to attached (msmvm-stat's own figure, ms): fentry $(cell g.attach_self_ms.ours-fentry 0), kprobe $(cell g.attach_self_ms.ours-kprobe 0); /proc/kallsyms opened $(agg g.kallsyms.kprobe | cut -d' ' -f3) and $(agg g.kallsyms.fentry | cut -d' ' -f3) times"
}

# guest_x86_summary: the x86 guest's figures on stderr (BENCH_ONLY=guest-x86)
guest_x86_summary() {
  local c k clock="the host's"
  [ -n "$GUEST_ICOUNT" ] && clock="icount $GUEST_ICOUNT (emulated instructions)"
  say "  clock: $clock; timing runs: -w $GUEST_TWL; no tool: $(cell g.binds.none 0) binds in $GUEST_SECS s, wall per bind $(cell g.wall.none 1) µs"
  for c in ours-fentry bt-kfunc ours-kprobe bt-kprobe; do
    say "  $c: binds $(cell "g.binds.$c" 0); added per VM_BIND: wall $(cell "g.wall_added.$c" 1) µs, CPU $(cell "g.cpu_added.$c" 1) µs, the tool's own process $(cell "g.tool_cpu.$c" 1) µs; BPF $(cell "g.bpf_ns_per_bind.$c" 0) ns per bind; exact $(awk -v k="g.check.$c" '$1 == k { n++; s += $2 } END { printf("%d/%d", s, n) }' "$RES")"
  done
  for k in fentry kprobe; do
    say "  $k: msmvm / bpftrace per round, wall: $(awk -v k="g.wall_ratio.$k" '$1 == k { printf("%s%.2f", n++ ? ", " : "", $2) }' "$RES"); CPU: $(awk -v k="g.cpu_ratio.$k" '$1 == k { printf("%s%.2f", n++ ? ", " : "", $2) }' "$RES")"
  done
}

# guest_arm64: boots the arm64 guest (the real msm.ko) for start to attached
guest_arm64() {
  local r=$B/bench-guest/arm64 log rc i m t0 ta
  command -v qemu-system-aarch64 >/dev/null || { GUEST_ARM64="skipped: no qemu-system-aarch64 (package qemu-system-arm)"; return; }
  if ! BUILD=$B tools/guest/fetch --arch arm64 --kernel msm >"$W/guest-fetch-arm64.log" 2>&1; then
    GUEST_ARM64="skipped: no arm64 guest kernel ($(grep 'guest fetch:' "$W/guest-fetch-arm64.log" | tail -n 1))"; return
  fi
  if ! make --no-print-directory -s BUILD="$B" arm64 >"$W/arm64-make.log" 2>&1; then
    GUEST_ARM64="skipped: make arm64 failed ($(tail -n 1 "$W/arm64-make.log"))"; return
  fi
  rm -rf "$r"; mkdir -p "$r"
  log=$W/guest-arm64.log
  BUILD=$B MSMVM_GUEST_TIMES=1 tools/guest/run --arch arm64 --timeout $((300 + RUNS * 60)) -- \
    bash tools/bench/guest-arm64.sh "$r" "$RUNS" >"$log" 2>&1
  rc=$?
  cp "$log" "$r/guest.log" 2>/dev/null
  if [ -e "$r/failed" ]; then GUEST_ARM64="failed: $(cat "$r/failed")"; return; fi
  if [ ! -e "$r/done" ]; then
    GUEST_ARM64="failed: the guest did not finish (tools/guest/run --arch arm64 exited $rc: $(tail -n 2 "$log" | tr '\n' ' '))"
    return
  fi
  GUEST_ARM64=ran
  A_BOOT=$(sed -n 's/^guest: //p' "$log" | tail -n 1)
  A_KERNEL=$(cat "$r/kernel")
  for ((i = 1; i <= RUNS; i++)); do
    for m in kprobe fentry; do
      [ "$(cat "$r/r$i.$m.rc" 2>/dev/null)" = 0 ] || { put "a64.ok.$m" 0; continue; }
      put "a64.ok.$m" 1
      t0=$(cat "$r/r$i.$m.t0")
      ta=$(awk '/attached/ { print $1; exit }' "$r/r$i.$m.err")
      [ -n "$ta" ] && put "a64.attach_ms.$m" "$(calc "($ta - $t0) * 1000")"
      put "a64.attach_self_ms.$m" "$(sed -n 's/.* in \([0-9.]*\) ms.*/\1/p' "$r/r$i.$m.err" | head -n 1)"
      [ -e "$r/r$i.$m.kallsyms" ] && put "a64.kallsyms.$m" "$(cat "$r/r$i.$m.kallsyms")"
      [ "$i" = 1 ] && A_LINE[$m]=$(grep -o 'attached.*' "$r/r$i.$m.err" | head -n 1)
    done
  done
  say "  arm64 guest: start to attached (msmvm-stat's own figure, ms): kprobe $(cell a64.attach_self_ms.kprobe 0), fentry $(cell a64.attach_self_ms.fentry 0)"
}
declare -A A_LINE=() GNS=() GNSB=()
