#!/usr/bin/env bash
# intake_alertmanager.sh: opsbot-bot's HTTP intake against the real
# Prometheus Alertmanager (Debian's /usr/bin/prometheus-alertmanager) and
# the real opsbot-queue.
#
#   bad input   no/wrong token -> 401, bad JSON or fields -> 400 with one
#               line, too big -> 413; afterwards the queue has no incident;
#   generic     a documented payload opens an incident (201); the same key
#               again answers 200 with the same incident;
#   /metrics    passes `promtool check metrics` and counts incidents;
#   grouping    three alerts posted to Alertmanager's API in two groups
#               arrive as two incidents; a new alert in a group is a note
#               on the same incident; when the group's alerts end, its
#               incident is resolved.
. "$(dirname "$0")/../lib.sh"
t_setup
command -v prometheus-alertmanager >/dev/null || t_skip "prometheus-alertmanager not installed"
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
[bot]
state = $T/var/bot.db
[http]
listen = 127.0.0.1:0
port_file = $T/var/run/bot.port
max_body = 65536
CONF
t_start queue opsbot-queue -c opsbot.conf
t_wait "the queue answers" wirecat "$QURL" '{"type":"query","what":"stats"}'
t_start bot opsbot-bot -c opsbot.conf
t_wait "the bot's port" test -s var/run/bot.port
B="http://127.0.0.1:$(cat var/run/bot.port)"
incidents() { wirecat "$QURL" '{"type":"query","what":"incidents","limit":100}'; }
post() {  # post PATH BODY [curl args...] -> "CODE BODY"
  local path=$1 body=$2; shift 2
  curl -s -o resp.txt -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$@" \
    --data-binary "$body" "$B$path"
}
auth=(-H "Authorization: Bearer $OPSBOT_HOOK_TOKEN")

# --- bad input changes nothing
good='{"title":"Disk almost full","service":"db","severity":"high","text":"92% used","key":"disk-1"}'
check() {  # check WANT_CODE WANT_TEXT PATH BODY [curl args]
  local want=$1 text=$2; shift 2
  local got; got=$(post "$@")
  [ "$got" = "$want" ] || t_fail "POST $1 $2: got $got want $want ($(cat resp.txt))"
  grep -qF "$text" resp.txt || t_fail "POST $1: body '$(cat resp.txt)' lacks '$text'"
  [ "$(wc -l < resp.txt)" -le 1 ] || t_fail "POST $1: reason is more than one line"
}
check 401 "bearer token" /hooks/generic "$good"
check 401 "bearer token" /hooks/generic "$good" -H "Authorization: Bearer wrong"
check 400 "JSON" /hooks/generic '{"title":' "${auth[@]}"
check 400 "field 'service'" /hooks/generic '{"title":"x"}' "${auth[@]}"
check 400 "unknown field 'sevrity'" /hooks/generic '{"title":"x","service":"y","sevrity":"high"}' "${auth[@]}"
check 400 "version" /hooks/alertmanager '{"version":"3","groupKey":"g","status":"firing","alerts":[]}' "${auth[@]}"
check 400 "alerts[0]" /hooks/alertmanager '{"version":"4","groupKey":"g","status":"firing","commonLabels":{},"alerts":[{"status":"firing"}]}' "${auth[@]}"
big=$(head -c 70000 /dev/zero | tr '\0' 'x')
got=$(post /hooks/generic "{\"title\":\"$big\",\"service\":\"y\"}" "${auth[@]}")
[ "$got" = 413 ] || t_fail "oversized body: got $got want 413"
n=$(incidents | jq '.items | length')
[ "$n" = 0 ] || t_fail "incidents after bad input: got $n want 0"

# --- generic
got=$(post /hooks/generic "$good" "${auth[@]}"); [ "$got" = 201 ] || t_fail "generic: got $got ($(cat resp.txt))"
id=$(jq -r .incident resp.txt)
got=$(post /hooks/generic "$good" "${auth[@]}"); [ "$got" = 200 ] || t_fail "generic again: got $got"
[ "$(jq -r .incident resp.txt)" = "$id" ] || t_fail "generic again: incident $(jq -r .incident resp.txt) want $id"
[ "$(incidents | jq '[.items[] | select(.source == "generic")] | length')" = 1 ] || t_fail "generic: not exactly one incident"

