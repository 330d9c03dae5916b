# Sourced by tools/bench/report.sh: the guests' rows of the summary table (GUEST_ROWS) and
# their sections of the report, PERFORMANCE.md (guest_doc). Reads the g.* and a64.* results of
# tools/bench/guest.sh and its GUEST_X86 / GUEST_ARM64 states.

GUEST_X86=${GUEST_X86:-"skipped: BENCH_GUEST=0"}
FENCE='```'
GUEST_ARM64=${GUEST_ARM64:-"skipped: BENCH_GUEST=0"}
has_key() { [ "$(agg "$1" | awk '{ print $4 }')" -gt 0 ]; }
okcount() { awk -v k="$1" '$1 == k { n++; s += $2 } END { printf("%d/%d", s, n) }' "$RES"; }
# range_sep A B: "yes" when the ranges (min–max) of A and B do not overlap
range_sep() { awk -v a="$(agg "$1")" -v b="$(agg "$2")" 'BEGIN { split(a, x, " "); split(b, y, " ");
  print (x[4] > 0 && y[4] > 0 && (x[3] < y[1] || y[3] < x[1])) ? "yes" : "no" }'; }
# rounds_below KEY LIMIT -> "K of N" rounds whose value is below LIMIT
rounds_below() { awk -v k="$1" -v l="$2" '$1 == k { n++; if ($2 < l) b++ } END { printf("%d of %d", b, n) }' "$RES"; }
ratio_list() { awk -v k="$1" '$1 == k { printf("%s%.2f", n++ ? ", " : "", $2) } END { if (!n) printf("none") }' "$RES"; }
# gv KEY VERDICT: the verdict, or "not measured" when KEY has no value
gv() { has_key "$1" && verdict "$2" || echo "**not measured**"; }
# us KEY: the median in µs of a ns figure, or n/a
us() { has_key "$1" && num "$(calc "$(med "$1") / 1000")" 1 || echo n/a; }
# why CFG: why a tool has no figures (did not attach: its own words), or nothing
why() { [ -s "$W/gfail.$1" ] && echo " ($(head -c 300 "$W/gfail.$1"))"; }

# --- verdicts ------------------------------------------------------------------------------
G_KP_RATIO=$(med g.bpf_ratio.kprobe); G_KP_OK=$(le "$G_KP_RATIO" 0.5)
G_FE_RATIO=$(med g.bpf_ratio.fentry); G_FE_OK=$(le "$G_FE_RATIO" 0.5)
G_WALL_O=$(med g.wall_added.ours-fentry); G_WALL_B=$(med g.wall_added.bt-kfunc)
G_WALL_OK=$(awk -v o="$G_WALL_O" -v b="$G_WALL_B" 'BEGIN { print (o != "nan" && b != "nan" && o <= 0.5 * b) ? 1 : 0 }')
G_WALL_KEY=$(has_key g.wall_added.ours-fentry && echo g.wall_added.bt-kfunc || echo g.wall_added.ours-fentry)
# The x86 guest's clock (tools/bench/guest.sh's GUEST_ICOUNT): QEMU's icount, or the host's
GUEST_ICOUNT=${GUEST_ICOUNT:-} GUEST_TWL=${GUEST_TWL:-sparse} G_PARTIAL=${G_PARTIAL:-} G_RESTARTS=${G_RESTARTS:-}
G_SHIFT=$(sed -n 's/.*shift=\([0-9][0-9]*\).*/\1/p' <<<"$GUEST_ICOUNT")
G_INSN_NS=$([ -n "$G_SHIFT" ] && echo $((1 << G_SHIFT)))
if [ -n "$GUEST_ICOUNT" ]; then
  G_CLOCK="QEMU's \`-icount $GUEST_ICOUNT\`: the guest's clock is a count of the instructions it executes${G_INSN_NS:+ ($G_INSN_NS ns each)}, not the host's clock"
else
  G_CLOCK="the host's clock (no \`-icount\`)"
