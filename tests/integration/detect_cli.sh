#!/usr/bin/env bash
# detect_cli.sh: opsbot-detect's command-line modes on the fixtures in
# tests/data/detect/ and the KPI examples in workers/detect/examples/.
#   score    one line per input row, scores in [0,1], the spike and the
#            level shift detected, the quiet stretch not;
#   rca      the CPU-hogged service ranked first;
#   analyze  the KPI story of seed 000 (support tickets surge, then sales
#            fall) from both the CSV and the JSON-lines source;
#   errors   a missing file and a bad parameter fail with a reason.
. "$(dirname "$0")/../lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)
data="$src/tests/data/detect"
t_setup
command -v jq >/dev/null || t_skip "jq not installed"
thr=0.6369   # DETECTOR_THRESHOLD

opsbot-detect score "$data/spike_shift.csv" > scores.csv || t_fail "score failed"
rows=$(wc -l < scores.csv)
[ "$rows" = 501 ] || t_fail "score rows: got $rows want 501 (header + 500)"
head -1 scores.csv | grep -qx 'timestamp,value,anomaly_score' || t_fail "header: $(head -1 scores.csv)"
awk -F, -v t=$thr 'NR > 1 { i = NR - 2
    if ($3 < 0 || $3 > 1) { print "row " i " score " $3 " out of [0,1]"; bad = 1 }
    if (i == 300 && $3 >= t) spike = 1
    if (i >= 420 && i <= 425 && $3 >= t) shift = 1
    if (i >= 100 && i < 300 && $3 >= t) { print "false alarm at row " i " score " $3; bad = 1 } }
  END { if (!spike) print "spike at row 300 not detected"
        if (!shift) print "level shift at row 420 not detected within 5 rows"
        exit !(spike && shift && !bad) }' scores.csv > score_check.txt || t_fail "$(cat score_check.txt)"

opsbot-detect rca --normal "$data/normal.csv" --anomalous "$data/anomalous.csv" > rca.json || t_fail "rca failed"
top=$(jq -r '.ranking[0].service' rca.json)
[ "$top" = orders ] || t_fail "rca top: got $top want orders ($(jq -c '.ranking[:3]' rca.json))"
jq -e '.ranking[0].metric == "orders_cpu" and .ranking[0].direction == "up"' rca.json >/dev/null \
  || t_fail "rca top metric: $(jq -c '.ranking[0]' rca.json)"

for kind in csv jsonl; do
  cat > kpi.conf <<CONF
[detect]
window = 12d
lead = 3h
[source kpi]
type = $kind
path = $src/workers/detect/examples/kpi.$kind
[services]
sales = support, signups
CONF
  opsbot-detect -c kpi.conf analyze --service sales --at 2026-11-12T10:00:00Z > kpi.json 2>kpi.err \
    || t_fail "analyze ($kind) failed: $(cat kpi.err)"
  top=$(jq -r '.ranking[0].service' kpi.json)
  [ "$top" = support ] || t_fail "kpi ($kind) top: got $top want support ($(jq -c .ranking kpi.json))"
  jq -e '[.anomalies[] | select(.series == "sales_revenue" and .direction == "down")] | length > 0' kpi.json >/dev/null \
    || t_fail "kpi ($kind): sales drop not among anomalies: $(jq -c .anomalies kpi.json)"
done

if opsbot-detect score /nonexistent.csv 2>err.txt; then t_fail "missing file: got success"; fi
grep -q "nonexistent.csv" err.txt || t_fail "missing file: message '$(cat err.txt)' does not name the file"
opsbot-detect score -p nosuch=1 "$data/spike_shift.csv" >/dev/null 2>err.txt; rc=$?
[ $rc = 2 ] || t_fail "bad parameter: exit got $rc want 2"
grep -q "nosuch" err.txt || t_fail "bad parameter: message '$(cat err.txt)'"
echo ok
