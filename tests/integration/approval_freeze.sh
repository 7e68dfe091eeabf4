#!/usr/bin/env bash
# approval_freeze.sh: a change freeze is judged again when someone approves,
# not only when the plan is made.  The plan (made by the test planner, which
# knows no freezes, as a plan made just before the window began would be)
# names an action that a freeze covers now: opsbotctl approve is refused with
# the window's name, the step, when it ends and its reason; nothing runs, the
# refusal is in the timeline; a reject still goes through.
D=$(cd "$(dirname "$0")" && pwd)
. "$D/../lib.sh"
. "$D/runtime_lib.sh"
. "$D/exec_lib.sh"
command -v jq >/dev/null || t_skip "jq not installed"
exec_t_setup
exec_setup
# a window from this hour to two hours on (UTC): it covers now whatever the time
from=$(date -u +%H)
to=$(date -u -d '+2 hours' +%H)
ends=$(date -u -d '+2 hours' '+%Y-%m-%d %H:00 UTC')
cat >> "$T/policy.conf" <<CONF
[freeze release]
days = *
hours = $from:00-$to:00
actions = touch
reason = Release window: no changes to touch targets.
CONF
exec_plan "$T/plan.json" touch '{"name":"frozen"}'
exec_start
exec_incident; id=$ID
hash=$(plan_hash "$id")
if ctl approve "$id" --plan "$hash" > appr.out 2>&1; then t_fail "approved during the freeze: $(cat appr.out)"; fi
grep -qF "change freeze release covers step 1 (touch) until $ends: Release window: no changes to touch targets. Nothing was recorded" appr.out ||
  t_fail "refusal: '$(cat appr.out)' (want the window ending $ends)"
[ "$(state "$id")" = awaiting_approval ] || t_fail "state after the refusal: $(state "$id")"
[ "$(ev "$id" approval.refused | jq -r .error)" = frozen ] || t_fail "timeline: $(ev "$id" approval.refused)"
[ "$(runs touch)" = 0 ] || t_fail "an action ran: $(cat runs.log)"
ctl reject "$id" --plan "$hash" --reason "wait for the window" > rej.out 2>&1 || t_fail "reject: $(cat rej.out)"
[ "$(state "$id")" = rejected ] || t_fail "state after reject: $(state "$id")"
echo "ok: approvals are refused during a change freeze"