fi
# g_tverdict KEY_OURS KEY_BT OK: the time added's verdict as far as the ranges support one:
# met or missed when the two ranges are apart, else undecided (the medians' reading said)
g_tverdict() {
  has_key "$1" && has_key "$2" || { echo "**not measured**"; return; }
  if [ "$(range_sep "$1" "$2")" = yes ]; then verdict "$3"
  else echo "**undecided** (the ranges overlap; the medians would say $([ "$3" = 1 ] && echo met || echo missed))"; fi
}
G_CPU_O=$(med g.cpu_added.ours-fentry); G_CPU_B=$(med g.cpu_added.bt-kfunc)
G_CPU_OK=$(awk -v o="$G_CPU_O" -v b="$G_CPU_B" 'BEGIN { print (o != "nan" && b != "nan" && o <= 0.5 * b) ? 1 : 0 }')
# /proc/kallsyms: at most one open per start, in every start counted
KS_MAX=$(for k in g.kallsyms.kprobe g.kallsyms.fentry a64.kallsyms.kprobe a64.kallsyms.fentry; do
  has_key "$k" && agg "$k" | awk '{ print $3 }'; done | sort -g | tail -n 1)
KS_OK=$([ -n "$KS_MAX" ] && [ "$(le "$KS_MAX" 1)" = 1 ] && echo 1 || echo 0)
x86_or() { [ "$GUEST_X86" = ran ] && echo "$1" || echo "$GUEST_X86"; }
a64_or() { [ "$GUEST_ARM64" = ran ] && echo "$1" || echo "$GUEST_ARM64"; }
g_ver() { [ "$GUEST_X86" = ran ] && has_key "$1" && verdict "$2" || echo "n/a"; }
BT_KFUNC_FAIL=$( [ -s "$W/gfail.bt-kfunc" ] && cat "$W/gfail.bt-kfunc")

