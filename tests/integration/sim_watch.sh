#!/usr/bin/env bash
# sim_watch.sh: opsbot's metric watch against opsbot-sim through a scrape
# source (`[source sim] type = scrape`), with the real opsbot-queue.
#
#   quiet  no incident while the simulator runs healthy (warm-up included);
#   fault  a db connection exhaustion is injected: the watch opens an
#          incident for db (the root) and the symptom travels to api;
#   fix    the right action (restart db) through scripts/actions brings
#          db back and the watch notes the episode's end on db's incident.
# Time runs 10x (--accel 10), polls every 100 ms (one poll per simulated
# second); the whole test takes ~10 s.
. "$(dirname "$0")/../lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
command -v jq >/dev/null || t_skip "jq not installed"
T_DEADLINE=25

t_start sim opsbot-sim --port 0 --port-file "$T/sim.port" --seed 11 --accel 10
t_wait "the simulator's port" test -s sim.port
export OPSBOT_SIM_URL="http://127.0.0.1:$(cat sim.port)"
QURL="ipc://$T/var/run/q.ipc"
cat > opsbot.conf <<CONF
[queue]
listen = $QURL
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
[pipeline]
stages = detect
[detect]
window = 2m
watch_interval = 100ms
watch_warmup = 30
watch_open_points = 2
watch_close_points = 5
[source sim]
type = scrape
url = $OPSBOT_SIM_URL/metrics
[services]
frontend = api
api = cache, db, payment
CONF
t_start queue opsbot-queue -c opsbot.conf
t_wait "the queue answers" wirecat "$QURL" '{"type":"query","what":"stats"}'
OPSBOT_LOG_LEVEL=debug t_start watch opsbot-detect -c opsbot.conf watch

polled() { grep -q "event=watch_poll poll=$1 " "$T/watch.log"; }
incidents() { wirecat "$QURL" '{"type":"query","what":"incidents","limit":100}'; }
watch_incidents() { incidents | jq --arg s "$1" '[.items[] | select(.service == $s and .source == "watch")] | length'; }
at_least() { [ "$(watch_incidents "$1")" -ge "$2" ]; }

t_wait "45 quiet polls" polled 45
n=$(incidents | jq '.items | length')
[ "$n" = 0 ] || t_fail "incidents while healthy: got $n want 0 ($(incidents | jq -c '[.items[] | [.service, .title]]'))"

curl -sf -X POST -d '{"kind":"db_conn_exhaustion"}' "$OPSBOT_SIM_URL/control/fault" >/dev/null || t_fail "fault refused"
t_wait "a db incident from the watch" at_least db 1
t_wait "the symptom reaching api" at_least api 1
first=$(incidents | jq -r '[.items[] | select(.source == "watch")] | sort_by(.id) | .[0].service')
[ "$first" = db ] || t_fail "first watch incident: got $first want db (the root)"
[ "$(watch_incidents payment)" = 0 ] || t_fail "healthy payment opened an incident"

# The right action, as the executor would run it from the catalog.
closes() { grep -c 'event=episode_close service="db"' "$T/watch.log"; }
db_open() { [ "$(closes)" -lt "$(grep -c 'event=episode_open service="db"' "$T/watch.log")" ]; }
t_wait "an open db episode" db_open
c0=$(closes)
(cd "$REPO" && scripts/actions/restart_service.sh db) > action.out 2>&1 || t_fail "restart_service db: $(cat action.out)"
ok() { (cd "$REPO" && scripts/actions/check_service.sh db) >/dev/null; }
t_wait "db healthy again (check_service.sh)" ok
closed_after() { [ "$(closes)" -gt "$c0" ]; }
t_wait "db's episode closes after the restart" closed_after
echo "ok: $(cat action.out); watch incidents: $(incidents | jq -c '[.items[] | select(.source == "watch") | .service]')"
