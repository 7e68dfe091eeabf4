#!/usr/bin/env bash
# detect_watch.sh: watch mode against the real opsbot-queue, polling a
# target this test runs (detect_target.py) through a scrape source.
#
#   quiet      no incident while the target is quiet (warm-up included);
#   episode 1  payment's CPU and checkout's latency jump: exactly one watch
#              incident per service, however many polls stay high (dedupe);
#   close      back to quiet: the episode closes (hysteresis) and its
#              incident gets one note saying so;
#   episode 2  a second jump opens a second payment incident.
. "$(dirname "$0")/../lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
t_setup
command -v jq >/dev/null || t_skip "jq not installed"
T_DEADLINE=60

echo normal > mode
t_start target python3 "$here/detect_target.py" "$T/target.port" "$T/mode"
t_wait "the target's port" test -s target.port
QURL="ipc://$T/var/run/q.ipc"
cat > opsbot.conf <<CONF
[queue]
listen = $QURL
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
[pipeline]
stages = detect
[detect]
window = 5m
watch_interval = 50ms
watch_warmup = 40
watch_open_points = 2
watch_close_points = 5
[source shop]
type = scrape
url = http://127.0.0.1:$(cat target.port)/metrics
CONF
t_start queue opsbot-queue -c opsbot.conf
t_wait "the queue answers" wirecat "$QURL" '{"type":"query","what":"stats"}'
OPSBOT_LOG_LEVEL=debug t_start watch opsbot-detect -c opsbot.conf watch

polled() { grep -q "event=watch_poll poll=$1 " "$T/watch.log"; }
watch_incidents() {  # watch_incidents SERVICE: how many watch incidents it has
  wirecat "$QURL" '{"type":"query","what":"incidents","limit":100}' |
    jq --arg s "$1" '[.items[] | select(.service == $s and .source == "watch")] | length'
}
at_least() { [ "$(watch_incidents "$1")" -ge "$2" ]; }

t_wait "80 quiet polls" polled 80
n=$(wirecat "$QURL" '{"type":"query","what":"incidents","limit":100}' | jq '.items | length')
[ "$n" = 0 ] || t_fail "incidents while quiet: got $n want 0"

echo spike > mode
t_wait "a payment incident" at_least payment 1
t_wait "a checkout incident" at_least checkout 1
p=$(grep -c "event=watch_poll" watch.log)
t_wait "20 more polls while high" polled $((p + 20))
for s in payment checkout; do
  n=$(watch_incidents $s)
  [ "$n" = 1 ] || t_fail "$s incidents during one episode: got $n want 1"
done
grep -q 'event=watch_incident key="watch:payment:' watch.log || t_fail "no keyed submit in the log"
[ "$(watch_incidents catalogue)" = 0 ] || t_fail "quiet catalogue opened an incident"

echo normal > mode
t_wait "payment's episode closes" grep -q 'event=episode_close service="payment"' "$T/watch.log"
pay=$(wirecat "$QURL" '{"type":"query","what":"incidents","limit":100}' |
  jq -r '[.items[] | select(.service == "payment" and .source == "watch")][0].id')
back_noted() {
  wirecat "$QURL" "{\"type\":\"query\",\"what\":\"timeline\",\"incident\":$pay}" |
    jq -e '[.items[] | tostring | select(test("back in its usual range"))] | length == 1' >/dev/null
}
t_wait "a 'back in range' note on incident $pay" back_noted
# Quiet long enough that the first outage is a minority of the baseline
# window again (a robust baseline absorbs an outage longer than a quarter).
p=$(grep -c "event=watch_poll" watch.log)
t_wait "60 quiet polls" polled $((p + 60))
echo spike > mode
t_wait "a second payment incident" at_least payment 2
echo ok
