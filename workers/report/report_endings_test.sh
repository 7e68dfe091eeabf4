#!/usr/bin/env bash
# report_endings_test.sh: every ending of an incident gets its report (PDF +
# email per route), and the PDF and the mail say which ending and why.  Real
# opsbot-queue (with policy and catalog), opsbot-report, test-worker as the
# planner, opsbotctl as a person, aiosmtpd on 127.0.0.1 with STARTTLS+AUTH.
#   1. failed:   the plan job fails for good -> "Failed: plan job ... dead-lettered"
#   2. expired:  nobody decides within the rule's 1 s -> "Expired: no decision ..."
#   3. rejected: opsbotctl reject with a reason -> "Rejected: rejected by me: ..."
#   4. resolved: a plan that needs no approval -> "Resolved: not verified ..."
# Each message is parsed with Python's email package (check_mail.py): the
# subject names the ending, the text and HTML parts say it, the attached PDF's
# "Ending" line says it; one message per ending.  opsbot-bot posts each PDF
# into the incident's thread in fake-discord, its text naming the ending.
. "$(dirname "$0")/../../tests/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || t_skip "python3-aiosmtpd is not installed"
command -v jq >/dev/null || t_skip "jq not installed"
t_setup
T_DEADLINE=${T_DEADLINE:-30}

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout key.pem -out cert.pem >/dev/null 2>&1 || t_fail "openssl could not make a certificate"
t_start smtpd $PY "$REPO/workers/report/smtpd.py" --store "$T/mail" --port-file "$T/smtpd.port" \
  --cert cert.pem --key key.pem --user opsbot --password 'pw for tests'
t_wait "smtpd listening" test -s "$T/smtpd.port"

cat > actions.conf <<'CONF'
[action calm]
description = A change people decide on at leisure.
run = scripts/actions/calm.sh
risk = medium
idempotent = yes
[action quick]
description = A change whose approval window is one second.
run = scripts/actions/quick.sh
risk = medium
idempotent = yes
CONF
cat > policy.conf <<CONF
[policy]
approvers = ops
distinct_approvers = 1
requester_may_approve = yes
approval_expiry = 30m
[approval quick]
approvers = ops
approval_expiry = 1s
[person me]
unix = $(id -un)
[group ops]
members = me
CONF
cat > opsbot.conf <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
max_attempts = 2
retry_base = 100ms
policy = $T/policy.conf
catalog = $T/actions.conf
[pipeline]
stages = plan report
[test-worker]
lease = 2s
claim_wait = 200ms
[report]
dir = $T/var/reports
db = $T/var/report.db
templates = $REPO/templates/email
claim_wait = 200ms
# a claim whose reply is lost while the machine stalls holds its job for the
# lease; keep that short so the test does not wait 30 s for the redelivery
lease = 3s
[email]
smtp = 127.0.0.1:$(cat smtpd.port)
from = opsbot <opsbot@ops.example>
starttls = required
ca_file = $T/cert.pem
user = opsbot
timeout = 5s
route = oncall@ops.example service=checkout
CONF
export OPSBOT_SMTP_PASSWORD='pw for tests'
ctl() { opsbotctl -c opsbot.conf "$@"; }
t_start queue opsbot-queue -c opsbot.conf
t_wait "queue answers" ctl incidents
t_start report opsbot-report -c opsbot.conf
# the chat side: opsbot-bot's Discord surface and upload against fake-discord
. "$REPO/tests/integration/discord_env.sh"
d_fake --heartbeat-ms 5000
d_bot
t_wait "gateway connected" d_connected
thread_of() { # incident -> its Discord thread (the parent message's id)
  d_msgs ops | jq -r --arg t "Incident #$1:" \
    '[.[] | select((.embeds | length) > 0 and (.embeds[0].title | startswith($t)))][0].id // empty'
}
pdf_posts() { # incident -> the texts of messages with a file in its thread
  local th; th=$(thread_of "$1")
  [ -n "$th" ] && d_msgs "$th" | jq -r '.[] | select((.attachments | length) > 0) | .content'
}
state() { ctl --json show "$1" | jq -r .incident.state; }
mails_for() { grep -l -- "X-Opsbot-Incident: $1" "$T"/mail/*.eml 2>/dev/null; }
planner() { # RESULT-JSON (or "fail"): a fresh planner for the next incident
  if [ -n "${PID_plan:-}" ]; then kill -TERM "$PID_plan" 2>/dev/null; wait "$PID_plan" 2>/dev/null; fi
  if [ "$1" = fail ]; then
    t_start plan test-worker -c opsbot.conf --kind plan --fail-times 9 --permanent
  else
    printf '%s' "$1" > plan.json
    t_start plan test-worker -c opsbot.conf --kind plan --result-file "$T/plan.json"
  fi
}
plan_of() { # ACTION NEEDS_APPROVAL
  jq -cn --arg a "$1" --argjson n "$2" --arg h "h-$1-$RANDOM" \
    '{plan:{id:"p1", hash:$h, planner:"test-worker", steps:[{action:$a, params:{}, risk:"medium",
      rationale:"test plan", citations:[], approval:"required"}], notes:[]},
      needs_approval:$n, summary:"test worker plan"}'
}
submit() { # TITLE -> incident id
  ctl submit --service checkout --severity high --title "$1" > submit.out || t_fail "submit: $(cat submit.out)"
  sed -n 's/^incident \([0-9]*\) opened.*/\1/p' submit.out
}
check() { # ID ENDING(state) TEXT: one mail, and it says the ending and why
  local id=$1 st=$2 text=$3 m
  t_wait "the mail for incident $id ($st)" eval '[ -n "$(mails_for '"$id"')" ]'
  m=$(mails_for "$id")
  [ "$(wc -l <<<"$m")" = 1 ] || t_fail "incident $id mailed $(wc -l <<<"$m") times"
  $PY "$REPO/workers/report/check_mail.py" "$m" --to oncall@ops.example \
    --subject-has "#$id $st:" --text "$text" --html "$text" --pdf-text "Ending" \
    --pdf-text "state: $st" >/dev/null || t_fail "incident $id's mail does not say $st: $text"
  pdftotext "$T/var/reports/incident-$id.pdf" - | tr '\n' ' ' | grep -qF "${text:0:40}" ||
    t_fail "incident $id's PDF lacks '${text:0:40}'"
}

