#!/usr/bin/env bash
# sim_prometheus.sh: a real Prometheus (Debian's) scrapes opsbot-sim; after a
# quiet stretch a CPU hog is injected into api, and
#   - /api/v1/query_range returns api's CPU and p95 high after the fault
#     and normal before it;
#   Time runs 8x (--accel 8) and Prometheus scrapes every 125 ms: one
#   sample per simulated second, as 4x and 250 ms gave, in half the time.
#   - opsbot-detect analyze, reading that query_range, flags api and ranks
#     it first for a frontend incident (the graph says frontend -> api).
. "$(dirname "$0")/../lib.sh"
t_setup
command -v prometheus >/dev/null || t_skip "prometheus not installed"
command -v jq >/dev/null || t_skip "jq not installed"
T_DEADLINE=40

t_start sim opsbot-sim --port 0 --port-file "$T/sim.port" --seed 3 --accel 8
t_wait "the simulator's port" test -s sim.port
surl="http://127.0.0.1:$(cat sim.port)"
cat > prometheus.yml <<YML
global:
  scrape_interval: 125ms
  scrape_timeout: 110ms
scrape_configs:
  - job_name: sim
    static_configs:
      - targets: ['127.0.0.1:$(cat sim.port)']
YML
# The port t_port found may be taken before Prometheus binds it (the host
# is shared): try again on another one.
for try in 1 2 3 4 5; do
  pport=$(t_port)
  t_start prometheus$try prometheus --config.file=prometheus.yml --storage.tsdb.path="$T/prom$try" \
    --web.listen-address=127.0.0.1:$pport --log.level=warn
  pid_var=PID_prometheus$try
  up_or_dead() { curl -sf "http://127.0.0.1:$pport/-/ready" || ! kill -0 "${!pid_var}"; }
  t_wait "Prometheus ready or exited" up_or_dead
  kill -0 "${!pid_var}" 2>/dev/null && break
  [ $try = 5 ] && t_fail "Prometheus would not start on 5 ports"
done
purl="http://127.0.0.1:$pport"
q() { curl -sf "$purl/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // 0'; }
at_least() { local n; n=$(q "$1") || return 1; awk -v a="$n" -v b="$2" 'BEGIN {exit !(a >= b)}'; }
t_wait "60 quiet samples in Prometheus" at_least 'count_over_time(sim_cpu_utilization_ratio{service="api"}[1m])' 60
t_fault=$(date +%s.%N)
curl -sf -X POST -d '{"kind":"cpu_hog","service":"api","severity":0.8}' "$surl/control/fault" >/dev/null ||
  t_fail "fault refused"
t_wait "12 hot samples" at_least 'count_over_time((sim_cpu_utilization_ratio{service="api"} > 0.85)[1m:125ms])' 12

now=$(date +%s.%N)
curl -sf "$purl/api/v1/query_range" --data-urlencode 'query=sim_cpu_utilization_ratio{service="api"}' \
  --data-urlencode "start=$(awk -v n="$now" 'BEGIN {printf "%.3f", n - 40}')" \
  --data-urlencode "end=$now" --data-urlencode step=0.125 > range.json || t_fail "query_range failed"
jq -e '.status == "success" and (.data.result | length) == 1' range.json >/dev/null || t_fail "range: $(head -c 300 range.json)"
before=$(jq --argjson f "$t_fault" '[.data.result[0].values[] | select(.[0] < $f - 0.5) | .[1] | tonumber] | max' range.json)
after=$(jq --argjson f "$t_fault" '[.data.result[0].values[] | select(.[0] > $f + 1.5) | .[1] | tonumber] | min' range.json)
awk -v b="$before" 'BEGIN {exit !(b < 0.65)}' || t_fail "api CPU before the fault: max $before want < 0.65"
awk -v a="$after" 'BEGIN {exit !(a > 0.85)}' || t_fail "api CPU after the fault: min $after want > 0.85"

# The recent window starts at the fault: on a loaded machine the waits above
# can take longer than a fixed lead, and the onset would land in the baseline.
lead=$(awk -v n="$(date +%s.%N)" -v f="$t_fault" 'BEGIN {l = int(n - f) + 1; print (l < 3 ? 3 : l)}')
cat > detect.conf <<CONF
[detect]
window = 1m
lead = ${lead}s
after = 0s
step = 125ms
[source prom]
type = prometheus
url = $purl
query = sim_latency_p95_seconds
query = sim_cpu_utilization_ratio
query = sim_error_ratio
[services]
frontend = api
api = cache, db, payment
CONF
opsbot-detect -c detect.conf analyze --service frontend > result.json 2>analyze.log ||
  t_fail "analyze failed: $(cat analyze.log)"
top=$(jq -r '.ranking[0].service' result.json)
[ "$top" = api ] || t_fail "top cause: got $top want api ($(jq -c '[.ranking[] | [.service, .metric]]' result.json))"
# The rise itself: an upward anomaly span on api, or (when the hot stretch was
# too short for a span, as on a loaded machine where scrapes are missed) the
# ranking's own reading that api's metric rose by more than 3 spreads.
jq -e '([.anomalies[] | select(.service == "api" and .direction == "up")] | length > 0)
  or (.ranking[0].service == "api" and (.ranking[0].rationale | test(" rose ")) and .ranking[0].score > 3)' \
  result.json >/dev/null || t_fail "no upward change on api: $(jq -c '{anomalies, ranking: .ranking[0:2]}' result.json)"
echo "ok: api CPU max $before before the hog, min $after after; $(jq -r .summary result.json)"
