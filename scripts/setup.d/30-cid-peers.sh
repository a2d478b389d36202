#!/usr/bin/env bash
# Builds the RFC 9146 Connection ID peers (Mbed TLS 3.6.5, wolfSSL 5.9.4; wolfSSL also as a DTLS 1.3 peer) from the C sources that
# the crates mbedtls-rs-sys 0.3.1 and wolfssl-sys 5.3.0 vendor on crates.io, and our small peer
# programs (tests/peers/*.c) around them. Idempotent: everything is cached under .peers/ and a
# step runs again only when its stamp is missing or its input changed.
# Needs: gcc, make, cargo, autoconf, automake, libtool (scripts/apt-packages.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT="$ROOT/.peers"
mkdir -p "$OUT"
log() { printf '   [cid-peers] %s\n' "$*"; }

# 1. sources through cargo (registry only) ------------------------------------------------------
if [ ! -f "$OUT/src.stamp" ]; then
  rm -rf "$OUT/fetch" "$OUT/wolfssl" "$OUT/mbedtls"
  mkdir -p "$OUT/fetch/src"
  cat >"$OUT/fetch/Cargo.toml" <<'TOML'
[package]
name = "peer-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
wolfssl-sys = "=5.3.0"
mbedtls-rs-sys = "=0.3.1"
[workspace]
TOML
  : >"$OUT/fetch/src/lib.rs"
  (cd "$OUT/fetch" && cargo fetch -q)
  dir_of() {
    (cd "$OUT/fetch" && cargo metadata --format-version 1 -q) | python3 -c '
import json, os, sys
m = json.load(sys.stdin)
for p in m["packages"]:
    if p["name"] == sys.argv[1]:
        print(os.path.dirname(p["manifest_path"])); break' "$1"
  }
  W=$(dir_of wolfssl-sys); M=$(dir_of mbedtls-rs-sys)
  cp -r "$W/wolfssl-src" "$OUT/wolfssl"
  cp -r "$M/mbedtls" "$OUT/mbedtls"
  touch "$OUT/src.stamp"
  log "sources copied"
fi

# 2. Mbed TLS 3.6 library (stock config has DTLS, CID, PSK, tickets, cookies) --------------------
if [ ! -f "$OUT/mbedtls.stamp" ]; then
  log "building Mbed TLS"
  (cd "$OUT/mbedtls" && mkdir -p framework/scripts \
    && touch -d 2000-01-01 framework/scripts/generate_ssl_debug_helpers.py \
    && make -s -j2 -C library GEN_FILES= static >"$OUT/mbedtls-build.log" 2>&1) || true
  for a in libmbedtls.a libmbedx509.a libmbedcrypto.a; do
    [ -f "$OUT/mbedtls/library/$a" ] || { echo "Mbed TLS build failed"; tail -30 "$OUT/mbedtls-build.log"; exit 1; }
  done
  touch "$OUT/mbedtls.stamp"
fi

# 3. wolfSSL 5.9 library ---------------------------------------------------------------------------
# X25519 for DTLS 1.3 psk_dhe_ke (tests/dtls13_wolfssl*.rs), a settable MTU for its fragments;
# the stamp holds the flags, so a
# change of flags rebuilds the library (and, through the stamp in their sums, the peers).
WOLF_FLAGS="--enable-dtls --enable-dtls13 --enable-dtls-mtu --enable-dtlscid --enable-psk --enable-session-ticket --enable-earlydata \
--enable-aesccm --enable-curve25519 --disable-shared --enable-static --disable-crypttests \
--disable-benchmark --disable-examples"
if [ "$(cat "$OUT/wolfssl.stamp" 2>/dev/null)" != "$WOLF_FLAGS" ]; then
  log "building wolfSSL"
  # shellcheck disable=SC2086 # the flags are words
  (cd "$OUT/wolfssl" && { make distclean >/dev/null 2>&1 || true; } \
    && ./autogen.sh >"$OUT/wolfssl-build.log" 2>&1 \
    && ./configure $WOLF_FLAGS \
      CPPFLAGS="-DWOLFSSL_STATIC_PSK" >>"$OUT/wolfssl-build.log" 2>&1 \
    && make -j2 src/libwolfssl.la >>"$OUT/wolfssl-build.log" 2>&1) \
    || { echo "wolfSSL build failed"; tail -30 "$OUT/wolfssl-build.log"; exit 1; }
  echo "$WOLF_FLAGS" >"$OUT/wolfssl.stamp"
fi

# 4. our peer programs -----------------------------------------------------------------------------
build() { # name source compile-args...
  local name=$1 src=$2; shift 2
  # the source and the libraries' stamps: a rebuilt library relinks the peers
  local sum; sum=$(cat "$src" "$OUT"/*.stamp | sha256sum | cut -c1-16)
  if [ ! -x "$OUT/$name" ] || [ "$(cat "$OUT/$name.sum" 2>/dev/null)" != "$sum" ]; then
    gcc -O1 -Wall -o "$OUT/$name" "$src" "$@"
    echo "$sum" >"$OUT/$name.sum"
    log "built $name"
  fi
}
build mbed_peer tests/peers/mbed_peer.c -I"$OUT/mbedtls/include" \
  "$OUT/mbedtls/library/libmbedtls.a" "$OUT/mbedtls/library/libmbedx509.a" "$OUT/mbedtls/library/libmbedcrypto.a"
build wolf_peer tests/peers/wolf_peer.c -DWOLFSSL_STATIC_PSK -I"$OUT/wolfssl" \
  "$OUT/wolfssl/src/.libs/libwolfssl.a" -lm -lpthread
# DTLS 1.3 external-PSK client and server (tests/dtls13_wolfssl.rs, tests/dtls13_wolfssl_server.rs)
build wolf13_peer tests/peers/wolf13_peer.c -DWOLFSSL_STATIC_PSK -I"$OUT/wolfssl" \
  "$OUT/wolfssl/src/.libs/libwolfssl.a" -lm -lpthread
