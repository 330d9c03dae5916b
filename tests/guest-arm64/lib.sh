# Sourced by the arm64 guest's msm tests (tests/guest-arm64/msm/*.sh). They run inside the guest
# (tools/guest/run --arch arm64: Debian's 7.2 kernel, the real msm.ko loaded, no Qualcomm
# hardware), as root, from the project root, with the arm64 tools of `make arm64` in
# $BUILD/arm64/. The caller sets tmp (a scratch directory).
#
# Ground truth: with no msm device (nothing bound to msm's platform drivers, no DRM device of
# msm's), no process can issue a VM_BIND: every counter must be exactly 0. The tests check that
# premise on the kernel's own state (sysfs), not through the tools.

. tests/guest/lib.sh	# pass, fail, skip, wait_for, kstop, free_port (tests/lib.sh)

A=$B/arm64
STAT=$A/msmvm-stat
TOP=$A/msmvmtop
TRACE=$A/msmvm-trace
ALERT=$A/msmvm-alert
# files the host checks after the guest is off (tests/guest-arm64.sh): protoc is x86
OUT=$B/guest-arm64/results
ZERO_TOTALS='["binds","ops","errors","pages_counted","pages_used","pages_overcount","waits","interrupted_waits","wait_ns_total","wait_ns_max","peak_in_flight","in_flight","drift"]'

# msm_devices: the devices bound to msm's drivers (/sys/module/msm/drivers/BUS:NAME, each
# holding a link per bound device), and DRM devices whose driver is msm's; one line each. (No
# fork: each costs tens of ms in the emulated guest.)
msm_devices() {
  local d e
  for d in /sys/module/msm/drivers/*; do
    [ -d "$d" ] || continue
    for e in "$d"/*; do
      [ -L "$e" ] || continue
      case ${e##*/} in module | bind | unbind | uevent) continue ;; esac
      echo "${d##*/}: ${e##*/}"
    done
  done
  for d in /sys/class/drm/*; do
    [ "$d/device/driver/module" -ef /sys/module/msm ] && echo "drm: ${d##*/}"
  done
  return 0
}

# msm_ready NAME: true when the real msm is loaded, with its BTF, and binds no device (the
# zero-count premise) and the arm64 tools are there; else says why (skip) and fails
msm_ready() {
  local c devs
  if [ "$EUID" -ne 0 ]; then skip "$1" "needs root"; return 1; fi
  if [ "$HOSTTYPE" != aarch64 ]; then skip "$1" "not an arm64 guest (tools/guest/run --arch arm64)"; return 1; fi
  if [ ! -e /sys/module/msm ]; then skip "$1" "msm is not loaded"; return 1; fi
  if [ ! -e /sys/kernel/btf/msm ]; then skip "$1" "msm is loaded without BTF"; return 1; fi
  for c in jq "$STAT" "$TOP" "$TRACE" "$ALERT"; do
    command -v "$c" >/dev/null || { skip "$1" "$c is missing (make arm64)"; return 1; }
  done
  devs=$(msm_devices)
  if [ -n "$devs" ]; then
    skip "$1" "msm drives a device here: the counts are not known to be zero ($devs)"; return 1
  fi
}

# zero_report FILE: empty when FILE's last JSON line (msmvm-stat's "final", or a frame) has
# every total exactly 0, no process, no VM and zero health counters; else what is not
zero_report() {
  jq -rs --argjson keys "$ZERO_TOTALS" 'last as $r |
    ($keys[] as $k | select(($r.totals[$k] // "missing") != 0) | "totals.\($k) = \($r.totals[$k] // "missing")"),
    (select(($r.processes // []) | length > 0) | "processes: \($r.processes | length)"),
    (select(($r.vms // []) | length > 0) | "vms: \($r.vms | length)"),
    (($r.health // {}) | to_entries[] | select(.value != 0) | "health.\(.key) = \(.value)")' "$1" 2>&1
}
