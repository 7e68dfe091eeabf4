#!/usr/bin/env bash
# exec_e2e.sh: approve with opsbotctl -> opsbot-exec runs the steps in order,
# each with a ledger row committed before it starts -> the action's own
# check passes -> resolved.  The same approval delivered twice runs once;
# the events the planner's bandit learns from are in the log.
D=$(cd "$(dirname "$0")" && pwd)
. "$D/../lib.sh"
. "$D/runtime_lib.sh"
. "$D/exec_lib.sh"
exec_t_setup
exec_setup
exec_plan "$T/plan.json" touch '{"name":"alpha"}' touch_again '{"name":"beta"}'
exec_start

exec_incident; id=$ID
hash=$(plan_hash "$id")
[ "$(runs touch)" = 0 ] || t_fail "an action ran before approval: $(cat runs.log)"

# The same approval twice (a retried click): one run of each step.
ctl approve "$id" --plan "$hash" >appr1.out 2>&1 || t_fail "approve: $(cat appr1.out)"
ctl approve "$id" --plan "$hash" >appr2.out 2>&1
grep -q "not awaiting approval" appr2.out || t_fail "second approve: got '$(cat appr2.out)' want a refusal"
t_wait "incident $id resolved" eval '[ "$(state '"$id"')" = resolved ]'
[ "$(runs 'touch alpha')" = 1 ] || t_fail "step 1 ran $(runs 'touch alpha') times, want 1: $(cat runs.log)"
[ "$(runs 'touch beta')" = 1 ] || t_fail "step 2 ran $(runs 'touch beta') times, want 1: $(cat runs.log)"
# in order
[ "$(grep -n 'touch alpha' runs.log | cut -d: -f1)" -lt "$(grep -n 'touch beta' runs.log | cut -d: -f1)" ] ||
  t_fail "steps out of order: $(cat runs.log)"
grep -q "check alpha" runs.log.checks || t_fail "the action's own check never ran"

# The ledger: two finished rows with argv, exit 0 and output.
ctl --json ledger "$id" >ledger.json || t_fail "opsbotctl ledger: $(cat ledger.json)"
[ "$(jq -r '[.items[] | .state] | join(",")' ledger.json)" = "finished,finished" ] ||
  t_fail "ledger states: got $(jq -c '[.items[] | .state]' ledger.json) want finished,finished"
[ "$(jq -c '.items[0].argv' ledger.json)" = '["scripts/actions/touch.sh","alpha"]' ] ||
  t_fail "ledger argv: got $(jq -c '.items[0].argv' ledger.json)"
[ "$(jq -r '.items[0].output' ledger.json)" = "touched alpha" ] ||
  t_fail "ledger output: got $(jq -r '.items[0].output' ledger.json)"
ctl ledger "$id" >ledger.txt
grep -Eq "^ *1 +touch +finished +exit 0" ledger.txt || t_fail "ledger text: $(cat ledger.txt)"

ctl show "$id" >show.out
grep -Eq "action.started +step 1 touch: scripts/actions/touch.sh alpha" show.out || t_fail "show: no started step: $(grep action show.out)"
grep -Eq "action.finished +step 2 touch_again finished \(exit 0\): touched beta" show.out || t_fail "show: no finished step: $(grep action show.out)"
# Timeline: action.started before action.finished, and the resolution says verified.
[ "$(ev "$id" action.started | wc -l)" = 2 ] || t_fail "action.started events: $(ev "$id" action.started)"
[ "$(ev "$id" action.finished | jq -r .state | sort -u)" = finished ] || t_fail "action.finished: $(ev "$id" action.finished)"
ev "$id" incident.stage | jq -r .reason | grep -q "^verified: 1 check(s) passed" ||
  t_fail "resolution reason: $(ev "$id" incident.stage | jq -r .reason)"
# What the planner's learner reads: job.finished of execute (steps with action, ok) and verify (ok).
ev "$id" job.finished | jq -se 'map(select(.kind == "execute"))[0].result.steps | map(.ok and (.action|type=="string") and .started_ms > 0 and .finished_ms >= .started_ms) | all' >/dev/null ||
  t_fail "execute result not in the learner's shape: $(ev "$id" job.finished)"
ev "$id" job.finished | jq -se 'map(select(.kind == "verify"))[0].result.ok == true' >/dev/null ||
  t_fail "verify result not ok:true: $(ev "$id" job.finished)"

# The same approval sent twice at the same moment (two clicks racing): one run.
exec_plan "$T/plan.json" touch '{"name":"race"}'
exec_incident; id=$ID
hash=$(plan_hash "$id")
ctl approve "$id" --plan "$hash" >race1.out 2>&1 &
p1=$!
ctl approve "$id" --plan "$hash" >race2.out 2>&1 &
p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
[ $((r1 + r2)) = 1 ] || t_fail "racing approvals: exits $r1 and $r2, want one 0 and one 1 ($(cat race1.out race2.out))"
t_wait "incident $id resolved" eval '[ "$(state '"$id"')" = resolved ]'
[ "$(runs 'touch race')" = 1 ] || t_fail "racing approvals ran the step $(runs 'touch race') times, want 1"

# SIGHUP: the catalog is read again; a broken one is refused and the old kept.
cat >> "$T/actions.conf" <<'CONF'

[action touch_new]
description = Added while running.
run = scripts/actions/touch.sh {name}
param = name pattern [a-z]{1,10}
risk = low
idempotent = yes
env = RUNS_LOG
CONF
kill -HUP "$PID_exec"
t_wait "opsbot-exec reloaded the catalog" grep -q "event=catalog_reloaded actions=11" "$T/exec.log"
exec_plan "$T/plan.json" touch_new '{"name":"fresh"}'
exec_incident; id=$ID
ctl dryrun "$id" >dry.out || t_fail "dry run after reload: $(cat dry.out)"
grep -q "step 1 touch_new: scripts/actions/touch.sh fresh" dry.out || t_fail "dry run after reload: $(cat dry.out)"
echo "[action broken" >> "$T/actions.conf"
kill -HUP "$PID_exec"
t_wait "a broken catalog is refused on reload" grep -q "event=reload_failed" "$T/exec.log"
ctl dryrun "$id" >dry2.out || t_fail "dry run after a refused reload: $(cat dry2.out)"
echo "ok exec_e2e"
