#!/usr/bin/env bash
# access_approvals.sh: the queue is the one judge of approvals, end to end
# with a real opsbot-queue, opsbotctl and raw requests (wirecat):
#   - a local account not in the policy is refused at opsbotctl (the
#     account running the test, and, when run as root, other uids reaching
#     the socket through [queue] socket_group, identified by SO_PEERCRED);
#   - unauthorized chat users are refused, for approve and reject alike;
#   - two distinct people for a high-risk step, one person's Slack and
#     Discord accounts count once, the same click delivered twice counts once;
#   - the requester may not approve (on any surface) but may reject;
#   - each rule's expiry (2s here, while [pipeline] says 30m);
#   - a stale plan hash and a button pressed on another incident's message
#     are refused;
#   - every decision and refusal is in `opsbotctl show` with the identity.
# Plans are completed by hand through the queue protocol, so each incident
# gets exactly the plan its case needs.
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/../lib.sh"
t_setup
ME=$(id -un)
QURL="ipc://$T/var/run/q.ipc"
AS_ROOT=0
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && getent group nogroup >/dev/null &&
  getent passwd nobody >/dev/null && getent passwd daemon >/dev/null; then
  AS_ROOT=1
fi

cat > policy.conf <<'CONF'
[policy]
auto_risk = low
approvers = ops
requester_may_approve = yes
approval_expiry = 30m
[person al]
slack = UAL
discord = 10000001
[person bo]
slack = UBO
[person cy]
slack = UCY
[person dd]
slack = UDD
[person nb]
unix = nobody
[group ops]
members = al, bo, cy, dd, nb
[group leads]
members = al, bo, cy, nb
[approval high]
approvers = leads
distinct_approvers = 2
requester_may_approve = no
approval_expiry = 30m
[approval drain_node]
distinct_approvers = 1
approval_expiry = 2s
CONF
{
  echo "[queue]"
  echo "listen = $QURL"
  echo "events = ipc://$T/var/run/ev.ipc"
  echo "db = $T/var/q.db"
  echo "policy = $T/policy.conf"
  echo "catalog = $REPO/config/actions.conf"
  [ $AS_ROOT = 1 ] && echo "socket_group = nogroup"
  echo "[pipeline]"
  echo "stages = plan execute verify"
  echo "approval_expiry = 30m"
} > opsbot.conf
ctl() { opsbotctl -c "$T/opsbot.conf" "$@"; }
raw() { wirecat -t 5000 "$QURL" "$1"; }
jq_is() { [ "$(echo "$1" | jq -r "$2")" = "$3" ]; }
state_is() { [ "$(ctl show "$1" | awk '$1 == "state:" { print $2; exit }')" = "$2" ]; }

t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue answers" raw '{"type":"query","what":"stats"}'
grep -q 'event=policy_loaded' queue.log || t_fail "the queue did not load the policy"

# plan ID STEPS HASH: complete incident ID's plan job with these steps.
plan() {
  local c job lease
  c=$(raw '{"type":"claim","kinds":["plan"],"worker":"t","wait_ms":3000}') || t_fail "claim plan: $c"
  [ "$(echo "$c" | jq -r .job.incident)" = "$1" ] || t_fail "plan job for $1: got $c"
  job=$(echo "$c" | jq .job.id); lease=$(echo "$c" | jq -r .job.lease)
  raw "{\"type\":\"complete\",\"job\":$job,\"lease\":\"$lease\",\"result\":{\"plan\":{\"id\":\"p$1\",\"hash\":\"$3\",\"steps\":$2},\"needs_approval\":true,\"summary\":\"test plan\"}}" >/dev/null ||
    t_fail "complete plan of $1"
  t_wait "incident $1 awaiting approval" state_is "$1" awaiting_approval
}
HIGH='[{"action":"rollback_deploy","params":{"service":"checkout"},"approval":"required"},{"action":"clear_cache","params":{}}]'
DRAIN='[{"action":"drain_node","params":{"node":"n1"},"approval":"required"}]'

# --- who am I: the socket says, not a flag
ctl identity > id.out || t_fail "identity: $(cat id.out)"
grep -q "account: $ME (via ipc)" id.out || t_fail "identity: got $(cat id.out) want account $ME"
grep -q "person:  none" id.out || t_fail "identity: $ME is in no [person]: $(cat id.out)"

