#!/usr/bin/env bash
# storm_grouping.sh: an alert storm through opsbot-bot's webhook into the
# real opsbot-queue becomes a few incidents, not one per alert.
#
#   40 generic alerts: 10 on checkout (sent first), then 10 each on payment
#   and db (both called by checkout in [services]) and on search, all at
#   once.  Expect 2 incidents: checkout with 30 alerts grouped into it,
#   search with 10.  A resent alert (same key) changes nothing; the count
#   and the newest alert are in each incident's timeline.
. "$(dirname "$0")/../lib.sh"
t_setup
command -v jq >/dev/null || t_skip "jq not installed"
T_DEADLINE=30
export OPSBOT_HOOK_TOKEN=t0ken-for-tests-$$

QURL="ipc://$T/var/run/q.ipc"
cat > opsbot.conf <<CONF
[queue]
listen = $QURL
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
[pipeline]
stages = detect
group_window = 10m
group_sources = generic alertmanager
[services]
checkout = payment, db
[bot]
state = $T/var/bot.db
[http]
listen = 127.0.0.1:0
port_file = $T/var/run/bot.port
CONF
t_start queue opsbot-queue -c opsbot.conf
t_wait "the queue answers" wirecat "$QURL" '{"type":"query","what":"stats"}'
t_start bot opsbot-bot -c opsbot.conf
t_wait "the bot's port" test -s var/run/bot.port
B="http://127.0.0.1:$(cat var/run/bot.port)"
alert() {  # alert SERVICE N -> HTTP code on stdout
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $OPSBOT_HOOK_TOKEN" \
    --data-binary "{\"title\":\"$1 errors ($2)\",\"service\":\"$1\",\"severity\":\"high\",\"key\":\"$1-$2\"}" \
    "$B/hooks/generic"
}
for i in $(seq 10); do alert checkout "$i"; done > codes.txt
curls=()
for s in payment db search; do
  for i in $(seq 10); do alert "$s" "$i" >> codes.txt & curls+=($!); done
done
wait "${curls[@]}"
bad=$(grep -cv '^20[01]$' codes.txt)
[ "$bad" = 0 ] || t_fail "some alerts were refused: $(sort codes.txt | uniq -c | tr '\n' ' ')"
[ "$(wc -l < codes.txt)" = 40 ] || t_fail "answers: got $(wc -l < codes.txt) want 40"

incidents() { wirecat "$QURL" '{"type":"query","what":"incidents","limit":100}'; }
n=$(incidents | jq '.items | length')
[ "$n" = 2 ] || t_fail "incidents after 40 alerts: got $n want 2 ($(incidents | jq -c '[.items[] | {id, service}]'))"
co=$(incidents | jq -r '.items[] | select(.service == "checkout") | .id')
se=$(incidents | jq -r '.items[] | select(.service == "search") | .id')
[ -n "$co" ] && [ -n "$se" ] || t_fail "want one checkout and one search incident"
count() { wirecat "$QURL" "{\"type\":\"query\",\"what\":\"incident\",\"incident\":$1}" | jq -r '.incident.grouped.count'; }
[ "$(count "$co")" = 30 ] || t_fail "checkout grouped count: got $(count "$co") want 30"
[ "$(count "$se")" = 10 ] || t_fail "search grouped count: got $(count "$se") want 10"

# A resent alert is a retry: same answer, nothing counted twice.
[ "$(alert db 3)" = 200 ] || t_fail "resent alert: want 200"
[ "$(count "$co")" = 30 ] || t_fail "resent alert counted again: $(count "$co")"
[ "$(incidents | jq '.items | length')" = 2 ] || t_fail "resent alert opened an incident"

# The timeline says how many alerts joined and which came last.
wirecat "$QURL" "{\"type\":\"query\",\"what\":\"timeline\",\"incident\":$co}" > tl.json
jq -e '[.items[] | select(.name == "incident.updated" and (.data.alerts // "" | test("^30 grouped")))] | length == 1' tl.json >/dev/null ||
  t_fail "no '30 grouped into this incident' update in the checkout timeline"
echo ok