GUEST_ROWS=$(cat <<EOF
| x86 guest, the kernel twin, kprobes: BPF run time per hook invocation (ns) | $(x86_or "$(cell g.bpf_ns.ours-kprobe 0)") | $(x86_or "$(cell g.bpf_ns.bt-kprobe 0)") | $(x86_or "$(cell g.bpf_ratio.kprobe 2)") | ≤ 0.50 | $(g_ver g.bpf_ratio.kprobe "$G_KP_OK") |
| x86 guest, the kernel twin, fentry (bpftrace: kfunc): BPF run time per hook invocation (ns) | $(x86_or "$(cell g.bpf_ns.ours-fentry 0)") | $(x86_or "$( has_key g.bpf_ns.bt-kfunc && cell g.bpf_ns.bt-kfunc 0 || echo "kfunc failed")") | $(x86_or "$(cell g.bpf_ratio.fentry 2)") | ≤ 0.50 | $(g_ver g.bpf_ratio.fentry "$G_FE_OK") |
| x86 guest, fentry: time added per VM_BIND, wall (µs$([ -n "$GUEST_ICOUNT" ] && echo " of the guest's instruction-counted clock"), the twin flat out) | $(x86_or "$(cell g.wall_added.ours-fentry 0)") | $(x86_or "$(cell g.wall_added.bt-kfunc 0)") | $(x86_or "$(ratio_cell "$G_WALL_O" "$G_WALL_B" g.wall_ratio.fentry)") | ≤ 0.5 × bpftrace | $([ "$GUEST_X86" = ran ] && g_tverdict g.wall_added.ours-fentry g.wall_added.bt-kfunc "$G_WALL_OK" || echo n/a) |
| x86 guest: start to attached (ms; msmvm-stat's own figure; kprobes; fentry) | $(x86_or "$(cell g.attach_self_ms.ours-kprobe 0); $(cell g.attach_self_ms.ours-fentry 0)") | $(x86_or "$(cell g.attach_ms.bt-kprobe 0); $(cell g.attach_ms.bt-kfunc 0) (fork to attached)") | | (reported) | |
| arm64 guest, the real msm.ko: start to attached (ms; msmvm-stat's own figure; kprobes; fentry) | $(a64_or "$(cell a64.attach_self_ms.kprobe 0); $(cell a64.attach_self_ms.fentry 0)") | | | (reported) | |
| /proc/kallsyms opened per start (most in any start; x86 guest kprobes, fentry; arm64 kprobes, fentry) | $(x86_or "$(agg g.kallsyms.kprobe | cut -d' ' -f3), $(agg g.kallsyms.fentry | cut -d' ' -f3)"); $(a64_or "$(agg a64.kallsyms.kprobe | cut -d' ' -f3), $(agg a64.kallsyms.fentry | cut -d' ' -f3)") | | | ≤ 1 | $([ -n "$KS_MAX" ] && verdict "$KS_OK" || echo n/a) |
EOF
)

# --- the document's guest sections ---------------------------------------------------------
g_hook_rows() {
  local h
  for h in msm_ioctl_vm_bind msm_ioctl_vm_bind:return vm_bind_prealloc_count vm_bind_prealloc_count:return \
           msm_vma_job_free msm_vma_job_free:return; do
    echo "| \`$h\` | $(cell "g.hook.$h.ours-kprobe" 0) | $(cell "g.hook.$h.bt-kprobe" 0) | $(cell "g.hook.$h.ours-fentry" 0) | $(cell "g.hook.$h.bt-kfunc" 0) |"
  done
}
# g_spread KEY: (max - min) / median in percent; g_spread_us: that spread of the runs with no
# tool, in µs per VM_BIND (of one issuing thread: the wall figure)
g_spread() { agg "$1" | awk '{ printf("%.0f", $2 ? ($3 - $1) / $2 * 100 : 0) }'; }
g_spread_us() { agg g.wall.none | awk '{ printf("%.6g", $3 - $1) }'; }
g_sep_text() {	# KIND OURS BT: whether the time added separates, said
  local kind=$1 o=$2 b=$3
  if [ "$(range_sep "g.wall_added.$o" "g.wall_added.$b")" = yes ]; then
    echo "With $kind the ranges of the wall time added separate ($(cell "g.wall_added.$o" 0) against $(cell "g.wall_added.$b" 0) µs)."
  else
    echo "With $kind the ranges of the wall time added overlap ($(cell "g.wall_added.$o" 0) against $(cell "g.wall_added.$b" 0) µs), and"
    echo "the bench cannot tell the two apart from them: the twin alone ran at $(cell g.binds.none 0) binds per"
    if [ -n "$GUEST_ICOUNT" ]; then
      echo "$GUEST_SECS s of the guest's clock from run to run, a spread of $(g_spread g.binds.none) % of the median, about"
      echo "$(num "$(g_spread_us)" 0) µs per VM_BIND, against a difference of $(num "$(calc "$(med "g.bpf_ns_per_bind.$b") / 1000 - $(med "g.bpf_ns_per_bind.$o") / 1000")" 0) µs between the two"
      echo "tools' BPF time per VM_BIND. That spread is the guest's own, not the host's: with the clock counting"
      echo "instructions, the host's load changes how long a run takes, not what it measures (checked by hand:"
      echo "the twin alone, six runs in one guest, gave the same spread of rates on a quiet host and with"
      echo "\`yes\` busy on it, where the host's clock gave rates a factor of 4 apart). The guest executes"
      echo "more or fewer instructions per VM_BIND from run to run, on the same ops (seed 1): the twin"
      echo "preallocates and frees $(has_key g.pages_per_bind.none && num "$(med g.pages_per_bind.none)" 0) page-table pages per VM_BIND, and the page allocator's and the"
      echo "slab's paths depend on what earlier runs left (checked by hand with sparse, where the spread is"
      echo "widest: one vCPU instead of two, \`--smp 1\`, gave the same spread, so it is not the vCPUs'"
      echo "interleaving). The per-round ratios (paired: the"
    else
      echo "$GUEST_SECS s from round to round, and a guest under TCG runs on whatever share of a host core it gets (all"
      echo "its vCPUs on one host thread; other processes took $(num "$OTHERS_PCT" 0) % of the machine during the bench),"
      echo "so its rate moves with the host's load by more than a tool adds. The per-round ratios (paired: the"
    fi
    echo "configurations of a round run back to back) are $(ratio_list "g.wall_ratio.$kind") (a negative ratio:"
    echo "one of the two ran faster than the runs with no tool around it): msmvm added less than the script in"
    echo "$(okcount "g.wall_less.$kind") rounds, at most half of it in $(okcount "g.wall_half.$kind")."
    if [ -n "$GUEST_ICOUNT" ]; then
      echo "More rounds (BENCH_RUNS) narrow the medians, not the ranges: the ranges of single runs stay as wide"
      echo "as the guest's own spread, wider than what separates the tools. The figure that does separate them"
      echo "is the programs' own time, counted on the same calls (the BPF cost above)."
    else
      echo "What would separate them: a host with a core to itself for the guest (or KVM), the guest's clock"
      echo "counting instructions (BENCH_GUEST_ICOUNT), or more rounds (BENCH_RUNS) so that the median of the"
      echo "paired ratios settles."
    fi
  fi
}

guest_doc() {
cat <<EOF

## The kernel flavor: the kernel twin in the x86 guest

EOF
if [ "$GUEST_X86" != ran ]; then
  echo "Not measured in this run: $GUEST_X86."
  return 0
fi
cat <<EOF
\`tools/guest/run\`: Debian's $G_KERNEL kernel under QEMU TCG on this machine (2 vCPUs, both on one
host thread; $([ -n "$GUEST_ICOUNT" ] && echo "its clock counts instructions: \`-icount $GUEST_ICOUNT\`, below" || echo "its clock is the host's")), the kernel twin \`msm_kmodel.ko\` on the real \`drm\` and \`gpu-sched\` (docs/kmodel.md);
the guest's root is the host's, so the host's bpftrace ($G_BTVER) and bpftool run in it
(${G_BOOT}). The workload: \`msmvm-sim run --kernel -w sparse -P 2 --job-cost 0\`, real ioctls from
two processes on the twin's device, jobs freed from drm_sched's kworker$([ "$GUEST_TWL" != sparse ] && echo "; the timing runs below
use \`-w $GUEST_TWL\` instead (why: with the time added)").
$RUNS rounds${G_PARTIAL:+ (but $G_PARTIAL)}${G_RESTARTS:+ (the guest kernel died and was booted again for the rounds left, from the first one not finished: $G_RESTARTS; the figures of each round are its own, so a round done on another boot compares as well)}. A round, for each attach kind (fentry, then kprobes, or the other way round): the pair
\`msmvm-stat --attach=fentry\` and the bpftrace script with kfunc/kretfunc (bpftrace's fentry/fexit),
or \`msmvm-stat --attach=kprobe\` and the script with kprobe/kretprobe, between two timing runs with
no tool. The first of the pair attaches and has its timing run (the twin flat out for $GUEST_SECS s, BPF
statistics off); the second attaches too, and the counted run ($GUEST_NB binds per process) goes
with both attached and \`kernel.bpf_stats_enabled=1\`, the programs' \`run_time_ns\` and
\`run_cnt\` read before and after; then the first stops and the second has its timing run alone.
In the counted run both tools' programs run on the same calls, one after the other (the same
fentry trampoline, the same kprobe), under the same load: their per-call times compare as a pair,
which matters here, since the guest's speed varies from run to run$([ -z "$GUEST_ICOUNT" ] && echo " with the host's load"). Which of the two attaches
first (and so runs first on each call) alternates by round. A tool's programs are found by what
they are attached to (the links among its file descriptors, and its perf events in \`bpftool perf
show\`), not by their names.

The bpftrace scripts are generated in each run from the twin's BTF as the guest's kernel has it
loaded (\`/sys/kernel/btf/msm_kmodel\` over \`/sys/kernel/btf/vmlinux\`, read with bpftool:
\`gen-bpftrace.sh --kernel\`), the same aggregation as the model's script, with the VM's owner keyed
by the VM alone (the kernel frees jobs from a kworker, another pid); their offsets equal the ones
CO-RE relocated msmvm's programs to (\`msmvm-stat --dry-run\` in the guest): $G_OFFSETS_OK.
Every run of every tool was checked against the twin's ground truth (its debugfs counters, as
\`msmvm-sim run --kernel\` reports them), process by process, for both runs it watched (the
rules above; the peak in_flight only as the lower bound it is, as the guest tests do): msmvm-stat
with kprobes agreed in $(okcount g.check.ours-kprobe) runs, with fentry in $(okcount g.check.ours-fentry);
the script with kprobes in $(okcount g.check.bt-kprobe), with kfunc in $(okcount g.check.bt-kfunc).

Under TCG every instruction of the kernel, of the BPF programs' JIT code included, is translated
and emulated: the nanoseconds below are the guest's, not the host's (the model's uprobe programs
take $(cell bpf_ns.ours 0) ns a call on the host). What carries over to real hardware is the ratio
between two tools measured side by side, not the absolute figures.
$(if [ -n "$GUEST_ICOUNT" ]; then cat <<EOT
The guest runs with $G_CLOCK: every duration the guest measures (a program's \`run_time_ns\`, a
timing run's ${GUEST_SECS} s, \`/proc/stat\`'s jiffies) counts ${G_INSN_NS:-2^shift} ns per instruction it executed meanwhile,
and an idle guest's clock jumps to its next timer (\`sleep=off\`). A figure below is therefore
a count of emulated instructions, scaled: so many instructions per call or per VM_BIND, whatever the
host was doing meanwhile (QEMU being preempted stops the guest's clock with it). Its limits: the
scale is not a real CPU's (an instruction is ${G_INSN_NS:-2^shift} ns whatever it is: a cache miss, a
division and an add cost the same), and icount runs all vCPUs in turn on one host thread, as here anyway.
EOT
else cat <<EOT
A program's run time is the guest clock's from its start to its end, and the guest's clock is
the host's: when the host takes the CPU from QEMU's thread meanwhile, that time is counted too, so
that on a loaded host single calls are inflated by up to milliseconds at random. Counting both tools
on the same calls gives them the same chances; the spread of the per-round ratios below shows how
much noise remains (other processes took $(num "$OTHERS_PCT" 0) % of this machine's CPU during the bench).
EOT
fi)

### BPF cost per hook invocation: kprobes $(gv g.bpf_ratio.kprobe "$G_KP_OK"), fentry $(gv g.bpf_ratio.fentry "$G_FE_OK")

Total BPF run time over all the programs each tool attached, divided by their invocations
(\`run_time_ns / run_cnt\`), in the counted runs (each pair on the same calls; the ratio is per round):

| | msmvm-stat (ns) | bpftrace script (ns) | msmvm / bpftrace (per round) | programs attached | invocations per VM_BIND | BPF time per VM_BIND (µs): msmvm; bpftrace |
|---|---|---|---|---|---|---|
| kprobes | $(cell g.bpf_ns.ours-kprobe 0)$(has_key g.bpf_ns.ours-kprobe || why ours-kprobe) | $(cell g.bpf_ns.bt-kprobe 0)$(has_key g.bpf_ns.bt-kprobe || why bt-kprobe) | $(cell g.bpf_ratio.kprobe 2) | $(cell g.progs.ours-kprobe 0); $(cell g.progs.bt-kprobe 0) | $(cell g.calls_per_bind.ours-kprobe 2); $(cell g.calls_per_bind.bt-kprobe 2) | $(us g.bpf_ns_per_bind.ours-kprobe); $(us g.bpf_ns_per_bind.bt-kprobe) |
| fentry (bpftrace: kfunc) | $(cell g.bpf_ns.ours-fentry 0)$(has_key g.bpf_ns.ours-fentry || why ours-fentry) | $(cell g.bpf_ns.bt-kfunc 0)$(has_key g.bpf_ns.bt-kfunc || why bt-kfunc) | $(cell g.bpf_ratio.fentry 2) | $(cell g.progs.ours-fentry 0); $(cell g.progs.bt-kfunc 0) | $(cell g.calls_per_bind.ours-fentry 2); $(cell g.calls_per_bind.bt-kfunc 2) | $(us g.bpf_ns_per_bind.ours-fentry); $(us g.bpf_ns_per_bind.bt-kfunc) |

BPF time per VM_BIND, msmvm / bpftrace (the fairer figure when the tools attach different numbers of
programs): kprobes $(cell g.bpf_bind_ratio.kprobe 2), fentry $(cell g.bpf_bind_ratio.fentry 2). Target: 0.50 per
hook invocation.$(
  for k in "kprobe bt-kprobe ours-kprobe $G_KP_OK kprobes" "fentry bt-kfunc ours-fentry $G_FE_OK fentry"; do
    set -- $k
    has_key "g.bpf_ratio.$1" && [ "$4" != 1 ] &&
      echo " Missed with $5: msmvm's programs would need $(num "$(calc "$(med "g.bpf_ns.$2") / 2")" 0) ns per invocation there, they take $(num "$(med "g.bpf_ns.$3")" 0) ns."
  done) The per-hook figures below show where each spends it.

| hook | msmvm, kprobes (ns) | bpftrace, kprobes (ns) | msmvm, fentry (ns) | bpftrace, kfunc (ns) |
|---|---|---|---|---|
$(g_hook_rows)

### Time added per VM_BIND with fentry: wall $(g_tverdict g.wall_added.ours-fentry g.wall_added.bt-kfunc "$G_WALL_OK"), CPU $(g_tverdict g.cpu_added.ours-fentry g.cpu_added.bt-kfunc "$G_CPU_OK")

The timing runs: the twin flat out (\`-w $GUEST_TWL\`) for $GUEST_SECS s$([ -n "$GUEST_ICOUNT" ] && echo " of the guest's clock (${G_INSN_NS:-2^shift} ns per instruction executed)"); a tool's figure is its run's difference to the
mean of the two runs with no tool just before and just after it (so that the guest's speed drifting
over a round$([ -z "$GUEST_ICOUNT" ] && echo " with the host's load") cancels out). Wall: the time one issuing thread takes per VM_BIND ($GUEST_SECS s x 2 / binds). CPU:
the guest's busy time on all its CPUs per VM_BIND (\`/proc/stat\`; the kworkers' frees, the tools'
own user-space work included). Target with fentry: msmvm adds at most half of what the script adds.
$([ "$GUEST_TWL" != sparse ] && cat <<EOT
The timing runs use \`-w $GUEST_TWL\`$(has_key g.pages_per_bind.none && echo " ($(num "$(med g.pages_per_bind.none)" 1) pages counted per VM_BIND)"), not the counted runs' sparse
(about 170): a tool's cost is per call, and with sparse the kernel's own work per VM_BIND, mostly
preallocating and freeing page-table pages, is both large and uneven from run to run (more than
10 % between runs of the twin alone, icount or not), several times what a tool adds. A cheap
VM_BIND lets the tools' cost per call show; neither tool's programs do work that grows with a
call's ops here (msmvm-stat does not walk them; msmvm-trace does).
EOT
)

| | binds in $GUEST_SECS s | added wall per VM_BIND (µs) | added CPU per VM_BIND (µs) | the tool's own process, CPU per VM_BIND (µs) |
|---|---|---|---|---|
| no tracing | $(cell g.binds.none 0) | (wall $(cell g.wall.none 1) µs) | (CPU $(cell g.cpu.none 1) µs) | |
| msmvm-stat, fentry | $(cell g.binds.ours-fentry 0) | $(cell g.wall_added.ours-fentry 1) | $(cell g.cpu_added.ours-fentry 1) | $(cell g.tool_cpu.ours-fentry 2) |
| bpftrace script, kfunc | $(cell g.binds.bt-kfunc 0) | $(cell g.wall_added.bt-kfunc 1) | $(cell g.cpu_added.bt-kfunc 1) | $(cell g.tool_cpu.bt-kfunc 2) |
| msmvm-stat, kprobes | $(cell g.binds.ours-kprobe 0) | $(cell g.wall_added.ours-kprobe 1) | $(cell g.cpu_added.ours-kprobe 1) | $(cell g.tool_cpu.ours-kprobe 2) |
| bpftrace script, kprobes | $(cell g.binds.bt-kprobe 0) | $(cell g.wall_added.bt-kprobe 1) | $(cell g.cpu_added.bt-kprobe 1) | $(cell g.tool_cpu.bt-kprobe 2) |

The tool's own process: its user and system time (\`/proc/PID/stat\`, in ticks of 10 ms: 0 is
less than one in the run) over its timing run, per VM_BIND: what its user-space side (msmvm-stat
wakes every 50 ms; bpftrace sleeps until it is stopped) takes from the twin, apart from its BPF
programs.

msmvm / bpftrace per round, wall: fentry $(ratio_list g.wall_ratio.fentry); kprobes $(ratio_list g.wall_ratio.kprobe).
CPU: fentry $(ratio_list g.cpu_ratio.fentry); kprobes $(ratio_list g.cpu_ratio.kprobe).
$(g_sep_text fentry ours-fentry bt-kfunc)
The programs' own time per VM_BIND (counted runs$([ "$GUEST_TWL" != sparse ] && echo ", sparse")) is $(us g.bpf_ns_per_bind.ours-fentry) µs
for msmvm with fentry and $(us g.bpf_ns_per_bind.bt-kfunc) µs for the script with kfunc: with fentry
there is no trap around them; the rest of what either adds is work \`run_time_ns\` does not count
(the trampolines' own around each of the six calls a VM_BIND, among others).
$(for c in ours-fentry bt-kfunc ours-kprobe bt-kprobe; do
  n=$(med "g.attach_fail.$c"); [ "${n%.*}" != nan ] && [ "${n%.*}" -gt 0 ] 2>/dev/null || continue
  echo
  echo "$c: $(awk -v k="g.attach_fail.$c" '$1 == k { print $2 }' "$RES") start(s) did not attach within the wait (about 200 s; tried"
  echo "again in the next round). The first one's stderr and its threads' kernel stacks:"
  echo; echo "$FENCE"; cat "$W/gattachfail.$c"; echo "$FENCE"
done)

### Start to attached, and /proc/kallsyms

| | msmvm-stat's own figure (ms) | fork to attached, seen from outside (ms) | /proc/kallsyms opens during a start |
|---|---|---|---|
| msmvm-stat, kprobes | $(cell g.attach_self_ms.ours-kprobe 0) | $(cell g.attach_ms.ours-kprobe 0) | $(agg g.kallsyms.kprobe | cut -d' ' -f3) |
| msmvm-stat, fentry | $(cell g.attach_self_ms.ours-fentry 0) | $(cell g.attach_ms.ours-fentry 0) | $(agg g.kallsyms.fentry | cut -d' ' -f3) |
| bpftrace script, kprobes | | $(cell g.attach_ms.bt-kprobe 0) | |
| bpftrace script, kfunc | | $(cell g.attach_ms.bt-kfunc 0) | |

The opens are counted with \`strace -f -e trace=openat,open\` on a start of its own per attach kind
(strace slows every system call, so those starts are not timed); the start times are those of the
rounds above. Emulated time again: the host's own figure for the model is $(cell attach_self_ms.ours 0) ms.

### bpftrace 0.17 in the guest

- kprobe/kretprobe on the twin's functions: attached$( has_key g.bpf_ns.bt-kprobe || echo " NOT: $(cat "$W/gfail.bt-kprobe" 2>/dev/null)").
- kfunc/kretfunc on a module's functions, written \`kfunc:msm_kmodel:msm_ioctl_vm_bind\`, arguments by
  their BTF names (\`args->file\`, \`args->data\`, \`args->job\`, \`args->_job\`): $( has_key g.bpf_ns.bt-kfunc && echo "attached, and counted exactly." || echo "FAILED: ${BT_KFUNC_FAIL:-no error kept}")
- bpftrace 0.17 hands its script to clang with the kernel's headers whenever
  \`/lib/modules/\$(uname -r)/build\` exists; in the guest that is Debian's arch-only header tree
  (no \`include/linux/kconfig.h\`), and every script fails with \`fatal error: .../kconfig.h file not
  found\`. The bench runs bpftrace in a mount namespace of its own with that directory hidden: it then
  works from BTF alone, as on the host (which has no headers). With the full headers
  (\`BPFTRACE_KERNEL_SOURCE\` on the \`-common\` tree) it also runs, but parses them at each start.
EOF
}

arm64_doc() {
cat <<EOF

## The real msm.ko in the arm64 guest

EOF
if [ "$GUEST_ARM64" != ran ]; then
  echo "Not measured in this run: $GUEST_ARM64."
  return 0
fi
cat <<EOF
\`tools/guest/run --arch arm64\`: Debian's $A_KERNEL kernel under QEMU TCG (\`-cpu max,pauth-impdef=on\`),
the real \`msm.ko\` loaded (no Qualcomm hardware: it binds no device, so no VM_BIND runs; its
functions, BTF and probes are the real ones) (${A_BOOT}). \`build/arm64/msmvm-stat --attach=kprobe|fentry -d 0.1\`,
$RUNS starts each; /proc/kallsyms opens counted by the kernel (a kprobe event on \`do_sys_openat2\`
filtered on the path: this guest's userland has no strace).

| | msmvm-stat's own figure (ms) | exec to its "attached" line (ms) | /proc/kallsyms opens per start (most) | starts that exited 0 |
|---|---|---|---|---|
| kprobes | $(cell a64.attach_self_ms.kprobe 0) | $(cell a64.attach_ms.kprobe 0) | $(agg a64.kallsyms.kprobe | cut -d' ' -f3) | $(okcount a64.ok.kprobe) |
| fentry | $(cell a64.attach_self_ms.fentry 0) | $(cell a64.attach_ms.fentry 0) | $(agg a64.kallsyms.fentry | cut -d' ' -f3) | $(okcount a64.ok.fentry) |

Its start-up lines: \`${A_LINE[kprobe]:-}\`; \`${A_LINE[fentry]:-}\`.
EOF
}
