#!/usr/bin/env bash
# One number syntax and clear messages for every tool (include/msmvm/numbers.h): decimal only
# (no exponent, hex, sign, inf), each option's range in its message, the same --limit range
# everywhere; msmvm-alert's settings checked while parsing (a bad listen address before any BPF
# loads), its config file's directory, byte order mark and control bytes. Exit 2 for each.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib.sh
. tests/lib.sh

# expect NAME STATUS PATTERN -- COMMAND...: exit status, and PATTERN (fixed) in stderr+stdout
expect() {
  local name=$1 want=$2 pat=$3; shift 4
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$name" "exit $rc, expected $want" "$(head -c 400 "$tmp/err")"
  elif ! grep -qF -- "$pat" "$tmp/out" "$tmp/err"; then
    fail "$name" "output lacks '$pat'" "$(head -c 400 "$tmp/out" "$tmp/err")"
  else
    pass "$name"
  fi
}

# strtod took these: an exponent, hex, inf, a sign, blanks
for v in 1e8 0x10 inf nan -1 +1 ' 1' 1.2.3 .; do
  expect "stat_duration_${v// /_}_refused" 2 "invalid duration '$v' (seconds: a decimal number from 0.001 to 10000000)" -- \
    "$B/msmvm-stat" -d "$v"
done
# msmvm-sim count parses its own options: a missing value is said as such, not "unknown"
expect sim_count_vm_size_needs_value 2 "option '--vm-size' needs an argument" -- "$B/msmvm-sim" count --vm-size
expect sim_count_vm_size_bad 2 "bad --vm-size '3M'" -- "$B/msmvm-sim" count --vm-size 3M map:0x100000000:4K
expect sim_count_unknown_option 2 "unknown option '--vm-sizes'" -- "$B/msmvm-sim" count --vm-sizes 4G
expect trace_duration_hex_refused 2 "invalid duration '0x10' (seconds: a decimal" -- "$B/msmvm-trace" -o "$tmp/t" -d 0x10
expect top_interval_exponent_refused 2 "invalid interval '1e1' (seconds: a decimal number from 0.1 to 3600)" -- "$B/msmvmtop" -d 1e1
expect stat_count_hex_refused 2 "invalid count '0x5' (a whole number from 1 to" -- "$B/msmvm-stat" 1 0x5
expect pid_sign_refused 2 "invalid PID '+5' (a whole number from 1 to" -- "$B/msmvm-stat" -p +5

# --limit: one range, 1 to 2^31-1 (in_flight is an int), in every tool that takes it
for big in 4294967297 2147483648; do
  expect "trace_limit_${big}_refused" 2 "invalid --limit '$big' (pages: a whole number from 1 to 2147483647)" -- "$B/msmvm-trace" -o "$tmp/t" --limit "$big"
  expect "top_limit_${big}_refused" 2 "invalid --limit '$big' (pages: a whole number from 1 to 2147483647)" -- "$B/msmvmtop" --limit "$big"
  expect "alert_limit_${big}_refused" 2 "bad value for limit: '$big' (expected pages: a whole number from 1 to 2147483647)" -- "$B/msmvm-alert" --stall 1/10 --limit "$big" --check-config
done
expect alert_limit_max_accepted 0 "the settings are valid" -- "$B/msmvm-alert" --stall 1/10 --limit 2147483647 --check-config

# msmvm-alert: addresses checked while parsing (exit 2, nothing loaded), with the reason
for a in localhost:9464 127.0.0.1:99999 127.0.0.1:0 127.0.0.1 1.2.3:80 '[::1]:9464'; do
  expect "alert_listen_${a//[^a-z0-9]/_}_refused" 2 "bad value for listen: '$a' (expected ADDR:PORT: a numeric IPv4 address" -- \
    "$B/msmvm-alert" --listen "$a" --check-config
done
expect alert_listen_ok 0 "the settings are valid" -- "$B/msmvm-alert" --listen 127.0.0.1:9464 --check-config
expect alert_listen_no_host_ok 0 "the settings are valid" -- "$B/msmvm-alert" --listen :9464 --check-config
# the same check runs before anything is loaded, also without --check-config
expect alert_listen_refused_before_attach 2 "bad value for listen: 'localhost:9464'" -- \
  "$B/msmvm-alert" --sim="$B/msmvm-sim" --listen localhost:9464

