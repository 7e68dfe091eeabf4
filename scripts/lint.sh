#!/usr/bin/env bash
# lint.sh: banned C functions (always an error), clang-format drift, and
# functions over 120 lines outside the allow-list (scripts/funclen.sh).
set -u
cd "$(dirname "$0")/.."
rc=0
files=$(git ls-files '*.c' '*.h')
# Unbounded or unchecked calls with safer replacements in lib/mem.h and strtol.
banned='\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol)\s*\('
if grep -nE "$banned" $files | grep -v '_test\.c:.*test fixture only'; then
  echo "lint: banned function above (use snprintf, str_copy, struct buf, strtol)"
  rc=1
fi
if ! command -v clang-format >/dev/null; then
  echo "lint: clang-format is not installed (scripts/deps.sh installs it); cannot check formatting"
  rc=1
else
  drift=0
  for f in $files; do
    clang-format --dry-run "$f" 2>&1 | grep -q warning && { echo "lint: format: $f"; drift=$((drift + 1)); }
  done
  [ $drift -eq 0 ] || { echo "lint: $drift files differ from .clang-format (clang-format -i FILE)"; rc=1; }
fi
bash scripts/funclen.sh || rc=1
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
