// SPDX-License-Identifier: GPL-2.0
/*
 * btfpeak: what parsing the running kernel's BTF costs in memory, for make bench.
 *
 *   btfpeak     one JSON object on stdout: VmHWM and VmRSS (KiB) at the start, once
 *               btf__load_vmlinux_btf() has returned, and after btf__free()
 *
 * libmsmvm takes the few kernel types its probes read out of the kernel's BTF in place
 * (src/lib/btf_slice.c); this shows, in a process that does nothing else, what the one call
 * it avoids, parsing the whole of it, would add to a tool's peak resident size.
 */
#include <bpf/btf.h>
#include <stdio.h>
#include <string.h>

static void status(const char *when, int last)
{
	char line[256];
	long hwm = -1, rss = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmHWM:", 6))
			sscanf(line + 6, "%ld", &hwm);
		else if (!strncmp(line, "VmRSS:", 6))
			sscanf(line + 6, "%ld", &rss);
	}
	if (f)
		fclose(f);
	printf("\"%s\":{\"hwm_kib\":%ld,\"rss_kib\":%ld}%s", when, hwm, rss, last ? "}\n" : ",");
}

int main(void)
{
	struct btf *btf;

	printf("{");
	status("start", 0);
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		fprintf(stderr, "btfpeak: cannot load the kernel's BTF\n");
		return 1;
	}
	printf("\"types\":%u,", btf__type_cnt(btf));
	status("loaded", 0);
	btf__free(btf);
	status("freed", 1);
	return 0;
}
