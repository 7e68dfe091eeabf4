#!/usr/bin/env bash
# exec_safety.sh: what opsbot-exec refuses and how it contains what it runs.
#  - a timeout ends the whole process group: SIGTERM, then SIGKILL for what
#    ignores it, and a child left behind by a program that did exit;
#  - parameter injection (; rm -rf /, $(...), backticks, newlines, overlong
#    values, leading -, unknown names or actions) is refused by the type
#    checks before anything starts, and is recorded as refused;
#  - the environment holds PATH and what the catalog names, nothing else,
#    and secret values are redacted from what is stored and shown;
#  - cooldowns are judged again at run time;
#  - a dry run shows the exact argv and runs nothing.
D=$(cd "$(dirname "$0")" && pwd)
. "$D/../lib.sh"
. "$D/runtime_lib.sh"
. "$D/exec_lib.sh"
exec_t_setup
exec_setup "max_rounds = 1"
exec_start_queue
t_start exec env EXEC_TEST_TOKEN=s3cr3t-value-4242 EXEC_TEST_PLAIN=visible-value \
  EXEC_TEST_OTHER=never-passed SLACK_BOT_TOKEN=xoxb-1111-2222-abcdefabcdef \
  opsbot-exec -c "$T/opsbot.conf"
alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ]; }
approve() { ctl approve "$1" --plan "$(plan_hash "$1")" >/dev/null || t_fail "approve $1"; }

# --- timeout: SIGTERM ignored, so SIGKILL; the child in the group dies too.
exec_plan "$T/plan.json" stubborn '{}'
exec_incident; id=$ID
approve "$id"
t_wait "stubborn started" test -s "$T/runs.log.child"
leader=$(cat "$T/runs.log.leader"); child=$(cat "$T/runs.log.child")
t_wait "incident $id failed after the timeout" eval '[ "$(state '"$id"')" = failed ]'
t_wait "leader $leader gone" eval '! alive '"$leader"
t_wait "child $child gone" eval '! alive '"$child"
row=$(ctl --json ledger "$id" | jq -c '.items[0]')
[ "$(jq -r .state <<<"$row")" = failed ] || t_fail "timed-out step: $row"
[ "$(jq -r .exit <<<"$row")" = 137 ] || t_fail "timed-out step exit: got $(jq -r .exit <<<"$row") want 137 (SIGKILL)"
jq -r .output <<<"$row" | grep -q "timed out after 1s: the process group got SIGTERM, then SIGKILL" ||
  t_fail "timeout not explained: $row"
ev "$id" incident.stage | jq -r .reason | tail -1 | grep -q "not fixed after 1 round(s): the actions did not all run" ||
  t_fail "failure reason: $(ev "$id" incident.stage | jq -r .reason | tail -1)"

# --- a program that ends on SIGTERM but leaves a child ignoring it: the child is killed too.
exec_plan "$T/plan.json" polite '{}'
exec_incident; id=$ID
approve "$id"
t_wait "polite's child recorded" test -s "$T/runs.log.pchild"
pchild=$(cat "$T/runs.log.pchild")
t_wait "incident $id failed after the timeout" eval '[ "$(state '"$id"')" = failed ]'
t_wait "the left-behind child $pchild is gone" eval '! alive '"$pchild"
[ "$(ctl --json ledger "$id" | jq -r '.items[0].exit')" = 143 ] || t_fail "polite exit: $(ctl --json ledger "$id" | jq -c '.items[0]')"

# --- injection: every one refused by the type check, none reaches a process.
before=$(wc -l < "$T/runs.log")
n=0
for bad in '; rm -rf /' '$(touch /tmp/pwned-exec)' '`touch /tmp/pwned-exec`' $'ok\nrm -rf /' \
  "$(printf 'a%.0s' $(seq 300))" '-rf' '--help' 'a b' ''; do
  n=$((n + 1))
  exec_plan "$T/plan.json" touch "$(jq -cn --arg v "$bad" '{name:$v}')"
  exec_incident; id=$ID
  # Dry run first: it names the refusal and runs nothing.
  ctl dryrun "$id" >dry.out 2>&1 && t_fail "dry run of $(printf %q "$bad") was accepted: $(cat dry.out)"
  grep -q "refused: .*name" dry.out || t_fail "dry run of $(printf %q "$bad"): $(cat dry.out)"
  approve "$id"
  t_wait "incident $id failed ($n)" eval '[ "$(state '"$id"')" = failed ]'
  row=$(ctl --json ledger "$id" | jq -c '.items[0]')
  [ "$(jq -r .state <<<"$row")" = refused ] || t_fail "injection $(printf %q "$bad"): row $row"
  jq -r .output <<<"$row" | grep -q "refused by the catalog's type check: name" ||
    t_fail "injection $(printf %q "$bad"): reason $(jq -r .output <<<"$row")"
  [ "$(jq -c .argv <<<"$row")" = "[]" ] || t_fail "a refused step has an argv: $row"
