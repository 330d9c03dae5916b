#!/bin/sh
# bpftrace -c runs its command only once every probe is attached: this one says so by writing
# its pid to FILE, then sleeps until it is killed (which ends bpftrace, which then prints its
# maps). Used by tools/bench/bench.sh.
echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && exec sleep 86400
