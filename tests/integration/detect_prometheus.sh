#!/usr/bin/env bash
# detect_prometheus.sh: opsbot-detect against a real Prometheus (Debian's
# /usr/bin/prometheus) scraping a target this test runs
# (detect_target.py), and the same target scraped directly.
#
# Prometheus scrapes every 100 ms.  After a quiet stretch the target's
# payment CPU and checkout latency jump; `opsbot-detect analyze` for
# checkout must then, through /api/v1/query_range, flag both series and
# rank payment first (the graph says checkout calls payment), with the
# services taken from the `service` label.
. "$(dirname "$0")/../lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
t_setup
command -v prometheus >/dev/null || t_skip "prometheus not installed"
command -v jq >/dev/null || t_skip "jq not installed"
T_DEADLINE=40

echo normal > mode
t_start target python3 "$here/detect_target.py" "$T/target.port" "$T/mode"
t_wait "the target's port" test -s target.port
tport=$(cat target.port)
cat > prometheus.yml <<YML
global:
  scrape_interval: 100ms
  scrape_timeout: 90ms
scrape_configs:
  - job_name: shop
    static_configs:
      - targets: ['127.0.0.1:$tport']
YML
# t_port's port may be taken by someone else before Prometheus binds it
# (the host is shared): start again on a new port when that happens.
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

samples() {
  local n
  n=$(curl -sf "$purl/api/v1/query?query=count_over_time(shop_cpu%7Bservice%3D%22payment%22%7D%5B1m%5D)" \
      | jq -r '.data.result[0].value[1] // 0') || return 1
  [ "${n:-0}" -ge "$1" ]
}
t_wait "80 quiet samples in Prometheus" samples 80
echo spike > mode
spiked() {
  local n
  n=$(curl -sf "$purl/api/v1/query" --data-urlencode \
      'query=count_over_time((shop_cpu{service="payment"} > 60)[1m:100ms])' \
      | jq -r '.data.result[0].value[1] // 0') || return 1
  [ "${n:-0}" -ge "$1" ]
}
t_wait "12 spiked samples" spiked 12

cat > detect.conf <<CONF
[detect]
window = 1m
lead = 3s
after = 0s
step = 100ms
[source prom]
type = prometheus
url = $purl
query = shop_cpu
query = shop_latency_seconds
[services]
checkout = payment, catalogue
CONF
opsbot-detect -c detect.conf analyze --service checkout > result.json 2>analyze.log \
  || t_fail "analyze failed: $(cat analyze.log)"
n=$(jq -r .series result.json)
[ "$n" = 3 ] || t_fail "series: got $n want 3 ($(jq -c '[.ranking[].metric]' result.json))"
top=$(jq -r '.ranking[0].service' result.json)
[ "$top" = payment ] || t_fail "top: got $top want payment ($(jq -c .ranking result.json))"
jq -e '.ranking[0].metric | test("^shop_cpu\\{.*service=\"payment\"")' result.json >/dev/null \
  || t_fail "top metric: $(jq -r '.ranking[0].metric' result.json)"
for s in payment checkout; do
  jq -e --arg s "$s" '[.anomalies[] | select(.service == $s and .direction == "up")] | length > 0' result.json >/dev/null \
    || t_fail "no upward anomaly for $s: $(jq -c .anomalies result.json)"
done
jq -e '[.anomalies[] | select(.service == "catalogue")] | length == 0' result.json >/dev/null \
  || t_fail "quiet catalogue flagged: $(jq -c .anomalies result.json)"

# A Prometheus that is down fails the job with a reason, not a crash.
cat > down.conf <<CONF
[source prom]
type = prometheus
url = http://127.0.0.1:$(t_port)
query = up
CONF
if opsbot-detect -c down.conf analyze --service checkout > /dev/null 2>down.log; then
  t_fail "analyze with Prometheus down: got success"
fi
grep -q "source prom" down.log || t_fail "down: message '$(tail -1 down.log)' does not name the source"
echo "ok: $(jq -r .summary result.json)"
