#!/usr/bin/env bash
# storm_smoke.sh (make test): the storm bench end to end on a small storm
# with the posting limits lifted, so it stays short: 60 Alertmanager
# notifications in 3 s over 20 services.  Checks what the bench reports
# against what must hold: grouping folds every service's alerts into one
# incident (incidents = services hit), every notification is answered 2xx,
# every incident's parent reaches the channel (lost = 0), and the JSON line
# carries the keys issue 16 names.  Not a timing test: no latency is judged.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=$(STORM_LIMITS=off ALERTS=60 DURATION=3 SERVICES=20 DEADLINE=20 bash "$here/storm.sh") ||
  { echo "FAIL: storm.sh exited $?" >&2; exit 1; }
echo "$out"
fail() { echo "FAIL: $*" >&2; exit 1; }
line=$(printf '%s\n' "$out" | grep '^{"bench":"storm"' | tail -n 1)
[ -n "$line" ] || fail "no JSON line from storm.sh"
for k in alerts incidents new_incident_visible_p50_ms new_incident_visible_p99_ms chat_calls rate_limited lost; do
  jq -e --arg k "$k" 'has($k)' <<<"$line" >/dev/null || fail "key $k missing: $line"
done
jq -e '.alerts == 60' <<<"$line" >/dev/null || fail "alerts: $line"
jq -e '.refused == 0 and .lost == 0' <<<"$line" >/dev/null || fail "refused or lost notifications: $line"
jq -e '.incidents == .services_hit' <<<"$line" >/dev/null ||
  fail "grouping: want one incident per service hit: $line"
jq -e '.visible == .incidents and .new_incident_visible_p99_ms != null' <<<"$line" >/dev/null ||
  fail "not every incident became visible: $line"
jq -e '.chat_calls >= .incidents' <<<"$line" >/dev/null ||
  fail "fewer chat calls than incidents: $line"
echo "ok storm_smoke"
