#!/usr/bin/env python3
# analyze.py OUTPUT...: the voluntary switches window-sleeps saw, grouped by kernel stack
# (symbolized from /proc/kallsyms, read as root), most frequent first, one example each.
# A switch in futex_wait is the model's own throttle sleep (schedule_on); anything else
# is a sleep that the probes count and the model may not.
import bisect, collections, sys

syms = []
for line in open('/proc/kallsyms'):
    addr, kind, name = line.split()[:3]
    if kind in 'tTwW' and '[' not in line and not name.startswith('bpf_prog_'):
        syms.append((int(addr, 16), name))
syms.sort()
addrs = [a for a, _ in syms]
skip = {'__schedule', 'schedule', 'bpf_trace_run4', '__traceiter_sched_switch'}

def sym(a):
    i = bisect.bisect_right(addrs, a) - 1
    return syms[i][1] if i >= 0 else hex(a)

groups, example = collections.Counter(), {}
for path in sys.argv[1:]:
    for line in open(path):
        f = line.split()
        if f[0] != 'SW' or f[6] == '0':	# state 0: preempted, an involuntary switch
            continue
        k = f[f.index('K') + 1:f.index('U')]
        stack = ' < '.join(n for n in (sym(int(x, 16)) for x in k[1:]) if n not in skip)
        groups[stack] += 1
        example.setdefault(stack, f'{path}: tgid {f[1]} tid {f[2]} user {" ".join(f[f.index("U") + 1:])}')
for stack, n in groups.most_common():
    print(f'{n:7d}  {stack}\n         e.g. {example[stack]}')