ctl submit --service checkout --title "bad deploy" --severity high > sub.out || t_fail "submit: $(cat sub.out)"
plan 1 "$HIGH" h1

# A local account not in the policy is refused, and --user is no identity.
ctl approve 1 --plan h1 > a.out 2>&1; rc=$?
[ $rc = 1 ] || t_fail "approve by $ME (not in policy): exit $rc want 1 ($(cat a.out))"
grep -q "local account $ME is not a person in the approval policy" a.out || t_fail "refusal: $(cat a.out)"
ctl approve 1 --plan h1 --user al > a.out 2>&1; rc=$?
[ $rc = 2 ] && grep -q -- "--user is gone" a.out || t_fail "--user: exit $rc: $(cat a.out)"

# Unauthorized chat users: not in policy, or in policy but not a lead.
ctl approve 1 --plan h1 --as slack:UZZ > a.out 2>&1 && t_fail "UZZ approved: $(cat a.out)"
grep -q "slack UZZ is not a person in the approval policy" a.out || t_fail "UZZ: $(cat a.out)"
ctl approve 1 --plan h1 --as slack:UDD > a.out 2>&1 && t_fail "dd approved: $(cat a.out)"
grep -q "dd is not an approver for rollback_deploy (rule approval high)" a.out || t_fail "dd: $(cat a.out)"
ctl reject 1 --plan h1 --as slack:UDD > a.out 2>&1 && t_fail "dd rejected: $(cat a.out)"

# Stale plan, and a button of incident 1 pressed on incident 2's message.
ctl approve 1 --plan h0 --as slack:UAL > a.out 2>&1 && t_fail "stale hash approved"
grep -q "plan changed" a.out || t_fail "stale: $(cat a.out)"
r=$(raw '{"type":"approve","incident":1,"plan":"h1","user":"UAL","surface":"slack","decision":"approve","message_incident":2}')
jq_is "$r" .error wrong_incident || t_fail "cross-incident click: got $r"

# The same click twice counts once; the same person on Discord is refused.
click='{"type":"approve","incident":1,"plan":"h1","user":"UAL","surface":"slack","decision":"approve","key":"slack-action-1"}'
r=$(raw "$click"); jq_is "$r" '"\(.have) \(.need) \(.state)"' "1 2 awaiting_approval" || t_fail "first click: $r"
r=$(raw "$click"); jq_is "$r" .duplicate true || t_fail "repeated click: $r"
ctl approve 1 --plan h1 --as discord:10000001 > a.out 2>&1 && t_fail "al counted twice"
grep -q "al already approved this plan; it needs 2 different people (1 so far)" a.out || t_fail "al twice: $(cat a.out)"
state_is 1 awaiting_approval || t_fail "one person's clicks moved the incident"

ctl approve 1 --plan h1 --as slack:UBO > a.out 2>&1 || t_fail "bo: $(cat a.out)"
grep -q "approved: incident 1 is now executing" a.out || t_fail "bo: $(cat a.out)"

ctl show 1 > show.out
for want in "plan h1: 2 step(s), needs approval: 2 people from leads, not the requester" \
  "al approved plan h1 (from slack: slack UAL = al), 1 of 2 (approval high)" \
  "bo approved plan h1 (from slack: slack UBO = bo), 2 of 2" \
  "approve by local account $ME (not in policy) on plan h1 refused (forbidden)" \
  "approve by slack UDD = dd on plan h1 refused (forbidden)" \
  "reject by slack UDD = dd on plan h1 refused (forbidden)" \
  "approve by slack UAL = al on plan h0 refused (plan_changed)" \
  "refused (wrong_incident)" "refused (already_approved)" \
  "awaiting_approval -> executing (approved by al and bo (2 of 2, approval high))"; do
  grep -qF -- "$want" show.out || t_fail "show 1: want '$want' in: $(cat show.out)"
done
[ "$(grep -c 'approval.recorded' show.out)" = 2 ] || t_fail "show 1: want 2 approvals: $(cat show.out)"