# the config file: a directory, a BOM, control bytes
expect alert_config_directory_refused 2 "$tmp: is a directory, not a config file" -- "$B/msmvm-alert" --config "$tmp" --check-config
printf '\xef\xbb\xbfstall = 100/1000\n' >"$tmp/bom.conf"
expect alert_config_bom_ignored 0 "the settings are valid" -- "$B/msmvm-alert" --config "$tmp/bom.conf" --check-config
printf 'st\x1b[31mall = 100/1000\n' >"$tmp/ctl.conf"
expect alert_config_control_bytes_escaped 2 "$tmp/ctl.conf:1: unknown key 'st\\x1b[31mall'" -- "$B/msmvm-alert" --config "$tmp/ctl.conf" --check-config
if grep -q $'\x1b' "$tmp/err"; then
  fail alert_config_no_raw_control_bytes "the message carries a raw ESC byte"
else
  pass alert_config_no_raw_control_bytes
fi
printf 'wedge = 5\nlimit = 1e3\n' >"$tmp/num.conf"
expect alert_config_exponent_refused 2 "$tmp/num.conf:2: bad value for limit: '1e3' (expected pages: a whole number from 1 to 2147483647)" -- \
  "$B/msmvm-alert" --config "$tmp/num.conf" --check-config

# the same syntax in msmvm-tune
expect tune_binds_hex_refused 2 "invalid --binds '0x10'" -- "$B/msmvm-tune" --workload storm --binds 0x10
expect tune_limits_exponent_refused 2 "invalid --limits '1e3' (at most" -- "$B/msmvm-tune" --workload storm --limits 1e3

# msmvm-trace -o -: refused (it needs a file it can cut back), not a file named '-'
( cd "$tmp" && "$OLDPWD/$B/msmvm-trace" -o - >"$tmp/out" 2>"$tmp/err" ); rc=$?
if [ "$rc" -eq 2 ] && grep -qF -- "-o -: msmvm-trace writes a file" "$tmp/err" && [ ! -e "$tmp/-" ]; then
  pass trace_output_dash_refused
else
  fail trace_output_dash_refused "exit $rc" "$(cat "$tmp/err")" "$(ls "$tmp")"
fi

# --btf: a compressed file, a directory, random bytes: each said as such (was "Unknown error 4001")
xzf=$(ls tests/fixtures/btf/*.btf.xz | head -1)
expect btf_xz_said 1 "is xz-compressed: decompress it first (e.g. xz -dk" -- "$B/msmvm-stat" --dry-run --btf "$xzf"
expect btf_directory_said 1 "is a directory: --btf takes a BTF file" -- "$B/msmvm-stat" --dry-run --btf "$tmp"
head -c 4096 /dev/urandom >"$tmp/random.btf"
expect btf_random_said 1 "cannot read BTF from '$tmp/random.btf': not a BTF or ELF file" -- "$B/msmvm-stat" --dry-run --btf "$tmp/random.btf"
if grep -q "Unknown error" "$tmp/err"; then fail btf_no_unknown_error "$(cat "$tmp/err")"; else pass btf_no_unknown_error; fi

# msmvmtop on a terminal (script(1) gives it a pty) with no TERM, an unknown one, or dumb
top_on_pty() {	# ENV-ASSIGNMENT...: output in $tmp/pty, exit status in top_rc
  timeout 60 script -qec "env $* $B/msmvmtop --sim=$B/msmvm-sim -d 0.2" /dev/null </dev/null >"$tmp/pty" 2>&1
  top_rc=$?
}
top_on_pty -u TERM
if [ "$top_rc" -eq 2 ] && grep -qF "TERM is not set" "$tmp/pty" && grep -qF -- "-b (text frames)" "$tmp/pty"; then
  pass top_no_term_suggests_batch
else
  fail top_no_term_suggests_batch "exit $top_rc" "$(head -c 300 "$tmp/pty")"
fi
top_on_pty TERM=no-such-terminal
if [ "$top_rc" -eq 2 ] && grep -qF "'no-such-terminal' (TERM) has no terminfo entry" "$tmp/pty" && ! grep -q "Error opening terminal" "$tmp/pty"; then
  pass top_unknown_term_suggests_batch
else
  fail top_unknown_term_suggests_batch "exit $top_rc" "$(head -c 300 "$tmp/pty")"
fi
# dumb: text frames instead (stopped by SIGINT after 15 s: generous, attaching under load)
timeout -s INT 15 script -qec "env TERM=dumb $B/msmvmtop --sim=$B/msmvm-sim -d 0.2" /dev/null </dev/null >"$tmp/pty" 2>&1
if grep -qF "TERM=dumb cannot draw the dashboard: printing text frames (-b) instead" "$tmp/pty" &&
   [ "$(grep -c '^msmvmtop [0-9]' "$tmp/pty")" -ge 1 ]; then
  pass top_dumb_term_falls_back_to_batch "$(grep -c '^msmvmtop [0-9]' "$tmp/pty") text frames"
else
  fail top_dumb_term_falls_back_to_batch "$(head -c 400 "$tmp/pty")"
fi
