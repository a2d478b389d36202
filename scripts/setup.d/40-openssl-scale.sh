#!/usr/bin/env bash
# Builds the OpenSSL server-scale harness (benches/c/openssl_scale.c, against the system libssl:
# libssl-dev in scripts/apt-packages.txt) into .peers/openssl_scale for scripts/bench.
# Idempotent: rebuilt only when the source changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=.peers
SRC=benches/c/openssl_scale.c
mkdir -p "$OUT"
sum=$(sha256sum "$SRC" | cut -c1-16)
if [ ! -x "$OUT/openssl_scale" ] || [ "$(cat "$OUT/openssl_scale.sum" 2>/dev/null)" != "$sum" ]; then
  ${CC:-cc} -O2 -Wall -Wextra -o "$OUT/openssl_scale" "$SRC" -lssl -lcrypto
  echo "$sum" >"$OUT/openssl_scale.sum"
  printf '   [openssl-scale] built %s\n' "$OUT/openssl_scale"
fi
