#!/usr/bin/env bash
# queue_lifecycle.sh: submit -> claim -> complete across separate processes,
# an incident walked through its stages, and events seen on PUB.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
t_setup
. "$HERE/queue_common.sh"
q_config
q_start

# A first incident, resolved by hand, whose notes warm up the subscriber.
q '{"type":"submit","what":"incident","spec":{"title":"warm","service":"s","severity":"info","source":"cli"}}' >/dev/null
q '{"type":"command","incident":1,"action":"resolve","user":"it","surface":"cli"}' >/dev/null
# A subscriber in its own process.  PUB drops messages until the subscriber's
# pipe is up: nudge with notes we can afford to lose until it has seen one.
t_start sub wirecat -s -n 1000 -t 30000 "$EV_URL"
t_wait "subscriber connected" bash -c "
  wirecat -t 2000 '$Q_URL' '{\"type\":\"command\",\"incident\":1,\"action\":\"note\",\"user\":\"it\",\"surface\":\"cli\"}' >/dev/null
  grep -q command.recorded '$T/sub.log'"

# A standalone job: submitted by one process, claimed by another, completed by a third.
r=$(q '{"type":"submit","what":"job","job":{"kind":"echo","input":{"n":42}}}') || t_fail "submit job: $r"
job=$(jget "$r" 'd["job"]')
r=$(q '{"type":"claim","kinds":["echo"],"worker":"it","wait_ms":2000}') || t_fail "claim: $r"
[ "$(jget "$r" 'd["job"]["id"]')" = "$job" ] || t_fail "claim: got $r, want job $job"
[ "$(jget "$r" 'd["job"]["input"]["n"]')" = 42 ] || t_fail "claim input: got $r, want n=42"
lease=$(jget "$r" 'd["job"]["lease"]')
r=$(q "{\"type\":\"complete\",\"job\":$job,\"lease\":\"$lease\",\"result\":{\"ok\":1}}") || t_fail "complete: $r"
[ "$(jget "$r" 'd["duplicate"]')" = False ] || t_fail "complete: got $r, want duplicate false"
r=$(q "{\"type\":\"complete\",\"job\":$job,\"lease\":\"$lease\",\"result\":{\"ok\":1}}")
[ "$(jget "$r" 'd["duplicate"]')" = True ] || t_fail "second complete: got $r, want duplicate true"

# A long-polling claim parked before the job exists gets it when it is submitted.
wirecat -t 30000 "$Q_URL" '{"type":"claim","kinds":["late"],"worker":"it","wait_ms":25000}' >"$T/late.json" &
lp=$!
t_wait "claim parked" bash -c "wirecat '$Q_URL' '{\"type\":\"query\",\"what\":\"stats\"}' | grep -q '\"parked_claims\":1'"
q '{"type":"submit","what":"job","job":{"kind":"late"}}' >/dev/null
wait $lp || t_fail "parked claim failed: $(cat "$T/late.json")"
grep -q '"kind":"late"' "$T/late.json" || t_fail "parked claim: got $(cat "$T/late.json"), want the late job"

# An incident through detect and retrieve by hand-driven workers.
r=$(q '{"type":"submit","what":"incident","key":"it-1","spec":{"title":"API 5xx","service":"api","severity":"high","source":"cli"}}')
inc=$(jget "$r" 'd["incident"]')
for kind in detect retrieve; do
  r=$(q "{\"type\":\"claim\",\"kinds\":[\"$kind\"],\"worker\":\"it\",\"wait_ms\":2000}")
  [ "$(jget "$r" 'd["job"]["incident"]')" = "$inc" ] || t_fail "claim $kind: got $r"
  q "{\"type\":\"complete\",\"job\":$(jget "$r" 'd["job"]["id"]'),\"lease\":\"$(jget "$r" 'd["job"]["lease"]')\",\"result\":{\"summary\":\"$kind done\"}}" >/dev/null
done
r=$(q "{\"type\":\"query\",\"what\":\"incident\",\"incident\":$inc}")
[ "$(jget "$r" 'd["incident"]["state"]')" = planning ] || t_fail "state: got $r, want planning"
[ "$(jget "$r" 'd["incident"]["job"]["kind"]')" = plan ] || t_fail "current job: got $r, want plan"

# The subscriber saw the incident's events as they were committed.
t_wait "subscriber saw job.finished" grep -q '"name":"job.finished"' "$T/sub.log"
grep -q "\"incident\":$inc,.*incident.opened" "$T/sub.log" || t_fail "subscriber: no incident.opened for $inc"
grep -q '"name":"job.finished"' "$T/sub.log" || t_fail "subscriber: no job.finished"
echo "ok: lifecycle across processes"
