#!/usr/bin/env bash
# eval_runs.sh: `opsbotctl eval` runs a few episodes through the real
# pipeline (opsbot-sim, the queue, the watch, detect, retrieve, plan, exec)
# and writes what it promises: one CSV row per episode with the columns
# below, three real PNG charts beside it, a summary with opsbot's figures
# beside each baseline, and the same figures as one JSON object.
. "$(dirname "$0")/../lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
for p in opsbot opsbot-queue opsbot-sim opsbot-detect opsbot-retrieve opsbot-plan opsbot-exec; do
  [ -x "$OPSBOT_BIN/$p" ] || t_skip "$p is not built"
done
mkdir -p out
# bad input: a clear error, exit 2, nothing started
for args in "--episodes 0 --out x.csv" "--episodes 3" "--episodes 2 --out x.csv --accel fast" \
  "--episodes 2 --out x.csv --quiet 9-5" "--episodes 2 --out x.csv --repo /nonexistent"; do
  # shellcheck disable=SC2086
  opsbotctl eval $args >bad.out 2>&1; rc=$?
  [ $rc = 2 ] || t_fail "opsbotctl eval $args: exit $rc want 2 ($(cat bad.out))"
  grep -q 'usage: opsbotctl eval\|bad value\|no folder' bad.out || t_fail "opsbotctl eval $args: $(cat bad.out)"
done
[ ! -e x.csv ] || t_fail "a refused run wrote x.csv"
# 20x with a 150 s horizon keeps an episode that opsbot cannot fix to ~8 s
timeout 100 opsbotctl eval --episodes 3 --seed 5 --accel 20 --horizon 150 --quiet 20-30 \
  --out "$T/out/results.csv" --work "$T/w" --repo "$root" >summary.txt 2>progress.log
rc=$?
cp "$T/w/opsbot.log" "$T/opsbot-stack.log" 2>/dev/null
[ $rc = 0 ] || t_fail "opsbotctl eval exit: got $rc want 0"

# ---- the CSV: the header, one row per episode, values of the right kind ----
want="episode,fault,service,severity,detected,time_to_detect_s,rca_top1,rca_top3,rca_ranking,action,recovered,time_to_recover_s,false_alarms,impact,incident,seed,quiet_s,threshold_detected,threshold_time_to_detect_s,threshold_false_alarms,first_alert_rca_top1,first_alert_rca_top3,random_rca_top1,random_rca_top3,random_action,random_action_recovered,random_action_time_to_recover_s,no_action_recovered,replay_matches"
got=$(head -n 1 out/results.csv)
[ "$got" = "$want" ] || t_fail "CSV header: got $got want $want"
python3 - out/results.csv <<'PY' || t_fail "CSV rows: $(cat out/results.csv)"
import csv, sys
faults = {"cpu_hog", "memory_leak", "latency", "error_spike", "cache_failure",
          "db_conn_exhaustion", "bad_deploy", "traffic_surge"}
services = {"frontend", "api", "cache", "db", "payment"}
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 3, "want 3 rows, got %d" % len(rows)
for i, r in enumerate(rows, 1):
    assert int(r["episode"]) == i, r
    assert r["fault"] in faults and r["service"] in services, r
    for k in ("detected", "rca_top1", "rca_top3", "recovered", "impact", "threshold_detected",
              "random_action_recovered", "no_action_recovered", "replay_matches"):
        assert r[k] in ("0", "1"), (k, r[k])
    assert r["replay_matches"] == "1", "the replay must match the live simulator: %r" % r
    if r["detected"] == "1":
        assert float(r["time_to_detect_s"]) >= 0 and int(r["incident"]) > 0, r
        assert r["rca_ranking"], r
    else:
        assert r["time_to_detect_s"] == "", r
    if r["recovered"] == "1":
        assert float(r["time_to_recover_s"]) > 0, r
    assert int(r["false_alarms"]) >= 0 and 0.5 <= float(r["severity"]) <= 1.0, r
    assert r["rca_top1"] <= r["rca_top3"], r
    assert r["random_action"], r
PY
# ---- the charts: real PNGs of the size drawn ----------------------------------------
for c in ttd ttr recovery; do
  f=out/results-$c.png
  [ -s "$f" ] || t_fail "no chart $f"
  python3 - "$f" <<'PY' || t_fail "$f is not a 960x520 PNG"
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR"
assert struct.unpack(">II", d[16:24]) == (960, 520)
assert len(d) > 5000
PY
done
# ---- the summary and its JSON ----------------------------------------------------
for w in "3 episodes, seed 5" "detection rate" "precision" "median time to detect" \
  "threshold only" "right at rank 1" "right within 3" "first alert" "random action" \
  "no action" "recovery rate" "median time to recover" "replay of the live run matched the simulator in 3 of 3"; do
  grep -q "$w" summary.txt || t_fail "summary: want '$w' in: $(cat summary.txt)"
done
jq -e '.bench == "eval" and .episodes == 3 and (.detection_rate | type) == "number" and
  has("precision") and has("rca_top1") and has("recovery_rate") and has("mttd_s") and
  has("mttr_s") and (.threshold_detection_rate | type) == "number" and
  (.random_action_recovery_rate | type) == "number"' out/results.csv.json >/dev/null ||
  t_fail "JSON: $(cat out/results.csv.json)"
# the stack it started is gone
! pgrep -f "$T/w/" >/dev/null || t_fail "processes of the run are still alive: $(pgrep -af "$T/w/")"
echo "ok: $(tr -d '\n' < out/results.csv.json | head -c 300)"
