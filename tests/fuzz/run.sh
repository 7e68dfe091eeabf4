#!/usr/bin/env bash
# run.sh: run each libFuzzer target for $FUZZ_TIME seconds (make fuzz).
# Seeds come from tests/fuzz/corpus/<target>/ (read only); new inputs go to
# $B/corpus/<target>/, crash inputs to $B/crashes/.  One summary line per
# target: {"fuzz":"wire","execs":N,"seconds":S,"crashes":0}.
set -u
B=${B:-build-fuzz}
FUZZ_TIME=${FUZZ_TIME:-60}
cd "$(dirname "$0")/../.."
mkdir -p "$B/crashes"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
failed=()
for t in "$@"; do
  mkdir -p "$B/corpus/$t"
  log="$B/fuzz-$t.log"
  # -rss_limit_mb bounds memory per target; -timeout flags inputs that hang
  "$B/fuzz/$t" -max_total_time="$FUZZ_TIME" -print_final_stats=1 -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix="$B/crashes/$t-" "$B/corpus/$t" "tests/fuzz/corpus/$t" \
    >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  echo "{\"fuzz\":\"$t\",\"execs\":${execs:-0},\"execs_per_sec\":${secs:-0},\"seconds\":$FUZZ_TIME,\"exit\":$rc}"
  if [ "$rc" != 0 ]; then
    echo "fuzz: $t failed (exit $rc); see $log and $B/crashes/" >&2
    grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5 >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
