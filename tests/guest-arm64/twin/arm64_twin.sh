#!/usr/bin/env bash
# The twin's kernel suite (tests/guest-arm64.sh boots tools/guest/run --arch arm64 --kernel
# twin for tests/guest-arm64/twin/*.sh): tests/guest-arm64/twin.sh, the arm64 twin's checks
# (binaries, vermagic and build-id of the loaded twin, then tests/guest/stat_kernel.sh with the
# arm64 binaries, every counter exact against the twin's ground truth). It lives one level up,
# where docs/kmodel.md names it; this file only puts it in this suite.
cd "$(dirname "$0")/../../.." || exit 1
exec bash tests/guest-arm64/twin.sh
