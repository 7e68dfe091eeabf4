#!/usr/bin/env bash
# intake_refire.sh: Alertmanager groups over time, big groups, and the UTF-8
# rule at the webhook door, against the real opsbot-queue (and, at the end,
# the real prometheus-alertmanager).
#
#   episodes   a group fires (201), the same notification again (200, same
#              incident), resolves; the retried resolve changes nothing; the
#              group fires again: a NEW incident (201), whose retry is 200;
#              its resolve resolves it and leaves the first alone
#   big        1,500 alerts in one notification, over 1 MiB: 201, and the
#              incident sums them up (counts, first alerts, "and N more")
#   utf-8      invalid bytes in a title are stored as U+FFFD; a NUL
#              (\u0000) is refused with 400; nothing half-stored; the same
#              for opsbotctl submit (argv and --file)
#   real AM    Alertmanager fires, resolves and fires the same alert again:
#              two incidents
. "$(dirname "$0")/../lib.sh"
t_setup
command -v jq >/dev/null || t_skip "jq not installed"
T_DEADLINE=40
export OPSBOT_HOOK_TOKEN=t0ken-refire-$$
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
incidents() { wirecat "$QURL" '{"type":"query","what":"incidents","limit":200}'; }
post() {  # post PATH FILE -> CODE (body in resp.txt)
  curl -s -o resp.txt -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $OPSBOT_HOOK_TOKEN" --data-binary "@$2" "$B$1"
}
# am STATUS STARTS [ENDS] > file: one notification of group "refire"
am() {
  python3 - "$@" <<'PY'
import json, sys
status, starts = sys.argv[1], sys.argv[2]
ends = sys.argv[3] if len(sys.argv) > 3 else "0001-01-01T00:00:00Z"
a = {"status": status, "labels": {"alertname": "Refire", "service": "pay", "severity": "high"},
     "annotations": {"summary": "pay is slow"}, "startsAt": starts, "endsAt": ends,
     "generatorURL": "http://x", "fingerprint": "f00d"}
print(json.dumps({"version": "4", "groupKey": "{}:{alertname=\"Refire\"}", "status": status,
                  "receiver": "opsbot", "groupLabels": {"alertname": "Refire"},
                  "commonLabels": a["labels"], "commonAnnotations": {}, "externalURL": "x",
                  "truncatedAlerts": 0, "alerts": [a]}))
PY
}
expect() {  # expect CODE PATH FILE -> sets INC
  local got; got=$(post "$2" "$3")
  [ "$got" = "$1" ] || t_fail "POST $2 $3: got $got want $1 ($(cat resp.txt))"
  INC=$(jq -r '.incident // empty' resp.txt)
}
state_of() { incidents | jq -r ".items[] | select(.id == $1) | .state"; }

# --- episodes
am firing 2026-12-01T10:00:00Z > f1.json
am resolved 2026-12-01T10:00:00Z 2026-12-01T10:30:00Z > r1.json
am firing 2026-12-01T11:00:00Z > f2.json
am resolved 2026-12-01T11:00:00Z 2026-12-01T11:20:00Z > r2.json
expect 201 /hooks/alertmanager f1.json; first=$INC
expect 200 /hooks/alertmanager f1.json; [ "$INC" = "$first" ] || t_fail "retry: incident $INC want $first"
expect 200 /hooks/alertmanager r1.json; [ "$INC" = "$first" ] || t_fail "resolve: incident $INC want $first"
[ "$(state_of "$first")" = resolved ] || t_fail "first episode not resolved: $(state_of "$first")"
expect 200 /hooks/alertmanager r1.json; [ "$INC" = "$first" ] || t_fail "resolve retry: incident $INC"
expect 201 /hooks/alertmanager f2.json; second=$INC
[ "$second" != "$first" ] || t_fail "the group fired again but got the resolved incident $first"
expect 200 /hooks/alertmanager f2.json; [ "$INC" = "$second" ] || t_fail "refire retry: $INC want $second"
expect 200 /hooks/alertmanager f1.json; [ "$INC" = "$second" ] || t_fail "old notification: $INC want $second"
expect 200 /hooks/alertmanager r2.json; [ "$INC" = "$second" ] || t_fail "second resolve: $INC want $second"
[ "$(state_of "$second")" = resolved ] || t_fail "second episode not resolved"
n=$(incidents | jq '[.items[] | select(.labels.am_group != null)] | length')
[ "$n" = 2 ] || t_fail "episodes: $n incidents, want 2"

