#!/usr/bin/env bash
# report_alerts_test.sh: alerts that open no incident because of [hooks]
# min_severity or [hooks] ignore are recorded at intake (alert.filtered,
# incident 0) and counted in the digest by source and alert name (real
# opsbot-bot intake, opsbot-queue and the digest of opsbot-report).
#   - generic below the threshold, generic ignored by title, Alertmanager
#     ignored by alertname, Alertmanager below the threshold: 200
#     {"filtered": why}, no incident;
#   - the same notification again (a retry) is counted once;
#   - a resolved notification of a filtered group is answered, not counted,
#     and opens nothing; one whose group has an incident still closes it;
#   - an alert at the threshold still opens its incident;
#   - the digest says 4 filtered, by source and by name, and no longer says
#     filtered alerts are not counted.
. "$(dirname "$0")/../../tests/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
command -v jq >/dev/null || t_skip "jq not installed"
command -v pdftotext >/dev/null || t_skip "pdftotext (poppler-utils) not installed"
t_setup
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
[hooks]
min_severity = high
ignore = Watchdog, Disk nearly full
[report]
dir = $T/var/reports
db = $T/var/report.db
templates = $REPO/templates/email
daily_length = 36500d
CONF
t_start queue opsbot-queue -c opsbot.conf
t_wait "the queue answers" wirecat "$QURL" '{"type":"query","what":"stats"}'
t_start bot opsbot-bot -c opsbot.conf
t_wait "the bot's port" test -s var/run/bot.port
B="http://127.0.0.1:$(cat var/run/bot.port)"
post() { # PATH BODY -> HTTP code; body in resp.txt
  curl -s -o resp.txt -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $OPSBOT_HOOK_TOKEN" --data-binary "$2" "$B$1"
}
expect() { # CODE TEXT PATH BODY
  local got; got=$(post "$3" "$4")
  [ "$got" = "$1" ] || t_fail "POST $3 $4: got $got want $1 ($(cat resp.txt))"
  grep -qF "$2" resp.txt || t_fail "POST $3: '$(cat resp.txt)' lacks '$2'"
}
am() { # STATUS ALERTNAME SEVERITY FINGERPRINT
  printf '{"version":"4","groupKey":"{}:{alertname=\\"%s\\"}","status":"%s","receiver":"opsbot",
  "groupLabels":{"alertname":"%s"},"commonLabels":{"alertname":"%s","severity":"%s","service":"storage"},
  "commonAnnotations":{},"externalURL":"http://am","truncatedAlerts":0,
  "alerts":[{"status":"%s","labels":{"alertname":"%s","severity":"%s","service":"storage"},
  "annotations":{},"startsAt":"2026-12-03T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",
  "generatorURL":"http://prom","fingerprint":"%s"}]}' "$2" "$1" "$2" "$2" "$3" "$1" "$2" "$3" "$4"
}
filtered_events() {
  wirecat "$QURL" '{"type":"query","what":"events","since":0,"limit":1000}' |
    jq -c '[.items[] | select(.name == "alert.filtered")]'
}

expect 200 '"filtered":"severity low is below [hooks] min_severity high"' /hooks/generic \
  '{"title":"Cache warm-up slow","service":"cache","severity":"low","key":"c1"}'
expect 200 '"incident":0' /hooks/generic \
  '{"title":"Cache warm-up slow","service":"cache","severity":"low","key":"c1"}'
expect 200 '"filtered":"alert Disk nearly full is in [hooks] ignore"' /hooks/generic \
  '{"title":"Disk nearly full","service":"db","severity":"critical"}'
expect 200 '"filtered":"alert Watchdog is in [hooks] ignore"' /hooks/alertmanager \
  "$(am firing Watchdog critical f1)"
expect 200 '"filtered":"severity medium is below [hooks] min_severity high"' /hooks/alertmanager \
  "$(am firing LowDiskIO warning f2)"
expect 200 '"filtered"' /hooks/alertmanager "$(am firing LowDiskIO warning f2)" # a retry
expect 200 '"filtered"' /hooks/alertmanager "$(am resolved LowDiskIO warning f2)"
expect 201 '"created":true' /hooks/generic \
  '{"title":"Checkout down","service":"checkout","severity":"high","key":"k-high"}'
# a group that opened an incident and ends after its severity label fell
# below the threshold: the end is not counted, but it still closes it
expect 201 '"created":true' /hooks/alertmanager "$(am firing DiskFull critical f3)"
expect 200 '"resolved":true' /hooks/alertmanager "$(am resolved DiskFull warning f3)"

inc=$(wirecat "$QURL" '{"type":"query","what":"incidents","limit":100}')
[ "$(jq '.items | length' <<<"$inc")" = 2 ] || t_fail "incidents: $inc (want Checkout down and DiskFull)"
[ "$(jq -r '.items[] | select(.title | contains("DiskFull")) | .state' <<<"$inc")" = resolved ] ||
  t_fail "DiskFull was not resolved: $inc"
ev=$(filtered_events)
[ "$(jq length <<<"$ev")" = 4 ] || t_fail "alert.filtered events: $ev"
[ "$(jq -r '[.[].incident] | unique | join(",")' <<<"$ev")" = 0 ] || t_fail "filtered events name an incident: $ev"
[ "$(jq -r '[.[] | .data.surface + ":" + .data.alert.name] | sort | join(",")' <<<"$ev")" = \
  "alertmanager:LowDiskIO,alertmanager:Watchdog,generic:Cache warm-up slow,generic:Disk nearly full" ] ||
  t_fail "filtered events: $ev"

at=$(date -u -d '+36500 days' +%Y-%m-%dT%H:%M:%SZ)
opsbot-report -c opsbot.conf digest daily --at "$at" --out digest.pdf > digest.json ||
  t_fail "opsbot-report digest failed"
al=$(jq -c .alerts digest.json)
[ "$(jq .filtered <<<"$al")" = 4 ] || t_fail "digest filtered: $al"
# (DiskFull's resolved notification is a repeat of a known group: its note)
[ "$(jq .repeats <<<"$al")" = 1 ] || t_fail "digest repeats: $al"
[ "$(jq -c '[.by_source[] | [.name, .count]] | sort' <<<"$al")" = '[["alertmanager",3],["generic",2]]' ] ||
  t_fail "digest by source: $al"
[ "$(jq -c '[.noisiest[] | [.name, .count]] | sort' <<<"$al")" = \
  '[["Cache warm-up slow",1],["Disk nearly full",1],["DiskFull",1],["LowDiskIO",1],["Watchdog",1]]' ] ||
  t_fail "digest noisiest: $al"
jq -r .not_recorded <<<"$al" | grep -q "not counted\." && t_fail "the digest still says filtered alerts are not counted"
pdftotext -layout digest.pdf - > digest.txt
grep -q "Filtered *4 (below \[hooks\] min_severity" digest.txt || t_fail "PDF: $(grep -i filtered digest.txt)"
grep -q "LowDiskIO" digest.txt || t_fail "PDF lacks the noisiest names"
# a threshold that is not a severity stops opsbot-bot with file:line
sed 's/^min_severity = high$/min_severity = urgent/' opsbot.conf > bad.conf
out=$(timeout 20 opsbot-bot -c bad.conf 2>&1) && t_fail "opsbot-bot ran with min_severity = urgent"
grep -q "bad.conf:[0-9]*:.*min_severity.*critical, high, medium, low, info" <<<"$out" ||
  t_fail "bad min_severity: $out"
echo "ok: filtered alerts recorded and counted"
