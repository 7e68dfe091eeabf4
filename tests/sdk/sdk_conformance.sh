#!/usr/bin/env bash
# sdk_conformance.sh: the SDK conformance suite.  Runs Slack's and Discord's official
# Node SDKs (versions pinned in package.json / package-lock.json) against
# fake-slack and fake-discord, so the stand-ins answer as the platforms do
# and not merely as opsbot expects.  Installs the SDKs into
# tests/sdk/node_modules with `npm ci` when missing or stale.
#
#   bash tests/sdk/sdk_conformance.sh [test files...]     (default: every *.test.js)
#
# Exits 77 (skipped) with a message when node or npm is missing or too old,
# or when the packages cannot be installed (no registry access).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${OPSBOT_BIN:=$(cd "$here/../.." && pwd)/build/bin}"
export OPSBOT_BIN

skip() { echo "skip: $*"; exit 77; }
command -v node >/dev/null 2>&1 || skip "node is not installed (scripts/deps.sh installs nodejs and npm)"
command -v npm >/dev/null 2>&1 || skip "npm is not installed (scripts/deps.sh installs nodejs and npm)"
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$major" -ge 20 ] 2>/dev/null || skip "node $(node --version) is too old: @slack/bolt 5 needs node 20 or later"
for b in fake-slack fake-discord; do
  [ -x "$OPSBOT_BIN/$b" ] || { echo "FAIL: $OPSBOT_BIN/$b is missing: run make first" >&2; exit 1; }
done

# npm ci when node_modules is missing or older than the lock file
stamp="$here/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
  echo "sdk: npm ci (pinned versions from package-lock.json)"
  if ! (cd "$here" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >"$here/.npm-ci.log" 2>&1; then
    tail -n 5 "$here/.npm-ci.log" >&2
    skip "npm ci failed (is the npm registry reachable?); see tests/sdk/.npm-ci.log"
  fi
fi

cd "$here" || exit 1
if [ $# -gt 0 ]; then files=("$@"); else files=(*.test.js); fi
# Each file starts its own stand-ins on kernel-picked ports (lib/fake.js), so
# the four files run side by side; most of their time is Node loading the SDKs.
exec node --test --test-concurrency=4 --test-reporter=spec "${files[@]}"
