#!/usr/bin/env bash
# funclen.sh: C functions longer than LIMIT lines (body lines between the
# braces, default 120), outside tests.  A long function is a list of steps
# that wants names; split it.  The ones not split yet are listed, with the
# length they had, in scripts/funclen.allow ("file function lines"); one of
# those may shrink but should not grow, and a new one should not appear.
#
#   scripts/funclen.sh           new or grown ones are errors (exit 1; make lint)
#   FUNCLEN_STRICT=0 scripts/funclen.sh   the same, as warnings (exit 0)
#   scripts/funclen.sh --list    print every function over the limit
#
# Strict: every long function outside tests has been split, so a new one
# fails lint.  The allow-list stays, empty, for a function that must wait.
#
# It reads the layout clang-format gives (.clang-format): a function's
# opening and closing braces stand alone in column 0.
set -u
cd "$(dirname "$0")/.."
limit=${FUNCLEN_LIMIT:-120}
allow=scripts/funclen.allow
files=$(git ls-files '*.c' | grep -v -e '_test\.c$' -e '^tests/')
long=$(awk -v limit="$limit" '
  FNR == 1 { sig = ""; start = 0 }
  /^[A-Za-z_].*\(/ && !/;[ \t]*$/ { sig = $0 }
  /^\{/ { start = FNR; name = sig; sub(/[ \t]*\(.*/, "", name); sub(/.*[ *]/, "", name) }
  /^\}/ && start { n = FNR - start - 1; if (n > limit) print FILENAME, name, n; start = 0 }
' $files)
if [ "${1:-}" = --list ]; then
  [ -n "$long" ] && echo "$long"
  exit 0
fi
rc=0
word=error
[ "${FUNCLEN_STRICT:-1}" = 0 ] && word=warning
while read -r f fn n; do
  [ -n "$f" ] || continue
  was=$(awk -v f="$f" -v fn="$fn" '$1 == f && $2 == fn { print $3 }' "$allow" 2>/dev/null)
  if [ -z "$was" ]; then
    echo "lint: $word: $f: $fn is $n lines (limit $limit): split it into named steps"
    rc=1
  elif [ "$n" -gt "$was" ]; then
    echo "lint: $word: $f: $fn grew to $n lines (listed at $was while it waits to be split)"
    rc=1
  fi
done <<< "$long"
[ "$word" = error ] || rc=0
exit $rc