# --- the requester (al, from Slack) may not approve, not even from Discord
r=$(raw '{"type":"submit","what":"incident","spec":{"title":"t","service":"api","severity":"high","source":"slack","surface":{"kind":"slack","user":"UAL","channel":"C1"}}}')
jq_is "$r" .incident 2 || t_fail "submit 2: $r"
plan 2 "$HIGH" h2
ctl approve 2 --plan h2 --as discord:10000001 > a.out 2>&1 && t_fail "requester approved"
grep -q "al opened this incident and may not approve rollback_deploy" a.out || t_fail "requester: $(cat a.out)"
# ...but may reject, with a reason; outsiders may not.
ctl reject 2 --plan h2 --as slack:UZZ > a.out 2>&1 && t_fail "UZZ rejected"
ctl reject 2 --plan h2 --as slack:UAL --reason "wrong service" > a.out 2>&1 || t_fail "reject: $(cat a.out)"
grep -q "rejected: incident 2 is now rejected" a.out || t_fail "reject: $(cat a.out)"
ctl show 2 | grep -qF "awaiting_approval -> rejected (rejected by al: wrong service)" ||
  t_fail "show 2: $(ctl show 2)"

# --- each rule's expiry: drain_node waits 2s, not the pipeline's 30m
ctl submit --service node --title "node sick" > sub.out || t_fail "submit 3"
plan 3 "$DRAIN" h3
dl=$(ctl --json show 3 | jq '.incident.approval_deadline_ms - .incident.updated_ms')
[ "$dl" -le 2000 ] || t_fail "drain_node deadline: got ${dl}ms after the plan, want <= 2000"
t_wait "incident 3 expired by its rule" state_is 3 expired
ctl approve 3 --plan h3 --as slack:UBO > a.out 2>&1 && t_fail "approved after expiry"
grep -q "approval window for incident 3 has closed" a.out || t_fail "late click: $(cat a.out)"

# --- other local accounts, identified by the socket (needs root to switch uid)
if [ $AS_ROOT = 1 ]; then
  [ "$(stat -c %a "$T/var/run/q.ipc")" = 660 ] || t_fail "socket_group socket mode $(stat -c %a "$T/var/run/q.ipc")"
  chmod 711 "$T" "$T/var"
  chmod 644 "$T/opsbot.conf"
  as() { local u=$1; shift; setpriv --reuid="$u" --regid=nogroup --clear-groups "$@"; }
  as nobody opsbotctl -c "$T/opsbot.conf" identity > id.out 2>&1 || t_fail "nobody identity: $(cat id.out)"
  grep -q "account: nobody (via ipc)" id.out && grep -q "person:  nb" id.out && grep -q "role:    local" id.out ||
    t_fail "nobody identity: $(cat id.out)"
  ctl submit --service checkout --title "four" > sub.out || t_fail "submit 4"
  plan 4 "$HIGH" h4
  as daemon opsbotctl -c "$T/opsbot.conf" approve 4 --plan h4 > a.out 2>&1; rc=$?
  [ $rc = 1 ] && grep -q "local account daemon is not a person in the approval policy" a.out ||
    t_fail "daemon approve: exit $rc: $(cat a.out)"
  # Another account cannot speak for a chat user, nor take jobs.
  as nobody opsbotctl -c "$T/opsbot.conf" approve 4 --plan h4 --as slack:UBO > a.out 2>&1 && t_fail "nobody spoke for UBO"
  grep -q "only opsbot-bot" a.out || t_fail "nobody --as: $(cat a.out)"
  r=$(as nobody wirecat -t 3000 "$QURL" '{"type":"claim","kinds":["execute"],"worker":"x","wait_ms":0}')
  jq_is "$r" .error forbidden || t_fail "nobody claim: $r"
  as nobody opsbotctl -c "$T/opsbot.conf" approve 4 --plan h4 > a.out 2>&1 || t_fail "nobody approve: $(cat a.out)"
  grep -q "approved: 1 of 2 approvals so far (nb)" a.out || t_fail "nobody approve: $(cat a.out)"
  ctl show 4 | grep -qF "nb approved plan h4 (from cli: local account nobody = nb), 1 of 2" ||
    t_fail "show 4: $(ctl show 4)"
else
  echo "note: not root: other local accounts are covered by queue/handle_test.c only"
fi
echo ok
