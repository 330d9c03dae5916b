#!/usr/bin/env bash
# In the arm64 guest (tools/guest/run --arch arm64 --kernel twin): the kernel flavor on
# Debian's 6.12 arm64 kernel, against the kernel twin cross-built for it (make kmodel-arm64),
# with the toolkit cross-built for arm64 (make arm64): $BUILD/arm64/{msmvm-stat,msmvm-sim,
# kmodel/msm_kmodel.ko}.
#
# The checks are tests/guest/stat_kernel.sh's, run as they are with BUILD=$BUILD/arm64 (its
# tests/guest/lib.sh takes msmvm-sim and msmvm-stat from there, and msmvm-sim run --kernel
# insmods the twin beside it): msmvm-stat with --attach=kprobe and --attach=fentry (each hook
# plan), every counter equal to the twin's ground truth (debugfs msm_kmodel/vms) exactly, in
# total, per process and per VM (stat_compare, tests/lib.sh). First, what makes it an arm64
# run: an aarch64 kernel, aarch64 binaries, and the loaded twin being this build's.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh	# pass, fail
B=${BUILD:-build}
A=$B/arm64
KO=$A/kmodel/msm_kmodel.ko

skip() { echo "skip $1${2:+ # $2}"; }
m=$(uname -m)
if [ "$m" != aarch64 ]; then
  skip arm64_twin "the kernel is $m: run it as tools/guest/run --arch arm64 --kernel twin -- $0"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  skip arm64_twin "needs root"; exit 0
fi
missing=
for f in "$A/msmvm-sim" "$A/msmvm-stat" "$KO"; do [ -f "$f" ] || missing+=" $f"; done
if [ -n "$missing" ]; then
  skip arm64_twin "missing$missing (make arm64 kmodel-arm64)"; exit 0
fi

# ELF e_machine (offset 18, little-endian): 183 is EM_AARCH64. From od, no file(1) needed.
machine() { od -An -tu2 -j18 -N2 "$1" 2>/dev/null | tr -d ' '; }
bad=
for f in "$A/msmvm-sim" "$A/msmvm-stat" "$KO"; do
  [ "$(machine "$f")" = 183 ] || bad+=" $f ($(machine "$f"))"
done
if [ -z "$bad" ]; then
  pass arm64_binaries "msmvm-sim, msmvm-stat and msm_kmodel.ko are aarch64 ELF"
else
  fail arm64_binaries "not aarch64 (e_machine):$bad"
fi

# The twin: loaded now (the harness insmods it; else msmvm-sim run --kernel does), built for
# this kernel (vermagic), and the loaded one is $KO: its GNU build-id note, which the kernel
# shows in /sys/module/msm_kmodel/notes, is in the file (hex from od: no readelf in the guest).
if [ ! -e /sys/module/msm_kmodel ]; then
  "$A/msmvm-sim" run --kernel --kmodel "$KO" -w sparse -n 1 -o /dev/null 2>/dev/null
fi
vm=$(tr '\0' '\n' <"$KO" | sed -n 's/^vermagic=//p' | head -n1)
note=/sys/module/msm_kmodel/notes/.note.gnu.build-id
id=$(od -An -v -tx1 "$note" 2>/dev/null | tr -d ' \n')
id=${id:32}	# after the note's header (namesz, descsz, type, "GNU\0"): the 20-byte id
if [ ! -e /sys/module/msm_kmodel ]; then
  fail arm64_twin_loaded "msm_kmodel is not loaded and msmvm-sim run --kernel did not load $KO"
elif [ "${vm%% *}" != "$(uname -r)" ]; then
  fail arm64_twin_loaded "$KO has vermagic '$vm', the kernel is $(uname -r)"
elif [ ${#id} != 40 ]; then
  fail arm64_twin_loaded "no build-id in $note"
elif [[ $(od -An -v -tx1 "$KO" | tr -d ' \n') != *"$id"* ]]; then
  fail arm64_twin_loaded "the loaded msm_kmodel (build-id $id) is not $KO"
else
  pass arm64_twin_loaded "$KO, build-id $id, vermagic $vm"
fi

BUILD=$A exec bash tests/guest/stat_kernel.sh