# 1. failed
planner fail
id1=$(submit "planner gives up")
t_wait "incident $id1 failed" eval '[ "$(state '"$id1"')" = failed ]'
check "$id1" failed "Failed: plan job"
$PY "$REPO/workers/report/check_mail.py" "$(mails_for "$id1")" --text "opsbot stopped working on it" \
  >/dev/null || t_fail "the failed mail does not say what happens next"

# 2. expired
planner "$(plan_of quick true)"
id2=$(submit "nobody answers")
t_wait "incident $id2 expired" eval '[ "$(state '"$id2"')" = expired ]'
check "$id2" expired "Expired: no decision before the approval deadline."

# 3. rejected
planner "$(plan_of calm true)"
id3=$(submit "too risky now")
t_wait "incident $id3 awaits approval" eval '[ "$(state '"$id3"')" = awaiting_approval ]'
hash=$(ctl --json show "$id3" | jq -r .incident.results.plan.plan.hash)
ctl reject "$id3" --plan "$hash" --reason "too risky at peak" >/dev/null || t_fail "reject $id3"
[ "$(state "$id3")" = rejected ] || t_fail "incident $id3 is $(state "$id3")"
check "$id3" rejected "Rejected: rejected by me: too risky at peak."

# 4. resolved
planner "$(plan_of calm false)"
id4=$(submit "nothing to approve")
t_wait "incident $id4 resolved" eval '[ "$(state '"$id4"')" = resolved ]'
check "$id4" resolved "Resolved: no enabled stage left; not verified."

# each report job's result names the ending for the chat upload's text
for i in "$id1:failed" "$id2:expired" "$id3:rejected" "$id4:resolved"; do
  t_wait "report of ${i%%:*} done" eval \
    '[ "$(ctl --json show '"${i%%:*}"' | jq -r ".incident.results.report.state // empty")" = "'"${i#*:}"'" ]'
done
[ "$(ls "$T"/mail/*.eml | wc -l)" = 4 ] || t_fail "$(ls "$T"/mail/*.eml | wc -l) messages, want 4"
# and each summary is posted into the incident's Discord thread, saying the ending
for i in "$id1:, failed (PDF" "$id2:, expired (PDF" "$id3:, rejected (PDF" "$id4: (PDF"; do
  n=${i%%:*} want="Summary of incident $n${i#*:}"
  t_wait "incident $n's PDF in its thread" eval '[ -n "$(pdf_posts '"$n"')" ]'
  grep -qF "$want" <<<"$(pdf_posts "$n")" || t_fail "incident $n's file post: '$(pdf_posts "$n")', want '$want'"
  [ "$(pdf_posts "$n" | wc -l)" = 1 ] || t_fail "incident $n's PDF posted $(pdf_posts "$n" | wc -l) times"
done
echo "ok: every ending reported"
