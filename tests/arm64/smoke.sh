#!/usr/bin/env bash
# tests/arm64/smoke.sh [DIR]: checks the cross-built toolkit (make arm64) in DIR (default
# $BUILD/arm64) on this host: every tool is an AArch64 ELF, static (or its libraries are in
# DIR/lib), and, under qemu-user (qemu-aarch64-static, package qemu-user-static), starts:
# --help exits 0 with its usage, an unknown flag exits non-zero with an error, and msmvm-sim
# count answers the driver's rule for a few op lists (worked out by hand from its --help), and
# its run draws the host model's workloads for a seed.
# Not in make test's list (run-tests.sh takes tests/*.sh only): make test-arm64 runs it.
# Prints "ok"/"not ok"/"skip" lines; exits non-zero when one is "not ok".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
B=${BUILD:-build}
D=${1:-$B/arm64}
failed=0
pass() { echo "ok $1${2:+ # $2}"; }
fail() { echo "not ok $1"; shift; for l in "$@"; do printf '%s\n' "$l" | head -10 | sed 's/^/#   /'; done; failed=1; }

tools=()
for s in src/msmvm*.c; do tools+=("$(basename "$s" .c)"); done
tools+=(msmvm-sim)

QEMU=
for q in qemu-aarch64-static qemu-aarch64; do
  command -v $q >/dev/null && { QEMU=$q; break; }
done

for t in "${tools[@]}"; do
  f=$D/$t
  if [ ! -x "$f" ]; then
    fail "arm64/$t/elf" "no executable $f (make arm64)"
    continue
  fi
  machine=$(readelf -h "$f" 2>/dev/null | awk -F: '/Machine:/ { gsub(/^[ \t]+/, "", $2); print $2 }')
  class=$(readelf -h "$f" 2>/dev/null | awk -F: '/Class:/ { gsub(/^[ \t]+/, "", $2); print $2 }')
  if [ "$machine" = AArch64 ] && [ "$class" = ELF64 ]; then
    pass "arm64/$t/elf"
  else
    fail "arm64/$t/elf" "$f: machine '$machine', class '$class' (want AArch64, ELF64)"
  fi
  # static: no program interpreter; otherwise every NEEDED library must be in DIR/lib
  if ! readelf -l "$f" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    pass "arm64/$t/static"
  else
    missing=()
    for l in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      case $l in libc.so.* | libm.so.* | libpthread.so.* | librt.so.* | libdl.so.* | ld-linux*) continue ;; esac
      [ -e "$D/lib/$l" ] || missing+=("$l")
    done
    if [ ${#missing[@]} -eq 0 ]; then
      pass "arm64/$t/static" "dynamic; its libraries are in $D/lib"
    else
      fail "arm64/$t/static" "dynamic, and $D/lib lacks: ${missing[*]}"
    fi
  fi
  if [ -z "$QEMU" ]; then
    echo "skip arm64/$t/help # no qemu-aarch64-static (package qemu-user-static)"
    echo "skip arm64/$t/bad_flag # no qemu-aarch64-static (package qemu-user-static)"
    continue
  fi
  out=$(timeout 60 "$QEMU" "$f" --help 2>&1); rc=$?
  # (msmvm-alert: gnutls starts and ends here; a p11-kit stand-in called would say so)
  if [ $rc -eq 0 ] && grep -q "^Usage: $t" <<<"$out" && ! grep -q p11-kit <<<"$out"; then
    pass "arm64/$t/help"
  else
    fail "arm64/$t/help" "exit $rc, want 0 with 'Usage: $t'" "$out"
  fi
  err=$(timeout 60 "$QEMU" "$f" --no-such-flag 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 124 ] && grep -q -- '--no-such-flag' <<<"$err"; then
    pass "arm64/$t/bad_flag"
  else
    fail "arm64/$t/bad_flag" "exit $rc, want non-zero (not a crash) with an error naming the flag" "$err"
  fi
done

# msmvm-sim carries its own BTF (the model flavor's CO-RE target): tools/cross/pahole-static
if [ -x "$D/msmvm-sim" ]; then
  if readelf -S "$D/msmvm-sim" | grep -q ' \.BTF '; then
    pass "arm64/msmvm-sim/btf"
  else
    fail "arm64/msmvm-sim/btf" "no .BTF section in $D/msmvm-sim"
  fi
fi

# The rule, by hand: one page per 512 GiB, 1 GiB and 2 MiB block the merged run touches
# (4M at 0x13fe00000 crosses a 1 GiB line: 1 + 2 + 2; the last line is one merged run).
if [ -n "$QEMU" ] && [ -x "$D/msmvm-sim" ]; then
  while read -r want ops; do
    # shellcheck disable=SC2086
    got=$(timeout 60 "$QEMU" "$D/msmvm-sim" count $ops 2>&1 | head -1)
    if [ "$got" = "$want" ]; then
      pass "arm64/msmvm-sim/count $ops"
    else
      fail "arm64/msmvm-sim/count $ops" "got '$got', want $want"
    fi
  done <<'CASES'
3 map:0x100000000:4K
34 map:0x100000000:64M
32833 null:0x1000000000:64G
5 map:0x13fe00000:4M
3 map:0x100000000:4K unmap:0x100200000:4K map:0x100001000:4K
CASES
fi

# The arm64 model draws the same ops as the host's for a seed ("same seed, same ops"): each
# workload's deterministic totals against the host build's model ($BUILD/msmvm-sim).
if [ -n "$QEMU" ] && [ -x "$D/msmvm-sim" ]; then
  if [ ! -x "$B/msmvm-sim" ] || ! command -v jq >/dev/null; then
    echo "skip arm64/msmvm-sim/run # no host model $B/msmvm-sim (make) or no jq"
  else
    q='.totals | [.binds, .ops, .errors, .pages_counted, .pages_used] | @text'
    for w in sparse contiguous mixed unmap-heavy storm; do
      args=(run -w "$w" -n 200 --seed 7 --job-cost 0)
      want=$("$B/msmvm-sim" "${args[@]}" 2>&1 | jq -r "$q" 2>&1)
      got=$(timeout 120 "$QEMU" "$D/msmvm-sim" "${args[@]}" 2>&1 | jq -r "$q" 2>&1)
      if [ -n "$want" ] && [ "$got" = "$want" ]; then
        pass "arm64/msmvm-sim/run $w"
      else
        fail "arm64/msmvm-sim/run $w" "binds, ops, errors, pages_counted, pages_used: arm64 $got, host $want"
      fi
    done
  fi
fi
exit $failed
