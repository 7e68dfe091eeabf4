#!/usr/bin/env bash
# exec_learn.sh: the real planner, the real executor.  opsbot-plan (playbook)
# proposes a catalog action for a latency incident, a person approves with
# opsbotctl, opsbot-exec runs and verifies it, and the planner's bandit
# (plan.db, learned from the event log) counts the run as a win; a second
# incident whose check fails counts as a loss.
D=$(cd "$(dirname "$0")" && pwd)
. "$D/../lib.sh"
. "$D/runtime_lib.sh"
. "$D/exec_lib.sh"
exec_t_setup
[ -x "$OPSBOT_BIN/opsbot-plan" ] || t_skip "opsbot-plan is not built"
exec_setup "max_rounds = 1"
cat >> "$T/actions.conf" <<'CONF'

[action bump]
description = Restart the service (test action: records the run).
run = scripts/actions/touch.sh {service}
param = service pattern [a-z][a-z0-9-]{0,39}
risk = medium
idempotent = no
verify = scripts/actions/check.sh {service}
env = RUNS_LOG, BROKEN_DIR
match = latency, p99, slow
CONF
cat > "$T/policy.conf" <<CONF
[policy]
auto_risk = low
approvers = sre
distinct_approvers = 1
requester_may_approve = yes
approval_expiry = 30m
timezone = UTC
[person alice]
slack = U0ALICE01
[person me]
unix = $(id -un)
[group sre]
members = alice, me
CONF
cat >> "$T/opsbot.conf" <<CONF
[plan]
catalog = $T/actions.conf
policy = $T/policy.conf
db = $T/var/plan.db
fallback = none
learn = yes
learn_interval = 200ms
claim_wait = 200ms
CONF
exec_start
t_start realplan opsbot-plan -c "$T/opsbot.conf"
arm() { sqlite3 "$T/var/plan.db" "select runs || '/' || wins from arms where signature = 'checkout/latency' and action = 'bump'" 2>/dev/null; }

submit() {
  ctl submit --service checkout --title "checkout p99 latency above 2s" --severity high >submit.out || t_fail "submit: $(cat submit.out)"
  ID=$(sed -n 's/^incident \([0-9]*\) opened.*/\1/p' submit.out)
  t_wait "incident $ID awaits approval" eval '[ "$(state '"$ID"')" = awaiting_approval ]'
  [ "$(ctl --json show "$ID" | jq -r '.incident.results.plan.plan.steps[0].action')" = bump ] ||
    t_fail "the planner proposed $(ctl --json show "$ID" | jq -c '.incident.results.plan.plan.steps')"
  ctl approve "$ID" --plan "$(plan_hash "$ID")" >/dev/null || t_fail "approve $ID"
}
submit
t_wait "incident $ID resolved" eval '[ "$(state '"$ID"')" = resolved ]'
[ "$(runs 'touch checkout')" = 1 ] || t_fail "bump ran $(runs 'touch checkout') times, want 1"
t_wait "the bandit learned a win (runs/wins 1/1)" eval '[ "$(arm)" = 1/1 ]'

touch "$T/broken/checkout"
submit
t_wait "incident $ID failed" eval '[ "$(state '"$ID"')" = failed ]'
t_wait "the bandit learned a loss (runs/wins 2/1)" eval '[ "$(arm)" = 2/1 ]'
echo "ok exec_learn"
