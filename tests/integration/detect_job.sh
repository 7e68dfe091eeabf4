#!/usr/bin/env bash
# detect_job.sh: a detect job end to end through the real opsbot-queue.
#
# The test writes metric files whose last two hours end now: checkout's
# latency (the user-facing symptom) climbs 10 minutes ago, payment's CPU
# climbed 5 minutes before that, catalogue stays flat.  It starts
# opsbot-queue (pipeline: detect only) and opsbot-detect, opens an incident
# for checkout, and checks the detect result stored on the incident:
# anomalies on both series, payment ranked first with a rationale that
# names its metric, says it came before the symptom and cites the graph.
. "$(dirname "$0")/../lib.sh"
t_setup
command -v jq >/dev/null || t_skip "jq not installed"

now=$(date +%s)
python3 - "$now" <<'PY'
import math, random, sys
now = int(sys.argv[1]); random.seed(3)
start = now - 7200
with open("lat.csv", "w") as f, open("res.jsonl", "w") as g:
    f.write("time,checkout_latency_p99\n")
    for i in range(121):
        t = start + 60 * i
        lat = 120 + random.gauss(0, 4) + (90 if t >= now - 600 else 0)
        pay = 30 + random.gauss(0, 1.5) + (45 if t >= now - 900 else 0)
        cat = 20 + random.gauss(0, 1.5)
        f.write("%d,%.2f\n" % (t, lat))
        g.write('{"time": %d, "payment_cpu": %.2f, "catalogue_cpu": %.2f}\n' % (t, pay, cat))
PY

QURL="ipc://$T/var/run/q.ipc"
cat > opsbot.conf <<CONF
[queue]
listen = $QURL
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
[pipeline]
stages = detect
[detect]
window = 2h
lead = 20m
claim_wait = 200ms
[source symptom]
type = csv
path = $T/lat.csv
service = checkout
symptom = yes
[source resources]
type = jsonl
path = $T/res.jsonl
[services]
checkout = payment, catalogue
CONF

t_start queue opsbot-queue -c opsbot.conf
t_wait "the queue answers" wirecat "$QURL" '{"type":"query","what":"stats"}'
t_start detect opsbot-detect -c opsbot.conf

reply=$(wirecat "$QURL" '{"type":"submit","what":"incident","key":"t-1","spec":{"title":"Checkout is slow","service":"checkout","severity":"high","source":"cli"}}') \
  || t_fail "submit refused: $reply"
id=$(jq -r .incident <<<"$reply")

detect_done() {
  wirecat "$QURL" "{\"type\":\"query\",\"what\":\"incident\",\"incident\":$id}" >q.json &&
    [ "$(jq -r '.incident.results.detect != null' q.json)" = true ]
}
t_wait "the detect result on incident $id" detect_done
jq .incident.results.detect q.json > result.json

top=$(jq -r '.ranking[0].service' result.json)
[ "$top" = payment ] || t_fail "top service: got $top want payment ($(jq -c .ranking result.json))"
why=$(jq -r '.ranking[0].rationale' result.json)
for want in payment_cpu rose "before the symptom" "checkout depends on it"; do
  grep -qF "$want" <<<"$why" || t_fail "rationale: got '$why' want it to contain '$want'"
done
conf=$(jq -r '.ranking[0].confidence' result.json)
awk -v c="$conf" 'BEGIN { exit !(c > 0.4 && c <= 1) }' || t_fail "confidence: got $conf want in (0.4, 1]"
jq -e '[.anomalies[] | select(.series == "payment_cpu" and .direction == "up")] | length > 0' result.json >/dev/null \
  || t_fail "no upward anomaly on payment_cpu: $(jq -c .anomalies result.json)"
jq -e '[.anomalies[] | select(.series == "checkout_latency_p99")] | length > 0' result.json >/dev/null \
  || t_fail "no anomaly on the symptom: $(jq -c .anomalies result.json)"
jq -e '[.anomalies[] | select(.series == "catalogue_cpu")] | length == 0' result.json >/dev/null \
  || t_fail "flat catalogue flagged: $(jq -c .anomalies result.json)"
jq -e '.summary | test("Most likely cause: payment")' result.json >/dev/null \
  || t_fail "summary: $(jq -r .summary result.json)"
echo "ok: $(jq -r .summary result.json)"
