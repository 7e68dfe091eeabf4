#!/usr/bin/env bash
# deps.sh: install the Debian packages opsbot builds and tests with, when missing.
# Runs `apt-get update` once, and only when something is missing.
set -eu

pkgs=(
  build-essential pkg-config
  libwebsockets-dev libnng-dev libcjson-dev libcurl4-openssl-dev libsqlite3-dev
  libesmtp-dev libcairo2-dev libpango1.0-dev libssl-dev
  libcmocka-dev
  sqlite3 curl poppler-utils procps jq openssl
  prometheus prometheus-alertmanager
  # make fuzz (libFuzzer) and make check-tsan build with Debian's clang
  clang
  libclang-rt-14-dev
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
