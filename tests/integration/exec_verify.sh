#!/usr/bin/env bash
# exec_verify.sh: verification after the steps ran.
#  - the action's own check keeps failing: its rollback runs as its own
#    ledger step, the incident goes back to planning with the verify result
#    in the plan job's input, a second approved round runs, fails the same
#    way, rolls back again, and the incident fails saying a person must take
#    over (max_rounds = 2);
#  - a check that passes after a few tries within verify_window resolves;
#  - the symptom re-check runs the real opsbot-detect on a metrics file:
#    an anomaly that goes on after the fix fails verification, one that
#    ended before it resolves.
D=$(cd "$(dirname "$0")" && pwd)
. "$D/../lib.sh"
. "$D/runtime_lib.sh"
. "$D/exec_lib.sh"
exec_t_setup
[ -x "$OPSBOT_BIN/opsbot-detect" ] || t_skip "opsbot-detect is not built"
exec_setup "max_rounds = 2"
# A longer window than exec_setup's, and the re-check on (a key may be set once).
sed -i 's/^recheck = no$/recheck = yes/; s/^verify_window = 1s$/verify_window = 1500ms/' "$T/opsbot.conf"
cat >> "$T/opsbot.conf" <<CONF
[source m]
type = csv
path = $T/metrics.csv
service = checkout
symptom = yes
CONF
# metrics MODE: checkout latency for the last 3 h; "present": a spike that
# goes on past now; "gone": a spike that ended 30 min ago.
metrics() {
  python3 - "$1" "$T/metrics.csv" <<'PY'
import random, sys, time
mode, path = sys.argv[1], sys.argv[2]
now = int(time.time()); random.seed(7)
with open(path, "w") as f:
    f.write("time,checkout_latency\n")
    for t in range(now - 3 * 3600, now + 120, 15):
        v = 100 + random.gauss(0, 3)
        if mode == "present" and t > now - 600: v = 600 + random.gauss(0, 10)
        if mode == "gone" and now - 2400 < t < now - 1800: v = 600 + random.gauss(0, 10)
        f.write(f"{t},{v:.2f}\n")
PY
}
metrics gone
exec_start
approve() { ctl approve "$1" --plan "$(plan_hash "$1")" >/dev/null || t_fail "approve $1"; }

# --- 1. The check keeps failing: rollback, replan, a second round, then failed.
touch "$T/broken/bad"
exec_plan "$T/plan.json" touch '{"name":"bad"}'
exec_incident; id=$ID
approve "$id"
t_wait "incident $id back to planning" eval 'ev '"$id"' incident.stage | jq -r "select(.from == \"verifying\") | .to" | grep -q "^planning$"'
ev "$id" incident.stage | jq -r 'select(.from == "verifying") | .reason' | head -1 |
  grep -q "^not fixed; planning again: not fixed after round 1 of 2: check of touch failed: bad still broken; rolled back: undo finished" ||
  t_fail "replan reason: $(ev "$id" incident.stage | jq -r 'select(.from == "verifying") | .reason')"
[ "$(runs 'undo bad')" = 1 ] || t_fail "rollback ran $(runs 'undo bad') times after round 1, want 1"
[ "$(grep -c '^check bad' runs.log.checks)" -ge 3 ] || t_fail "the check was not retried: $(cat runs.log.checks)"
# The new plan job carries what was learned.
t_wait "incident $id awaits approval again" eval '[ "$(state '"$id"')" = awaiting_approval ]'
wirecat "$QURL" '{"v":1,"type":"query","id":"j","what":"jobs","limit":100}' >jobs.json
[ "$(jq '[.items[] | select(.kind == "plan" and .incident == '"$id"')] | length' jobs.json)" = 2 ] ||
  t_fail "plan jobs of $id: $(jq -c '[.items[] | select(.incident == '"$id"') | .kind]' jobs.json)"
sqlite3 "$T/var/opsbot.db" "select input from jobs where kind='plan' and incident=$id order by id desc limit 1" |
  jq -e '.verify.ok == false and (.verify.summary | test("round 1 of 2"))' >/dev/null ||
  t_fail "the replan's input has no verify result"
# Round 2 of the same plan: a new ledger step (new execute job), not "already done".
approve "$id"
t_wait "incident $id failed after round 2" eval '[ "$(state '"$id"')" = failed ]'
ev "$id" incident.stage | jq -r .reason | tail -1 |
  grep -q "^verification failed: not fixed after 2 round(s): check of touch failed: bad still broken; rolled back: undo finished; opsbot stops here, a person needs to take over" ||
  t_fail "failure reason: $(ev "$id" incident.stage | jq -r .reason | tail -1)"
[ "$(runs 'touch bad')" = 2 ] || t_fail "touch ran $(runs 'touch bad') times over 2 rounds, want 2"
[ "$(runs 'undo bad')" = 2 ] || t_fail "undo ran $(runs 'undo bad') times over 2 rounds, want 2"
[ "$(ctl --json ledger "$id" | jq -r '[.items[] | "\(.kind):\(.action):\(.state)"] | join(" ")')" = \
  "action:touch:finished rollback:undo:finished action:touch:finished rollback:undo:finished" ] ||
  t_fail "ledger: $(ctl --json ledger "$id" | jq -c '[.items[] | [.kind,.action,.state,.step_key]]')"
ctl ledger "$id" | grep -q "undo (rollback)" || t_fail "ledger text does not mark the rollback: $(ctl ledger "$id")"
# The learner's shape: verify results with ok false.
[ "$(ev "$id" job.finished | jq -r 'select(.kind == "verify") | .result.ok' | sort -u)" = false ] ||
  t_fail "verify results: $(ev "$id" job.finished | jq -c 'select(.kind == "verify") | .result')"

# --- 2. The check passes after a few tries inside the window: resolved, no rollback.
touch "$T/broken/slowfix"
exec_plan "$T/plan.json" touch '{"name":"slowfix"}'
exec_incident; id=$ID
approve "$id"
t_wait "the check of slowfix ran twice" eval '[ "$(grep -c "^check slowfix" runs.log.checks)" -ge 2 ]'
rm "$T/broken/slowfix"
t_wait "incident $id resolved" eval '[ "$(state '"$id"')" = resolved ]'
ev "$id" incident.stage | jq -r .reason | tail -1 | grep -q "^verified: 1 check(s) passed (after retries); the detector sees no anomaly after the fix" ||
  t_fail "resolution: $(ev "$id" incident.stage | jq -r .reason | tail -1)"
[ "$(runs 'undo slowfix')" = 0 ] || t_fail "a rollback ran after a passing check"

# --- 3. The symptom is still there after the fix: not verified although the check passes.
metrics present
exec_plan "$T/plan.json" touch '{"name":"ok-but-slow"}'
exec_incident; id=$ID
approve "$id"
t_wait "incident $id back to planning" eval 'ev '"$id"' incident.stage | jq -r "select(.from == \"verifying\") | .to" | grep -q "^planning$"'
ev "$id" job.finished | jq -r 'select(.kind == "verify") | .result.recheck.result' | grep -q present ||
  t_fail "recheck: $(ev "$id" job.finished | jq -c 'select(.kind == "verify") | .result.recheck')"
ev "$id" incident.stage | jq -r 'select(.from == "verifying") | .reason' |
  grep -q "the detector still sees the anomaly in checkout_latency; rolled back: undo finished" ||
  t_fail "recheck reason: $(ev "$id" incident.stage | jq -r 'select(.from == "verifying") | .reason')"
echo "ok exec_verify"
