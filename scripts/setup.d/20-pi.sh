#!/usr/bin/env bash
# Raspberry Pi build for tests/pi_emulated.rs: cross-builds simbridge (release, all features) for
# aarch64 and armv7, the termios2 shim qemu-user needs, and both .debs with their dry-run checks.
# Idempotent: cargo and the cached sysroots make a second run take seconds.
# Measured on the 2-core CI machine (loaded by other jobs): ~4 min per target from scratch.
# SIMBRIDGE_PI_ARCH=aarch64 limits it to the 64-bit build.
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
scripts/build-pi --arch "${SIMBRIDGE_PI_ARCH:-all}"
echo "== setup.d/20-pi.sh: $(( $(date +%s) - start )) s"
