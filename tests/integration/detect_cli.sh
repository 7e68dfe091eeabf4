#!/usr/bin/env bash
# detect_cli.sh: opsbot-detect's command-line modes on the fixtures in
# tests/data/detect/ and the KPI examples in workers/detect/examples/.
#   score    one line per input row, scores in [0,1], the spike and the
#            level shift detected, the quiet stretch not;
#   rca      the CPU-hogged service ranked first;
#   analyze  the KPI story of seed 000 (support tickets surge, then sales
#            fall) from both the CSV and the JSON-lines source;
#   errors   a missing file and a bad parameter fail with a reason;
#   input    (issue 11) quoted numbers parse, text values and files with no
#            usable column fail with file:line, inputs with no column in
#            common fail, out-of-order timestamps warn, --help works;
#   rca      (issue 15) a flat metric that steps reads as a bounded number
#            of spreads, with units, a tie is not reported as certain, and
#            with --calls a caller's propagated latency goes to its callee.
. "$(dirname "$0")/../lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)
data="$src/tests/data/detect"
t_setup
command -v jq >/dev/null || t_skip "jq not installed"
thr=0.5691   # DETECTOR_THRESHOLD

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
# --- issue 11: input errors -------------------------------------------------
opsbot-detect score --help > help.txt 2>&1 || t_fail "score --help: exit $?"
grep -q "usage: opsbot-detect score" help.txt || t_fail "score --help: $(cat help.txt)"
opsbot-detect rca --help > help.txt 2>&1 || t_fail "rca --help: exit $?"

# Quoted numbers are numbers: the same scores as unquoted.
sed -E '2,$ s/^([^,]*),(.*)$/"\1","\2"/' "$data/spike_shift.csv" > quoted.csv
opsbot-detect score quoted.csv > quoted_scores.csv 2>err.txt || t_fail "quoted: exit $? ($(cat err.txt))"
cut -d, -f3 scores.csv > a.txt; cut -d, -f3 quoted_scores.csv > b.txt
cmp -s a.txt b.txt || t_fail "quoted numbers scored differently from plain ones"

printf 'timestamp,value\n2026-01-01 00:00:00,1\n2026-01-01 00:05:00,twelve\n' > text.csv
if opsbot-detect score text.csv >/dev/null 2>err.txt; then t_fail "text value: got success"; fi
grep -q "text.csv:3: value 'twelve' is not a number" err.txt || t_fail "text value: message '$(cat err.txt)'"

printf 'timestamp,value\n' > empty.csv
if opsbot-detect score empty.csv >/dev/null 2>err.txt; then t_fail "no rows: got success"; fi
grep -q "no timestamp,value rows" err.txt || t_fail "no rows: message '$(cat err.txt)'"

printf 'timestamp,value\n2026-01-01 00:00:00,\n2026-01-01 00:05:00,NaN\n' > gaps.csv
if opsbot-detect score gaps.csv >/dev/null 2>err.txt; then t_fail "only gaps: got success"; fi
grep -q "gaps.csv: no numeric values in 2 rows" err.txt || t_fail "only gaps: message '$(cat err.txt)'"

# Out of order and repeated timestamps: scored, with a warning.
printf 'timestamp,value\n2026-01-01 00:05:00,1\n2026-01-01 00:00:00,2\n2026-01-01 00:00:00,3\n' > unsorted.csv
opsbot-detect score unsorted.csv > /dev/null 2>err.txt || t_fail "unsorted: exit $?"
grep -q "warning: unsorted.csv: 1 timestamp is earlier than the row before (first at line 3)" err.txt \
  || t_fail "unsorted: warning '$(cat err.txt)'"
grep -q "1 repeated timestamp (first at line 4)" err.txt || t_fail "duplicate: warning '$(cat err.txt)'"

# rca: a file with no usable column, and tables with no column in common.
printf 'time,pod,host\n1,a-1,h1\n2,a-1,h1\n' > textonly.csv
if opsbot-detect rca --normal textonly.csv --anomalous "$data/anomalous.csv" >/dev/null 2>err.txt; then
  t_fail "no usable column: got success"; fi
grep -q "textonly.csv: no numeric metric columns" err.txt || t_fail "no usable column: message '$(cat err.txt)'"
printf 'time,x_cpu,y_cpu\n1,1,2\n2,1,2\n3,1,2\n' > other.csv
if opsbot-detect rca --normal other.csv --anomalous "$data/anomalous.csv" >/dev/null 2>err.txt; then
  t_fail "no common column: got success"; fi
