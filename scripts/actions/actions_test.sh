#!/usr/bin/env bash
# actions_test.sh: every action in config/actions.conf runs, through the
# argv the catalog renders, against a real opsbot-sim (clock stopped with
# --accel 0 and moved by hand, so the outcome is exact):
#   - each script prints what the simulator did and the simulator's state
#     shows it (replicas, version, pool, traffic limit, recorded actions);
#   - check_service (the verify step) fails while a fault is on and passes
#     once the right action has taken effect;
#   - a service the simulator does not have, a request it refuses, and a
#     simulator that does not answer each exit 1 with a readable line;
#   - a refused value never reaches a script, and scripts check again.
. "$(dirname "$0")/../../tests/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
command -v jq >/dev/null || t_skip "jq not installed"
export OPSBOT_SIM_STATE=$T/sim
t_start sim opsbot-sim --port 0 --port-file "$T/sim.port" --seed 5 --accel 0
t_wait "the simulator's port" test -s sim.port
export OPSBOT_SIM_URL="http://127.0.0.1:$(cat sim.port)"
advance() { curl -sf -X POST -d "{\"seconds\":$1}" "$OPSBOT_SIM_URL/control/advance" >/dev/null || t_fail "advance"; }
state() { curl -sf "$OPSBOT_SIM_URL/control/state"; }
printf '[plan]\ncatalog = %s/config/actions.conf\npolicy = %s/config/policy.conf\ndb = :memory:\n' \
  "$REPO" "$REPO" >p.conf
run() { # run ACTION PARAMS-JSON: render and execute; prints the script's output
  mapfile -t argv < <(opsbot-plan -c p.conf argv "$1" "$2") || return 2
  [ ${#argv[@]} -gt 0 ] || return 2
  (cd "$REPO" && "${argv[@]}")
}
advance 30
while IFS='|' read -r action params want; do
  [ -n "$action" ] || continue
  out=$(run "$action" "$params" 2>&1) || t_fail "$action $params: exit $? ($out)"
  case "$out" in *"$want"*) ;; *) t_fail "$action: output '$out' want '$want'";; esac
  advance 1
done <<'TABLE'
restart_service|{"service":"payment"}|rolling restart of payment started
scale_service|{"service":"api","replicas":8}|scaling api from 3 to 8 replicas
rollback_deploy|{"service":"api"}|rolling api back from v3 to v2
clear_cache|{"service":"cache"}|flushing the cache tier
flush_queue_consumers|{"queue":"orders"}|consumers of queue orders
rotate_certificate|{"domain":"shop.example.com"}|certificate of shop.example.com
failover_database|{"cluster":"db"}|promoting the db replica
kill_slow_queries|{"cluster":"db"}|ending long-running db sessions
increase_connection_pool|{"service":"db","size":200}|db connection pool from 100 to 200
drain_node|{"node":"web-3"}|drained node web-3
uncordon_node|{"node":"web-3"}|takes work again
free_disk_space|{"node":"web-3"}|under /var/log on web-3
limit_traffic|{"service":"frontend"}|frontend will admit 70% of requests
unlimit_traffic|{"service":"frontend"}|frontend will admit 100% of requests
page_oncall|{}|paged the sre on-call
open_ticket|{"title":"follow up on checkout latency"}|opened ticket OPS-101 (p3)
noop|{}|no change made: watching
watch_service|{"service":"api"}|no change to api
TABLE
# every action in the catalog was covered above
for a in $(grep -o '^\[action [a-z_]*\]' "$REPO/config/actions.conf" | tr -d '[]' | cut -d' ' -f2); do
  grep -q "Z $a " "$OPSBOT_SIM_STATE/actions.log" || t_fail "action $a never ran"
done
# the simulator did what the scripts said, once their delays had passed
advance 40
state > state.json
jq -e '.services[] | select(.name == "api") | .replicas == 8 and .version == "v2"' state.json >/dev/null ||
  t_fail "api after scale and rollback: $(jq -c '.services[1]' state.json)"
jq -e '.db_connections.max == 200' state.json >/dev/null || t_fail "pool: $(jq -c .db_connections state.json)"
jq -e '.services[0].traffic_pct == 100' state.json >/dev/null || t_fail "frontend traffic after unlimit"
for a in page_oncall open_ticket drain_node; do
  jq -e --arg a "$a" '[.events[].text | select(startswith($a))] | length == 1' state.json >/dev/null ||
    t_fail "$a not recorded with the simulator: $(jq -c '[.events[].text]' state.json)"
done

# verify: unhealthy under a fault, healthy after the right action
check() { (cd "$REPO" && scripts/actions/check_service.sh "$1"); }
check payment > chk.out || t_fail "check_service payment at rest: $(cat chk.out)"
curl -sf -X POST -d '{"kind":"error_spike","service":"payment"}' "$OPSBOT_SIM_URL/control/fault" >/dev/null || t_fail "fault"
advance 30
check payment > chk.out && t_fail "check_service passes under an error spike: $(cat chk.out)"
grep -q "still unhealthy: errors" chk.out || t_fail "check output: $(cat chk.out)"
out=$(run restart_service '{"service":"payment"}') || t_fail "restart payment: $out"
advance 40
check payment > chk.out || t_fail "check_service after the restart: $(cat chk.out)"

# refusals: no such service, a busy service, an impossible rollback
out=$(run restart_service '{"service":"checkout"}' 2>&1); rc=$?
[ $rc = 1 ] || t_fail "restart of an unknown service: exit $rc ($out)"
case "$out" in *"no service checkout"*) ;; *) t_fail "unknown service message: $out";; esac
check checkout >/dev/null && t_fail "check_service of an unknown service passed"
run restart_service '{"service":"api"}' >/dev/null || t_fail "restart api"
out=$(run restart_service '{"service":"api"}' 2>&1) && t_fail "a second restart while one runs: $out"
out=$(run rollback_deploy '{"service":"cache","version":"v7"}' 2>&1) && t_fail "rollback to v7: $out"
case "$out" in *"previous version is v2"*) ;; *) t_fail "rollback to v7 message: $out";; esac
# the URL may come from a file instead of the environment
echo "$OPSBOT_SIM_URL" > "$OPSBOT_SIM_STATE/url"
(unset OPSBOT_SIM_URL; check cache) >/dev/null || t_fail "check_service with the URL from $OPSBOT_SIM_STATE/url"
# a simulator that does not answer
out=$(OPSBOT_SIM_URL=http://127.0.0.1:$(t_port) run restart_service '{"service":"api"}' 2>&1); rc=$?
[ $rc = 1 ] || t_fail "simulator down: exit $rc ($out)"
case "$out" in *"did not answer"*) ;; *) t_fail "simulator down message: $out";; esac
# a value outside its type never reaches the script
out=$(opsbot-plan -c p.conf argv restart_service '{"service":"api; rm -rf /"}' 2>&1) &&
  t_fail "a shell suffix was rendered: $out"
# scripts check again on their own
(cd "$REPO" && scripts/actions/restart_service.sh 'a b') 2>/dev/null; [ $? = 2 ] || t_fail "script accepted a bad service"
(cd "$REPO" && scripts/actions/scale_service.sh api) 2>/dev/null; [ $? = 2 ] || t_fail "scale without replicas"
# local-state actions can be told to fail
mkdir -p "$OPSBOT_SIM_STATE/fail" && touch "$OPSBOT_SIM_STATE/fail/drain_node"
(cd "$REPO" && scripts/actions/drain_node.sh web-3) >/dev/null; [ $? = 1 ] || t_fail "simulated failure not reported"
echo "actions: ok"
