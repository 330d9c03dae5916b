#!/bin/sh
# Builds window-sleeps in $1 (default build/diag): clang, bpftool and libbpf, as the project's own
# BPF objects need. Not part of `make`: a diagnostic, built by hand when needed.
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/diag}
mkdir -p "$out"
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$out/vmlinux.h"
arch=$(uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')
clang -g -O2 -target bpf -D__TARGET_ARCH_$arch -I"$out" -c "$here/window_sleeps.bpf.c" -o "$out/window_sleeps.bpf.o"
bpftool gen skeleton "$out/window_sleeps.bpf.o" >"$out/window_sleeps.skel.h"
cc -O2 -I"$out" -o "$out/window-sleeps" "$here/window_sleeps.c" -lbpf -lelf -lz
echo "$out/window-sleeps"
