#!/usr/bin/env bash
# exec_crash.sh: opsbot-exec SIGKILLed in the middle of a step.  A step that
# is not idempotent never runs twice on its own: the queue holds the job and
# asks (action.unknown: "step 1 may or may not have run: Retry / Skip /
# Abort"); retry runs it again, skip goes on, abort fails the incident; an
# answer is taken once.  An idempotent step runs again by itself.
D=$(cd "$(dirname "$0")" && pwd)
. "$D/../lib.sh"
. "$D/runtime_lib.sh"
. "$D/exec_lib.sh"
exec_t_setup
exec_setup
exec_start
# Orphaned action processes (their executor was killed) are ours to clean up.
trap 't_cleanup_orphans; t_cleanup' EXIT
t_cleanup_orphans() { local p; for p in $(cat "$T/runs.log.pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done; }

# crash NAME: approve the current incident and SIGKILL the executor while step 1 runs.
crash_mid_step() {
  local id=$1 name=$2
  ctl approve "$id" --plan "$(plan_hash "$id")" >/dev/null || t_fail "approve $id"
  t_wait "step 1 of $id started" eval '[ "$(runs "slow $name")" -ge 1 ]'
  kill -9 "$PID_exec"
  wait "$PID_exec" 2>/dev/null
  t_start exec opsbot-exec -c "$T/opsbot.conf"
}

# 1. Not idempotent, answer skip.
exec_plan "$T/plan.json" slow '{"name":"one"}' touch_again '{"name":"after-one"}'
exec_incident; id=$ID
crash_mid_step "$id" one
t_wait "incident $id asks about step 1" eval '[ -n "$(ev '"$id"' action.unknown)" ]'
q=$(ev "$id" action.unknown | jq -r .question)
[ "$q" = "step 1 (slow) may or may not have run: Retry / Skip / Abort" ] || t_fail "question: got '$q'"
[ "$(ev "$id" action.unknown | jq -c .choices)" = '["retry","skip","abort"]' ] || t_fail "choices: $(ev "$id" action.unknown)"
[ "$(ev "$id" action.unknown | jq -r .step_key)" != null ] || t_fail "no step_key in the event"
[ "$(state "$id")" = executing ] || t_fail "state while asking: $(state "$id")"
# Nothing runs twice while nobody answers (the job is held, not retried).
[ "$(ctl --json show "$id" | jq -r .incident.job.state)" = held ] || t_fail "job not held: $(ctl --json show "$id" | jq -c .incident.job)"
[ "$(runs 'slow one')" = 1 ] || t_fail "step 1 ran $(runs 'slow one') times before an answer, want 1"
ctl ledger "$id" | grep -q "opsbotctl step $id 1 retry|skip|abort" || t_fail "ledger does not say how to answer: $(ctl ledger "$id")"
ctl show "$id" | grep -q "action.unknown .*step 1 slow: step 1 (slow) may or may not have run: Retry / Skip / Abort; answer with: opsbotctl step $id 1 retry|skip|abort" ||
  t_fail "show does not ask: $(ctl show "$id" | grep action)"
ctl step "$id" 1 skip >skip.out || t_fail "step skip: $(cat skip.out)"
grep -q "step 1: skip recorded" skip.out || t_fail "skip: got $(cat skip.out)"
t_wait "incident $id resolved after skip" eval '[ "$(state '"$id"')" = resolved ]'
[ "$(runs 'slow one')" = 1 ] || t_fail "skipped step ran again: $(runs 'slow one')"
[ "$(runs 'touch after-one')" = 1 ] || t_fail "step 2 after skip ran $(runs 'touch after-one') times, want 1"
[ "$(ev "$id" action.decided | jq -r '[.decision,.surface]|join(",")')" = "skip,cli" ] ||
  t_fail "action.decided: $(ev "$id" action.decided)"
# A second answer changes nothing.
ctl step "$id" 1 retry >again.out 2>&1 && t_fail "a second answer was taken: $(cat again.out)"

# 2. Not idempotent, answer retry (twice: the second click is refused), then it finishes.
exec_plan "$T/plan.json" slow '{"name":"two"}'
exec_incident; id=$ID
crash_mid_step "$id" two
t_wait "incident $id asks" eval '[ -n "$(ev '"$id"' action.unknown)" ]'
key=$(ev "$id" action.unknown | jq -r .step_key)
r1=$(rpc ledger "{\"op\":\"decide\",\"step_key\":\"$key\",\"decision\":\"retry\",\"user\":\"U0BOB\",\"surface\":\"slack\",\"key\":\"click-1\"}" "$id")
[ "$(jq -r .ok <<<"$r1")" = true ] || t_fail "decide retry: $r1"
r2=$(rpc ledger "{\"op\":\"decide\",\"step_key\":\"$key\",\"decision\":\"retry\",\"user\":\"U0BOB\",\"surface\":\"slack\",\"key\":\"click-1\"}" "$id")
[ "$(jq -r .duplicate <<<"$r2")" = true ] || t_fail "the same click again: $r2"
r3=$(rpc ledger "{\"op\":\"decide\",\"step_key\":\"$key\",\"decision\":\"abort\",\"user\":\"200000000000000003\",\"surface\":\"discord\"}" "$id")
[ "$(jq -r .error <<<"$r3")" = wrong_state ] || t_fail "a different answer after retry: $r3"
# A step of another incident cannot be answered through this one.
r4=$(rpc ledger "{\"op\":\"decide\",\"step_key\":\"$key\",\"decision\":\"skip\",\"user\":\"U0BOB\",\"surface\":\"slack\"}" 1)
[ "$(jq -r .error <<<"$r4")" = not_found ] || t_fail "cross-incident answer: $r4"
t_wait "step 1 of $id runs again after retry" eval '[ "$(runs "slow two")" = 2 ]'
touch "$T/runs.log.go.two"
t_wait "incident $id resolved after retry" eval '[ "$(state '"$id"')" = resolved ]'
[ "$(runs 'slow two')" = 2 ] || t_fail "retry: step ran $(runs 'slow two') times, want 2 (once, then once on retry)"
[ "$(ctl --json ledger "$id" | jq -r '.items[0] | "\(.state) \(.attempts) \(.decision)"')" = "finished 2 retry" ] ||
  t_fail "ledger after retry: $(ctl --json ledger "$id" | jq -c '.items[0]')"
[ "$(ev "$id" action.unknown | wc -l)" = 1 ] || t_fail "asked more than once: $(ev "$id" action.unknown)"

# 3. Not idempotent, answer abort: the incident fails saying why; nothing more runs.
exec_plan "$T/plan.json" slow '{"name":"three"}' touch_again '{"name":"after-three"}'
exec_incident; id=$ID
crash_mid_step "$id" three
t_wait "incident $id asks" eval '[ -n "$(ev '"$id"' action.unknown)" ]'
ctl step "$id" 1 abort >abort.out || t_fail "abort: $(cat abort.out)"
[ "$(state "$id")" = failed ] || t_fail "after abort: state $(state "$id") want failed"
ev "$id" incident.stage | jq -r .reason | grep -q "aborted by .*: step 1 (slow) may or may not have run" ||
  t_fail "abort reason: $(ev "$id" incident.stage | jq -r .reason)"
[ "$(ctl --json show "$id" | jq -r .incident.job)" = null ] || t_fail "a job is left after abort: $(ctl --json show "$id" | jq -c .incident.job)"
[ "$(runs 'touch after-three')" = 0 ] || t_fail "a step ran after abort"

# 4. Idempotent: it runs again by itself, nobody is asked.
exec_plan "$T/plan.json" slow_idem '{"name":"four"}'
exec_incident; id=$ID
crash_mid_step "$id" four
t_wait "idempotent step 1 of $id runs again" eval '[ "$(runs "slow four")" = 2 ]'
touch "$T/runs.log.go.four"
t_wait "incident $id resolved" eval '[ "$(state '"$id"')" = resolved ]'
[ -z "$(ev "$id" action.unknown)" ] || t_fail "asked about an idempotent step: $(ev "$id" action.unknown)"
echo "ok exec_crash"
