#!/usr/bin/env bash
# actions_test.sh: every script action in config/actions.conf runs, through
# the argv the catalog renders, against a simulated state; its verify check
# passes afterwards; a refused value never reaches a script; a script told
# to fail exits 1.
. "$(dirname "$0")/../../tests/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
export OPSBOT_SIM_STATE=$T/sim
printf '[plan]\ncatalog = %s/config/actions.conf\npolicy = %s/config/policy.conf\ndb = :memory:\n' \
  "$REPO" "$REPO" >p.conf
run() { # run ACTION PARAMS-JSON: render and execute; prints the script's output
  mapfile -t argv < <(opsbot-plan -c p.conf argv "$1" "$2") || return 2
  [ ${#argv[@]} -gt 0 ] || return 2
  (cd "$REPO" && "${argv[@]}")
}
while IFS='|' read -r action params want; do
  [ -n "$action" ] || continue
  out=$(run "$action" "$params" 2>&1) || t_fail "$action $params: exit $? ($out)"
  case "$out" in *"$want"*) ;; *) t_fail "$action: output '$out' want '$want'";; esac
done <<'TABLE'
restart_service|{"service":"checkout"}|restarted checkout
scale_service|{"service":"checkout","replicas":8}|to 8 replicas
rollback_deploy|{"service":"checkout"}|rolled checkout back from v2 to v1
rollback_deploy|{"service":"checkout","version":"v7"}|to v7
clear_cache|{"service":"checkout"}|cleared the all cache of checkout
flush_queue_consumers|{"queue":"orders"}|consumers of queue orders
rotate_certificate|{"domain":"shop.example.com"}|certificate of shop.example.com
failover_database|{"cluster":"main"}|failed main over from main-a to main-b
kill_slow_queries|{"cluster":"main"}|longer than 60s
increase_connection_pool|{"service":"checkout","size":200}|from 50 to 200
drain_node|{"node":"web-3"}|drained node web-3
uncordon_node|{"node":"web-3"}|takes work again
free_disk_space|{"node":"web-3"}|under /var/log on web-3
limit_traffic|{"service":"checkout"}|admits 70% of requests
unlimit_traffic|{"service":"checkout"}|admits all requests again
page_oncall|{}|paged the sre on-call
open_ticket|{"title":"follow up on checkout latency"}|opened ticket OPS-101 (p3)
noop|{}|no change made: watching
TABLE
# every action in the catalog was covered above
for a in $(grep -o '^\[action [a-z_]*\]' "$REPO/config/actions.conf" | tr -d '[]' | cut -d' ' -f2); do
  grep -q " $a\$" "$OPSBOT_SIM_STATE/actions.log" || grep -q "Z $a " "$OPSBOT_SIM_STATE/actions.log" ||
    t_fail "action $a never ran"
done
# verify checks see the simulated state
(cd "$REPO" && scripts/actions/check_service.sh checkout) >/dev/null || t_fail "check_service after restart"
touch "$OPSBOT_SIM_STATE/services/checkout/unhealthy"
(cd "$REPO" && scripts/actions/check_service.sh checkout) >/dev/null && t_fail "check_service ignores unhealthy"
(cd "$REPO" && scripts/actions/check_node.sh web-3) >/dev/null || t_fail "check_node after freeing space"
# a value outside its type never reaches the script
out=$(opsbot-plan -c p.conf argv restart_service '{"service":"checkout; rm -rf /"}' 2>&1) &&
  t_fail "a shell suffix was rendered: $out"
# scripts check again on their own and refuse on cue
(cd "$REPO" && scripts/actions/restart_service.sh 'a b') 2>/dev/null; [ $? = 2 ] || t_fail "script accepted a bad service"
mkdir -p "$OPSBOT_SIM_STATE/fail" && touch "$OPSBOT_SIM_STATE/fail/restart_service"
(cd "$REPO" && scripts/actions/restart_service.sh checkout) >/dev/null; [ $? = 1 ] || t_fail "simulated failure not reported"
echo "actions: ok"