# --- /metrics
curl -sf "$B/metrics" > metrics.txt || t_fail "GET /metrics failed"
if command -v promtool >/dev/null; then
  promtool check metrics < metrics.txt > promtool.txt 2>&1 || t_fail "promtool: $(cat promtool.txt)"
fi
grep -q '^opsbot_queue_up 1$' metrics.txt || t_fail "metrics: queue not up: $(head -5 metrics.txt)"
grep -q '^opsbot_incidents{state="detecting"} 1$' metrics.txt || t_fail "metrics: incidents: $(grep incidents metrics.txt)"
grep -q '^opsbot_hook_requests_total{hook="generic",code="400"} 3$' metrics.txt \
  || t_fail "metrics: hook counters: $(grep hook_requests metrics.txt)"

# --- the real Alertmanager
cat > am.yml <<YML
route:
  receiver: opsbot
  group_by: [alertname, service]
  group_wait: 300ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: opsbot
    webhook_configs:
      - url: $B/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: $OPSBOT_HOOK_TOKEN
YML
# t_port's port may be taken by someone else before Alertmanager binds it
# (the host is shared): start again on a new port when that happens.
for try in 1 2 3 4 5; do
  aport=$(t_port)
  t_start alertmanager$try prometheus-alertmanager --config.file=am.yml \
    --storage.path="$T/am$try" --web.listen-address=127.0.0.1:$aport --cluster.listen-address= \
    --log.level=warn
  pid_var=PID_alertmanager$try
  up_or_dead() { curl -sf "http://127.0.0.1:$aport/-/ready" || ! kill -0 "${!pid_var}"; }
  t_wait "Alertmanager ready or exited" up_or_dead
  kill -0 "${!pid_var}" 2>/dev/null && break
  [ $try = 5 ] && t_fail "Alertmanager would not start on 5 ports"
done
A="http://127.0.0.1:$aport"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
alert() {  # alert NAME SERVICE INSTANCE [ENDS_AT]
  printf '{"labels":{"alertname":"%s","service":"%s","instance":"%s","severity":"critical"},"annotations":{"summary":"%s on %s"},"startsAt":"%s"%s}' \
    "$1" "$2" "$3" "$1" "$2" "$now" "${4:+,\"endsAt\":\"$4\"}"
}
curl -sf -X POST -H 'Content-Type: application/json' "$A/api/v2/alerts" \
  -d "[$(alert HighLatency checkout a),$(alert HighLatency checkout b),$(alert DiskFull db a)]" \
  || t_fail "posting alerts to Alertmanager failed"
am_incidents() { incidents | jq '[.items[] | select(.source == "alertmanager")]'; }
count_am() { [ "$(am_incidents | jq length)" = "$1" ]; }
t_wait "two alertmanager incidents" count_am 2
lat=$(am_incidents | jq -r '.[] | select(.service == "checkout") | .id')
[ -n "$lat" ] || t_fail "no checkout incident: $(am_incidents)"
[ "$(am_incidents | jq -r '.[] | select(.service == "checkout") | .severity')" = critical ] \
  || t_fail "severity: $(am_incidents)"

# A third alert in the checkout group: a note on the same incident.
curl -sf -X POST -H 'Content-Type: application/json' "$A/api/v2/alerts" \
  -d "[$(alert HighLatency checkout c)]" || t_fail "posting the third alert failed"
noted() {
  wirecat "$QURL" "{\"type\":\"query\",\"what\":\"timeline\",\"incident\":$lat}" |
    jq -e '[.items[] | tostring | select(test("3 of 3 alerts firing"))] | length > 0' >/dev/null
}
t_wait "a note about 3 firing alerts on incident $lat" noted
count_am 2 || t_fail "an update opened a new incident: $(am_incidents)"

# All checkout alerts end: Alertmanager sends "resolved"; the incident resolves.
past=$(date -u -d '-1 second' +%Y-%m-%dT%H:%M:%SZ)
curl -sf -X POST -H 'Content-Type: application/json' "$A/api/v2/alerts" \
  -d "[$(alert HighLatency checkout a "$past"),$(alert HighLatency checkout b "$past"),$(alert HighLatency checkout c "$past")]" \
  || t_fail "posting the resolutions failed"
resolved() { [ "$(am_incidents | jq -r ".[] | select(.id == $lat) | .state")" = resolved ]; }
t_wait "incident $lat resolved" resolved
[ "$(am_incidents | jq -r '.[] | select(.service == "db") | .state')" != resolved ] \
  || t_fail "the db group resolved too"
echo ok