done
# An action outside the catalog: the queue refuses to approve it, opsbot-exec
# would refuse it too (dry run).
exec_plan "$T/plan.json" rm '{"path":"/"}'
exec_incident; id=$ID
ctl dryrun "$id" >dry.out 2>&1 && t_fail "dry run of rm accepted: $(cat dry.out)"
grep -q "step 1 rm: refused: not in the action catalog" dry.out || t_fail "dry run of rm: $(cat dry.out)"
ctl approve "$id" --plan "$(plan_hash "$id")" >appr.out 2>&1 && t_fail "a plan naming rm was approved"
grep -q "not in the action catalog" appr.out || t_fail "approve of rm: $(cat appr.out)"
# Unknown parameter, wrong type for an int, leading '-' in a free-text pattern.
for spec in 'touch {"name":"ok","extra":"x"}' 'args {"word":"hello","n":"1"}' \
  'args {"word":"-x","n":1}' 'args {"word":"hello","n":9}' 'args {"word":"hello","n":1,"mode":"c"}'; do
  exec_plan "$T/plan.json" ${spec%% *} "${spec#* }"
  exec_incident; id=$ID
  approve "$id"
  t_wait "incident $id failed ($spec)" eval '[ "$(state '"$id"')" = failed ]'
  [ "$(ctl --json ledger "$id" | jq -r '.items[0].state')" = refused ] || t_fail "$spec: $(ctl --json ledger "$id")"
done
[ "$(wc -l < "$T/runs.log")" = "$before" ] || t_fail "a refused step ran: $(tail -3 "$T/runs.log")"
[ ! -e /tmp/pwned-exec ] || t_fail "/tmp/pwned-exec exists: something reached a shell"

# --- one value, one argument: blanks and punctuation the pattern allows stay inside it.
exec_plan "$T/plan.json" args '{"word":"two words, one arg","n":3}'
exec_incident; id=$ID
ctl dryrun "$id" >dry.out || t_fail "dry run: $(cat dry.out)"
grep -q "step 1 args: scripts/actions/argv.sh two words, one arg --count 3 a" dry.out || t_fail "dry run argv: $(cat dry.out)"
[ "$(ctl --json dryrun "$id" | jq -c '.steps[0].argv')" = '["scripts/actions/argv.sh","two words, one arg","--count","3","a"]' ] ||
  t_fail "dry run --json argv: $(ctl --json dryrun "$id" | jq -c .steps)"
[ "$(runs argv)" = 0 ] || t_fail "a dry run ran something"
[ "$(ctl --json ledger "$id" | jq '.items | length')" = 0 ] || t_fail "a dry run wrote the ledger"
approve "$id"
t_wait "incident $id resolved" eval '[ "$(state '"$id"')" = resolved ]'
[ "$(ctl --json ledger "$id" | jq -r '.items[0].output')" = "$(printf '[two words, one arg]\n[--count]\n[3]\n[a]')" ] ||
  t_fail "argv as the program saw it: $(ctl --json ledger "$id" | jq -r '.items[0].output')"

# --- environment: PATH and the named variables only; secrets redacted everywhere.
exec_plan "$T/plan.json" envdump '{}'
exec_incident; id=$ID
approve "$id"
t_wait "incident $id resolved" eval '[ "$(state '"$id"')" = resolved ]'
out=$(ctl --json ledger "$id" | jq -r '.items[0].output')
names=$(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' <<<"$out" | grep -v '^PWD$' | sort | tr '\n' ' ')
[ "$names" = "EXEC_TEST_PLAIN EXEC_TEST_TOKEN PATH RUNS_LOG " ] || t_fail "environment names: got '$names'"
grep -qx "EXEC_TEST_PLAIN=visible-value" <<<"$out" || t_fail "plain variable: $out"
grep -qx "EXEC_TEST_TOKEN=\[redacted\]" <<<"$out" || t_fail "secret variable not redacted: $out"
grep -qx "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" <<<"$out" || t_fail "PATH: $out"
ctl --json show "$id" | grep -q "s3cr3t-value-4242" && t_fail "the secret reached the timeline"
grep -rq "s3cr3t-value-4242" "$T/var/" && t_fail "the secret reached the database"
grep -q "s3cr3t-value-4242" "$T/exec.log" && t_fail "the secret reached the log"

# --- cooldown: judged again when the step would start.
exec_plan "$T/plan.json" cool '{"name":"db1"}'
exec_incident; id=$ID
approve "$id"
t_wait "incident $id resolved" eval '[ "$(state '"$id"')" = resolved ]'
exec_incident; id2=$ID
approve "$id2"
t_wait "incident $id2 failed" eval '[ "$(state '"$id2"')" = failed ]'
ctl --json ledger "$id2" | jq -r '.items[0].output' | grep -q "refused by the cooldown: cool last ran on name=db1" ||
  t_fail "cooldown: $(ctl --json ledger "$id2" | jq -c '.items[0]')"
[ "$(runs 'touch db1')" = 1 ] || t_fail "cooldown: ran $(runs 'touch db1') times, want 1"
echo "ok exec_safety"
