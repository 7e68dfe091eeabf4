#!/usr/bin/env bash
# deps.sh: install the Debian packages opsbot builds and tests with, when missing.
# Runs `apt-get update` once, and only when something is missing.
set -eu

pkgs=(
  build-essential pkg-config
  libwebsockets-dev libnng-dev libcjson-dev libcurl4-openssl-dev libsqlite3-dev
  libesmtp-dev libcairo2-dev libpango1.0-dev libssl-dev
  libcmocka-dev
  clang-format
  sqlite3 curl poppler-utils procps jq openssl
  prometheus prometheus-alertmanager
  # headless browser for fake-slack's page test (tests/integration/sim_slack_page.sh)
  chromium
  # make fuzz (libFuzzer) and make check-tsan build with Debian's clang
  clang
  libclang-rt-14-dev
  # the SDK conformance suite (tests/sdk) runs Slack's and Discord's Node SDKs
  nodejs
  npm
  # report: the SMTP server its tests and bench run on 127.0.0.1
  python3-aiosmtpd
  # report: CJK text in PDFs (pango falls back to it)
  fonts-droid-fallback
  # report: emoji and symbols in PDFs
  fonts-symbola
  # scripts/run-tests.sh: each test's CPU-seconds (/usr/bin/time)
  time
  # scripts/run-tests.sh: tests poll with jq; gojq starts ~10x faster than jq 1.6
  gojq
)

# `deps.sh bench`: also what benchmarks compare against (make bench).
if [ "${1:-}" = bench ]; then
  pkgs+=(
    redis-server    # queue bench: the same workload on Redis, appendfsync always
    libhiredis-dev  # queue/redis_bench.c
  )
fi

missing=()
for p in "${pkgs[@]}"; do
  # node and npm may come from elsewhere (NodeSource's nodejs bundles npm and
  # conflicts with Debian's npm): a working command counts as installed
  case $p in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
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