grep -q "no metric column in common" err.txt || t_fail "no common column: message '$(cat err.txt)'"
# A text column next to metrics is dropped with a warning, the rest ranked.
awk -F, 'BEGIN{OFS=","} {print $0, (NR==1 ? "pod" : "p-1")}' "$data/normal.csv" > n_pod.csv
opsbot-detect rca --normal n_pod.csv --anomalous "$data/anomalous.csv" > rca2.json 2>err.txt || t_fail "text column: exit $?"
grep -q "column 'pod' dropped" err.txt || t_fail "text column: warning '$(cat err.txt)'"
[ "$(jq -r '.ranking[0].service' rca2.json)" = orders ] || t_fail "text column: ranking $(jq -c .ranking rca2.json)"

# --- issue 15: zero spread and confidence ------------------------------------
# b_cpu sits at exactly 0 then steps to 40; a_cpu and c_cpu are noisy, so
# b borrows their spread (about 0.74) as its floor: 42 / 0.74 = 56.7.
printf 'time,a_cpu(%%),b_cpu(%%),c_cpu(%%)\n1,10,0,30\n2,12,0,33\n3,11,0,29\n4,9,0,31\n5,10,0,30\n' > zn.csv
printf 'time,a_cpu(%%),b_cpu(%%),c_cpu(%%)\n6,11,40,31\n7,10,42,30\n8,12,41,32\n' > za.csv
opsbot-detect rca --normal zn.csv --anomalous za.csv > z.json 2>err.txt || t_fail "zero spread: exit $? $(cat err.txt)"
[ "$(jq -r '.ranking[0].service' z.json)" = b ] || t_fail "zero spread: top $(jq -c .ranking z.json)"
why=$(jq -r '.ranking[0].rationale' z.json)
grep -qx 'cpu(%) of b rose from 0% to 42% (56.7 spreads)' <<<"$why" || t_fail "zero spread rationale: '$why'"
# With no neighbour to borrow from, the step is bounded and said so.
cut -d, -f1,3 zn.csv > zn1.csv; cut -d, -f1,3 za.csv > za1.csv
opsbot-detect rca --normal zn1.csv --anomalous za1.csv > z1.json 2>err.txt || t_fail "zero spread alone: exit $?"
why=$(jq -r '.ranking[0].rationale' z1.json)
grep -qx 'cpu(%) of b rose from 0% to 42% (over 1000 spreads)' <<<"$why" || t_fail "zero spread alone: '$why'"
jq -e '.ranking[0].spreads <= 1000' z1.json >/dev/null || t_fail "zero spread: unbounded $(jq -c '.ranking[0]' z1.json)"
# Two services moving the same way: neither is reported as near-certain.
printf 'time,a_cpu,b_cpu,c_cpu\n6,30,90,30\n7,33,99,29\n8,29,87,31\n' > ta.csv
printf 'time,a_cpu,b_cpu,c_cpu\n1,10,30,30\n2,11,33,29\n3,9,29,31\n4,10,30,30\n5,10,31,30\n' > tn.csv
opsbot-detect rca --normal tn.csv --anomalous ta.csv > t.json 2>err.txt || t_fail "tie: exit $?"
jq -e '.ranking[0].confidence < 0.8' t.json >/dev/null || t_fail "tie: confidence $(jq -c .ranking t.json)"
# Latency propagates to callers: a calls b; b slowed down, a (waiting on b)
# looks worse.  Without the call graph a ranks first; with it, b.
printf 'time,a_lat,b_lat,c_lat,a_cpu,b_cpu,c_cpu\n1,10,10,10,50,50,50\n2,10.5,9.6,10.2,50,50,50\n3,9.7,10.4,9.9,50,50,50\n4,10.2,10.1,10.3,50,50,50\n' > pn.csv
printf 'time,a_lat,b_lat,c_lat,a_cpu,b_cpu,c_cpu\n5,40,30,10.1,50,50,50\n6,39,29,9.9,50,50,50\n' > pa.csv
printf 'Source,Target\na,b\nb,c\n' > calls.csv
opsbot-detect rca --normal pn.csv --anomalous pa.csv > p1.json || t_fail "calls: exit $?"
[ "$(jq -r '.ranking[0].service' p1.json)" = a ] || t_fail "no calls: top $(jq -c .ranking p1.json)"
opsbot-detect rca --normal pn.csv --anomalous pa.csv --calls calls.csv > p2.json || t_fail "calls: exit $?"
[ "$(jq -r '.ranking[0].service' p2.json)" = b ] || t_fail "with calls: top $(jq -c .ranking p2.json)"
printf 'a\n' > badcalls.csv
if opsbot-detect rca --normal pn.csv --anomalous pa.csv --calls badcalls.csv >/dev/null 2>err.txt; then
  t_fail "bad calls file: got success"; fi
grep -q "badcalls.csv:1: want caller,callee" err.txt || t_fail "bad calls: message '$(cat err.txt)'"
echo ok
