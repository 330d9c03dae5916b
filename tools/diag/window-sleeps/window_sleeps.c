// SPDX-License-Identifier: GPL-2.0
/* window-sleeps BINARY [FUNCTION]: see README.md. Output on stdout until SIGINT/SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <bpf/libbpf.h>
#include "window_sleeps.skel.h"
struct ev { unsigned kind, tid, tgid, state; unsigned long long ts, dnv; int kn, un; unsigned long long k[24]; unsigned long long u[16]; };
static volatile int stop; static void on(int s){stop=1;}
static int cb(void *c, void *d, size_t n){ struct ev *e=d;
 if (e->kind==2) { printf("RET %u %u ts %llu dnvcsw %llu voluntary_switches_seen %u\n", e->tgid, e->tid, e->ts, e->dnv, e->state); return 0; }
 printf("SW %u %u ts %llu state %u K", e->tgid, e->tid, e->ts, e->state);
 for (int i=0;i<e->kn/8;i++) printf(" %llx", e->k[i]);
 printf(" U"); for (int i=0;i<e->un/8;i++) printf(" %llx", e->u[i]); printf("\n"); return 0;}
int main(int argc, char **argv){ struct window_sleeps_bpf *s = window_sleeps_bpf__open_and_load(); if(!s){perror("load");return 1;}
 if (argc < 2) { fprintf(stderr, "usage: %s BINARY [FUNCTION]\n", argv[0]); return 2; }
 LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = argc > 2 ? argv[2] : "vm_bind_prealloc_count");
 if (!bpf_program__attach_uprobe_opts(s->progs.count_entry, -1, argv[1], 0, &uo)) {perror("u");return 1;}
 uo.retprobe = true;
 if (!bpf_program__attach_uprobe_opts(s->progs.count_return, -1, argv[1], 0, &uo)) {perror("ur");return 1;}
 if (!bpf_program__attach_raw_tracepoint(s->progs.on_switch, "sched_switch")) {perror("tp");return 1;}
 signal(SIGINT,on); signal(SIGTERM,on);
 struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(s->maps.rb), cb, 0, 0);
 fprintf(stderr,"ready\n");
 while(!stop) ring_buffer__poll(rb, 100);
 ring_buffer__consume(rb); fflush(stdout); return 0; }
