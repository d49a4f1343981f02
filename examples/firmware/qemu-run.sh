#!/usr/bin/env bash
# Cargo runner: boots an image on QEMU's mps2-an386 (Cortex-M4); the
# guest's semihosting exit status becomes QEMU's (0 passed, 1 failed).
set -euo pipefail
ELF="$1"; shift
exec timeout "${BLAZE_QEMU_TIMEOUT:-120}" qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic \
    -semihosting-config enable=on,target=native -kernel "$ELF"
