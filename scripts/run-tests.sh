#!/usr/bin/env bash
# run-tests.sh: run each test (a cmocka binary or a shell script) and print one
# summary line "N passed, N failed".  A failing test's output is shown; a
# passing test's output is kept in $OPSBOT_BUILD/test-logs/.
set -u
logdir="${OPSBOT_BUILD:-build}/test-logs"
mkdir -p "$logdir"
pass=0 fail=0 skip=0
failed=()
for t in "$@"; do
  name=$(basename "$t")
  log="$logdir/$name.log"
  start=$(date +%s)
  case "$t" in
    *.sh) timeout 600 bash "$t" >"$log" 2>&1 ;;
    *)    timeout 300 "$t" >"$log" 2>&1 ;;
  esac
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); printf 'ok    %-40s %3ss\n' "$name" "$secs"
  elif [ $rc -eq 77 ]; then
    skip=$((skip + 1)); printf 'skip  %-40s %s\n' "$name" "$(tail -n 1 "$log")"
  else
    fail=$((fail + 1)); failed+=("$name")
    printf 'FAIL  %-40s %3ss (exit %d)\n' "$name" "$secs" "$rc"
    sed 's/^/    | /' "$log" | tail -n 60
  fi
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