# --- a big group: 1,500 alerts, over 1 MiB
python3 - > big.json <<'PY'
import json
alerts = [{"status": "firing", "labels": {"alertname": "Big", "service": "edge",
           "instance": "node-%04d" % i}, "annotations": {"summary": "edge %d is down" % i,
           "description": "x" * 700}, "startsAt": "2026-12-01T10:00:00Z",
           "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://x",
           "fingerprint": "%016x" % i} for i in range(1500)]
print(json.dumps({"version": "4", "groupKey": "{}:{alertname=\"Big\"}", "status": "firing",
                  "receiver": "opsbot", "groupLabels": {"alertname": "Big"},
                  "commonLabels": {"alertname": "Big", "service": "edge"},
                  "commonAnnotations": {}, "externalURL": "x", "truncatedAlerts": 0,
                  "alerts": alerts}))
PY
[ "$(stat -c %s big.json)" -gt 1048576 ] || t_fail "big.json is not over 1 MiB"
expect 201 /hooks/alertmanager big.json; big=$INC
summary=$(incidents | jq -r ".items[] | select(.id == $big) | .summary")
grep -q '1500 of 1500 alerts firing' <<<"$summary" || t_fail "big: no counts in '$summary'"
grep -q 'instance=node-0000' <<<"$summary" || t_fail "big: first alert not shown: '$summary'"
grep -q 'and 1495 more' <<<"$summary" || t_fail "big: no 'and 1495 more': '$summary'"
title=$(incidents | jq -r ".items[] | select(.id == $big) | .title")
[ "$title" = "Big (1500 alerts)" ] || t_fail "big: title '$title'"

# --- the UTF-8 rule at the door
printf '{"title":"bad \xff\xfe bytes \xe2\x82","service":"s","key":"utf8-1"}' > bad.json
expect 201 /hooks/generic bad.json
title=$(incidents | jq -r ".items[] | select(.id == $INC) | .title")
[ "$title" = "bad �� bytes �" ] || t_fail "repaired title: got '$title'"
before=$(incidents | jq '.items | length')
printf '{"title":"nul \\u0000 inside","service":"s","key":"nul-1"}' > nul.json
expect 400 /hooks/generic nul.json
grep -q 'NUL' resp.txt || t_fail "NUL refusal does not say why: $(cat resp.txt)"
[ "$(incidents | jq '.items | length')" = "$before" ] || t_fail "a NUL title was stored"
# the same rule for opsbotctl (argv text and --file JSON)
opsbotctl -c opsbot.conf --json submit --service cli --title $'cli \xc3 title' --key cli-utf8 > ctl.json \
  || t_fail "opsbotctl submit failed: $(cat ctl.json)"
id=$(jq -r .incident ctl.json)
title=$(incidents | jq -r ".items[] | select(.id == $id) | .title")
[ "$title" = "cli � title" ] || t_fail "opsbotctl title: got '$title'"
printf '{"title":"nul \\u0000","service":"cli"}' > ctlnul.json
opsbotctl -c opsbot.conf submit --file ctlnul.json > ctlnul.out 2>&1 && t_fail "opsbotctl took a NUL title"
grep -q 'NUL' ctlnul.out || t_fail "opsbotctl NUL refusal: $(cat ctlnul.out)"

# --- the real Alertmanager: fire, resolve, fire again -> two incidents
command -v prometheus-alertmanager >/dev/null || { echo "ok (no prometheus-alertmanager)"; exit 0; }
cat > am.yml <<YML
route:
  receiver: opsbot
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 500ms
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
real() { incidents | jq "[.items[] | select(.service == \"flaky\")]"; }
fire() {
  curl -sf -X POST -H 'Content-Type: application/json' "$A/api/v2/alerts" -d \
    "[{\"labels\":{\"alertname\":\"Flap\",\"service\":\"flaky\"},\"startsAt\":\"$1\"${2:+,\"endsAt\":\"$2\"}}]" \
    || t_fail "posting to Alertmanager failed"
}
fire "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
one_real() { [ "$(real | jq length)" = 1 ]; }
t_wait "first real incident" one_real
fire "$(date -u -d '-10 seconds' +%Y-%m-%dT%H:%M:%SZ)" "$(date -u -d '-1 second' +%Y-%m-%dT%H:%M:%SZ)"
resolved_real() { [ "$(real | jq -r '.[0].state')" = resolved ]; }
t_wait "the real group resolved" resolved_real
fire "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
two_real() { [ "$(real | jq length)" = 2 ]; }
t_wait "the group firing again opens a second incident" two_real
echo ok
