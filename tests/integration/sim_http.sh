#!/usr/bin/env bash
# sim_http.sh: opsbot-sim over HTTP, as a person or a script drives it.
#
#   determinism  two simulators with the same seed, the same commands and a
#                stopped clock (--accel 0) serve the same /metrics, byte for
#                byte; another seed serves other numbers;
#   fault        an injected CPU hog shows in the scraped metrics (api's CPU
#                and p95, and the frontend's p95 that follows it);
#   format       promtool accepts /metrics, healthy and under every fault;
#   remediation  a wrong action leaves api unhealthy; the right one (restart)
#                fixes it, but only after its delay;
#   time         --accel 50 runs 50 simulated seconds per real second;
#   bad input    every malformed request gets a 4xx/5xx with a reason and
#                the simulator keeps serving.
. "$(dirname "$0")/../lib.sh"
t_setup
command -v jq >/dev/null || t_skip "jq not installed"
T_DEADLINE=20

start_sim() { # start_sim NAME ARGS...: a simulator; sets URL_<NAME>
  local n=$1; shift
  t_start "$n" opsbot-sim --port 0 --port-file "$T/$n.port" "$@"
  local pid_var=PID_$n
  port_or_dead() { test -s "$T/$n.port" || ! kill -0 "${!pid_var}"; }
  t_wait "$n's port" port_or_dead
  test -s "$T/$n.port" || t_fail "opsbot-sim $n exited at start: $(cat "$T/$n.log")"
  eval "URL_$n=http://127.0.0.1:$(cat "$T/$n.port")"
}
post() { curl -s --max-time 5 -X POST -H 'Content-Type: application/json' -d "$2" "$1"; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
advance() { post "$1/control/advance" "{\"seconds\":$2}" | jq -e .ok >/dev/null || t_fail "advance $2 on $1"; }
metric() { # metric URL NAME SERVICE
  curl -sf --max-time 5 "$1/metrics" | awk -v k="$2{service=\"$3\"}" '$1 == k {print $2}'
}
gt() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a > b)}'; }

start_sim a --seed 7 --accel 0
start_sim b --seed 7 --accel 0
start_sim c --seed 8 --accel 0

# ---- determinism -------------------------------------------------------------
for u in "$URL_a" "$URL_b" "$URL_c"; do advance "$u" 60; done
for u in "$URL_a" "$URL_b" "$URL_c"; do
  post "$u/control/fault" '{"kind":"cpu_hog","service":"api","severity":0.8}' | jq -e '.id > 0' >/dev/null ||
    t_fail "fault refused by $u"
  advance "$u" 90
done
curl -sf "$URL_a/metrics" > a.prom; curl -sf "$URL_b/metrics" > b.prom; curl -sf "$URL_c/metrics" > c.prom
cmp -s a.prom b.prom || t_fail "same seed, same commands, different metrics: $(diff a.prom b.prom | head -5)"
cmp -s a.prom c.prom && t_fail "seeds 7 and 8 served the same metrics"
[ "$(grep -c '^sim_' a.prom)" = 27 ] || t_fail "samples: got $(grep -c '^sim_' a.prom) want 27"

# ---- the fault is visible -------------------------------------------------------
cpu=$(metric "$URL_a" sim_cpu_utilization_ratio api)
p95=$(metric "$URL_a" sim_latency_p95_seconds api)
fe=$(metric "$URL_a" sim_latency_p95_seconds frontend)
gt "$cpu" 0.85 || t_fail "api CPU under a CPU hog: got $cpu want > 0.85"
gt "$p95" 0.25 || t_fail "api p95 under a CPU hog: got $p95 want > 0.25"
gt "$fe" 0.3 || t_fail "frontend p95 $fe: want > 0.3 s (it calls api; 0.12 s when healthy)"
base=$(metric "$URL_a" sim_latency_p95_seconds payment)
gt 0.2 "$base" || t_fail "payment (not hit) p95: got $base"

# ---- promtool --------------------------------------------------------------------
if command -v promtool >/dev/null; then
  promtool check metrics < a.prom > promtool.log 2>&1 || t_fail "promtool: $(cat promtool.log)"
  for f in memory_leak cache_failure db_conn_exhaustion bad_deploy traffic_surge; do
    post "$URL_c/control/fault" "{\"kind\":\"$f\"}" | jq -e .ok >/dev/null || t_fail "fault $f"
  done
  advance "$URL_c" 300
  curl -sf "$URL_c/metrics" | promtool check metrics > promtool.log 2>&1 ||
    t_fail "promtool under every fault: $(cat promtool.log)"
