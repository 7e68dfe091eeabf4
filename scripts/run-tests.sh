#!/usr/bin/env bash
# run-tests.sh: run each test (a cmocka binary or a shell script) and print one
# summary line "N passed, N flaky, N failed".  A failing test's output is shown; a
# passing test's output is kept in $OPSBOT_BUILD/test-logs/.
#
# Tests run TEST_JOBS at a time (default 8: most integration tests wait on
# their processes more than they compute -- the suite is ~150 CPU-seconds in
# ~640 s of summed wall time -- so 8 keep 2 cores busy without starving a
# test; a sanitizer build, about twice as heavy, gets 4 from the Makefile).
# Every test works in its own temp dir on kernel-picked ports, so they do not
# see each other.  Tests listed in SLOW_FIRST start first, so the longest
# ones do not finish the run alone.  TEST_JOBS=1 runs them one after
# another, in order.
set -u
logdir="${OPSBOT_BUILD:-build}/test-logs"
mkdir -p "$logdir"
jobs=${TEST_JOBS:-8}
results=$(mktemp)
lock=$(mktemp)
trap 'rm -f "$results" "$lock"' EXIT
: >"$logdir/cpu.txt"

# The tests read JSON with jq in their polling loops, some 3,000 calls a run.
# Debian 12's jq 1.6 spends ~16 ms of CPU starting up (a third of the
# suite's CPU went there); gojq, a jq implementation, starts in ~1.5 ms.
# When it is installed (scripts/deps.sh), tests get it under the name jq.
# TEST_JQ=jq keeps the system jq.
if [ "${TEST_JQ:-gojq}" = gojq ] && command -v gojq >/dev/null 2>&1; then
  mkdir -p "$logdir/jq-shim"
  ln -sf "$(command -v gojq)" "$logdir/jq-shim/jq"
  PATH="$(cd "$logdir/jq-shim" && pwd):$PATH"
  export PATH
fi
start_all=$(date +%s)

# Longest first, so the run does not end with one of them alone (seconds, run
# alone at low load, 2026-12-03: 45 40 30 27 17 17 16 16 15 15 14 12 12 11 7;
# the report tests come last in INTEG_TESTS and would end the run alone).
SLOW_FIRST="sim_demo_prometheus.sh demo_runs.sh eval_runs.sh demo_interactive.sh"
SLOW_FIRST+=" sdk_conformance.sh master_supervise.sh detect_prometheus.sh attack_http.sh"
SLOW_FIRST+=" bot_http_hostile.sh sim_prometheus.sh exec_safety.sh report_endings_test.sh"
SLOW_FIRST+=" slack_storm_summary.sh slack_storm_channels.sh report_mail_test.sh"
ordered=()
for s in $SLOW_FIRST; do
  for t in "$@"; do
    [ "$(basename "$t")" = "$s" ] && ordered+=("$t")
  done
done
for t in "$@"; do
  case " $SLOW_FIRST " in *" $(basename "$t") "*) ;; *) ordered+=("$t") ;; esac
done

# Run one test, output to $2.  Its CPU time (user+sys of the test and every
# process it waited for) is appended to $logdir/cpu.txt as "seconds name".
run_timed() {
  local t=$1 log=$2 rc
  local cpu timer=()
  cpu=$(mktemp "$logdir/.cpu.XXXXXX")
  # (without /usr/bin/time -- Debian's `time` -- the tests run all the same)
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f '%U %S' -o "$cpu")
  case "$t" in
    *.sh) "${timer[@]}" timeout 600 bash "$t" >"$log" 2>&1 ;;
    *)    "${timer[@]}" timeout 300 "$t" >"$log" 2>&1 ;;
  esac
  rc=$?
  if [ -s "$cpu" ]; then
    (
      flock 9
      awk -v n="$(basename "$t")" 'END { printf "%.2f %s\n", $1 + $2, n }' "$cpu" >>"$logdir/cpu.txt"
    ) 9>"$lock"
  fi
  rm -f "$cpu"
  return $rc
}

run_one() {
  local t=$1 name log start rc secs first=
  name=$(basename "$t")
  log="$logdir/$name.log"
  start=$(date +%s)
  run_timed "$t" "$log"
  rc=$?
  # A test that fails once is run again (TEST_RETRY=0: never).  A pass on
  # the second run is reported as "flaky" with the first run's output kept in
  # $name.first.log: it still needs fixing, but one lost race on a loaded
  # machine does not hide the other results.
  if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ "${TEST_RETRY:-1}" = 1 ]; then
    first=$rc
    mv "$log" "$logdir/$name.first.log"
    run_timed "$t" "$log"
    rc=$?
  fi
  secs=$(( $(date +%s) - start ))
  (
    flock 9
    if [ $rc -eq 0 ] && [ -n "$first" ]; then
      echo "flaky $name" >>"$results"
      printf 'FLAKY %-40s %3ss (failed once with exit %d, passed again; first log: %s)\n' \
        "$name" "$secs" "$first" "$logdir/$name.first.log"
      sed 's/^/    | /' "$logdir/$name.first.log" | tail -n 40
    elif [ $rc -eq 0 ]; then
      echo "pass $name" >>"$results"
      printf 'ok    %-40s %3ss\n' "$name" "$secs"
    elif [ $rc -eq 77 ]; then
      echo "skip $name" >>"$results"
      printf 'skip  %-40s %s\n' "$name" "$(tail -n 1 "$log")"
    else
      echo "fail $name" >>"$results"
      printf 'FAIL  %-40s %3ss (exit %d)\n' "$name" "$secs" "$rc"
      sed 's/^/    | /' "$log" | tail -n 60
    fi
  ) 9>"$lock"
}

running=0
for t in "${ordered[@]}"; do
  if [ "$jobs" -le 1 ]; then
    run_one "$t"
    continue
  fi
  if [ $running -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
wait

pass=$(grep -c '^pass ' "$results")
flaky=$(grep -c '^flaky ' "$results")
fail=$(grep -c '^fail ' "$results")
skip=$(grep -c '^skip ' "$results")
if [ "$flaky" -gt 0 ]; then
  echo "flaky (failed once, passed on the second run): $(grep '^flaky ' "$results" | cut -d' ' -f2 | tr '\n' ' ')"
fi
if [ "$fail" -gt 0 ]; then
  echo "failed: $(grep '^fail ' "$results" | cut -d' ' -f2 | tr '\n' ' ')"
fi
cpu=$(awk '{ s += $1 } END { printf "%.0f", s }' "$logdir/cpu.txt")
echo "$pass passed, $flaky flaky, $fail failed, $skip skipped" \
  "($(( $(date +%s) - start_all )) s wall, $cpu CPU-s; per test: $logdir/cpu.txt)"
[ "$fail" -eq 0 ]
