#!/usr/bin/env bash
# The driver's rules (src/driver/*.c) compile without libc, as the kernel-module twin needs:
# `make check-freestanding` (compiler headers only) passes on every file, and it does catch
# a libc include (a scratch file including <stdio.h> must fail it).
set -u
cd "$(dirname "$0")/.."

. tests/lib.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One "ok"/"not ok freestanding FILE" line per file, from the Makefile.
make --no-print-directory -s check-freestanding 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] && [ -s "$tmp/err" ]; then
  sed 's/^/#   /' "$tmp/err" | head -20
fi

printf '#include <stdio.h>\nint f(void) { return 0; }\n' >"$tmp/libc_probe.c"
if make --no-print-directory -s check-freestanding FREESTANDING_SRCS="$tmp/libc_probe.c" \
     >"$tmp/probe.out" 2>&1; then
  fail freestanding_catches_libc "a file including <stdio.h> passed: $(cat "$tmp/probe.out")"
elif grep -q 'stdio.h' "$tmp/probe.out"; then
  pass freestanding_catches_libc
else
  fail freestanding_catches_libc "failed, but not on stdio.h: $(head -c 400 "$tmp/probe.out")"
fi