else
  echo "note: promtool not installed; format check skipped"
fi

# ---- remediation -------------------------------------------------------------------
healthy() { curl -sf "$1/control/health?service=$2" | jq -r .healthy; }
[ "$(healthy "$URL_a" api)" = false ] || t_fail "api healthy under a CPU hog"
post "$URL_a/control/action" '{"action":"clear_cache","service":"api"}' | jq -e .ok >/dev/null ||
  t_fail "clear_cache refused"
advance "$URL_a" 180
[ "$(healthy "$URL_a" api)" = false ] || t_fail "a wrong action (clear_cache) fixed a CPU hog"
delay=$(post "$URL_a/control/action" '{"action":"restart","service":"api"}' | jq -r .delay_s)
[ "$delay" -ge 5 ] 2>/dev/null || t_fail "restart delay: got '$delay'"
advance "$URL_a" $((delay - 1))
[ "$(healthy "$URL_a" api)" = false ] || t_fail "api healthy before the restart finished"
advance "$URL_a" 60
[ "$(healthy "$URL_a" api)" = true ] || t_fail "api after restart: $(curl -s "$URL_a/control/health?service=api")"
[ "$(healthy "$URL_a" frontend)" = true ] || t_fail "frontend after api's restart"
curl -sf "$URL_a/control/state" | jq -e '[.faults[] | select(.active)] | length == 0' >/dev/null ||
  t_fail "the hog is still active after the restart"
gt 0.7 "$(metric "$URL_a" sim_cpu_utilization_ratio api)" || t_fail "api CPU still high after restart"

# ---- accelerated time -----------------------------------------------------------------
start_sim fast --seed 1 --accel 50
tick_at_least() { [ "$(curl -sf "$URL_fast/control/state" | jq -r .tick)" -ge "$1" ]; }
t_wait "100 simulated seconds at --accel 50" tick_at_least 100

# ---- bad input --------------------------------------------------------------------------
[ "$(code -X POST -d '{"kind":"nope"}' "$URL_a/control/fault")" = 400 ] || t_fail "unknown fault kind"
[ "$(code -X POST -d '{"kind":"cpu_hog","service":"checkout"}' "$URL_a/control/fault")" = 404 ] || t_fail "unknown service"
[ "$(code -X POST -d '{"kind":"cpu_hog","severity":7}' "$URL_a/control/fault")" = 400 ] || t_fail "severity 7"
[ "$(code -X POST -d 'not json' "$URL_a/control/action")" = 400 ] || t_fail "non-JSON body"
[ "$(code -X POST -d '{"action":"scale","service":"api","replicas":500}' "$URL_a/control/action")" = 409 ] || t_fail "500 replicas"
[ "$(code -X POST -d '{"action":"restart"}' "$URL_a/control/action")" = 400 ] || t_fail "action without service"
[ "$(code "$URL_a/control/health?service=checkout")" = 404 ] || t_fail "health of an unknown service"
[ "$(code "$URL_a/control/health?service=a%20b")" = 400 ] || t_fail "health with a bad name"
[ "$(code "$URL_a/nope")" = 404 ] || t_fail "unknown path"
[ "$(code "$URL_a/control/fault")" = 405 ] || t_fail "GET on a POST path"
[ "$(code -X POST -d '{"seconds":5}' "$URL_fast/control/advance")" = 409 ] || t_fail "advance while the clock runs"
head -c 70000 /dev/zero | tr '\0' x > big.json
[ "$(code -X POST --data-binary @big.json "$URL_a/control/fault")" = 413 ] || t_fail "70 kB body"
[ "$(code -X POST -H 'Transfer-Encoding: chunked' -d '{}' "$URL_a/control/clear")" = 501 ] || t_fail "chunked body"
port_a=$(cat a.port)
{ printf 'GARBAGE\r\n\r\n' >&3; cat <&3 >/dev/null; } 3<>"/dev/tcp/127.0.0.1/$port_a" || true
exec 4<>"/dev/tcp/127.0.0.1/$port_a"; printf 'GET /met' >&4   # a half request stays open
curl -sf --max-time 5 "$URL_a/metrics" | grep -q '^sim_error_ratio' || t_fail "not serving after bad input"
exec 4>&-
kill -0 "$PID_a" || t_fail "opsbot-sim a died"
echo "ok: api p95 ${p95}s under a CPU hog, fixed $delay s after a restart"
