#!/usr/bin/env bash
# report_mail_test.sh: opsbot-report's email against a real SMTP server on
# 127.0.0.1 (aiosmtpd, STARTTLS with a certificate made here, AUTH).
#  1. a resolved incident -> report job -> PDF + one email job -> the
#     server stores one message: multipart/mixed{alternative{plain, html},
#     PDF}, Date, Message-ID, encoded-word Subject, the PDF's text;
#     routing: only the routes for this service/severity get it.
#  2. SMTP down -> the email job is retried (job.retry) -> server back on
#     the same port -> delivered exactly once.
#  3. the window after 250: the queue dies before the completion, the
#     worker dies after recording the 250; both restart -> the job runs
#     again and completes without sending (one message, not two).
#  4. restart of the worker -> nothing is sent again; the hourly digest
#     is submitted once per period across the restart.
#  5. a relay whose certificate is not trusted gets neither mail nor password.
. "$(dirname "$0")/../../tests/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || t_skip "python3-aiosmtpd is not installed"
t_setup
T_DEADLINE=${T_DEADLINE:-30}

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout key.pem -out cert.pem >/dev/null 2>&1 || t_fail "openssl could not make a certificate"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other" \
  -keyout other-key.pem -out other.pem >/dev/null 2>&1 || t_fail "openssl (second cert)"

smtp_start() { # smtp_start NAME PORT [extra args]
  local name=$1 port=$2; shift 2
  rm -f "$T/$name.port"
  t_start "$name" $PY "$REPO/workers/report/smtpd.py" --store "$T/mail" --port-file "$T/$name.port" \
    --port "$port" --cert cert.pem --key key.pem --user opsbot --password 's3cret pass' \
    --slow-file "$T/slow" "$@"
  t_wait "smtpd $name listening" test -s "$T/$name.port"
}
smtp_start smtpd 0
SPORT=$(cat smtpd.port)

write_conf() { # write_conf CA_FILE [EXTRA [email] LINES]
  cat > opsbot.conf <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
lease = 1s
retry_base = 200ms
max_attempts = 2
[pipeline]
stages = report
[report]
dir = $T/var/reports
db = $T/var/report.db
templates = $REPO/templates/email
digests = hourly
digest_check = 200ms
lease = 1s
claim_wait = 200ms
[email]
smtp = 127.0.0.1:$SPORT
from = opsbot <opsbot@ops.example>
starttls = required
ca_file = $1
user = opsbot
timeout = 5s
route = oncall@ops.example,lead@ops.example service=checkout,payment severity=critical,high
route = db-team@ops.example service=db
route = boss@ops.example when=hourly
${2:-}
CONF
}
write_conf "$T/cert.pem"
export OPSBOT_SMTP_PASSWORD='s3cret pass'
ctl() { opsbotctl -c opsbot.conf "$@"; }
qstart() { t_start queue opsbot-queue -c opsbot.conf; t_wait "queue answers" ctl incidents; }
wstart() { t_start report opsbot-report -c opsbot.conf; }
qstart
wstart

nmail() { ls "$T"/mail/*.eml 2>/dev/null | wc -l; }
mail_with() { grep -l -- "$1" "$T"/mail/*.eml 2>/dev/null | head -1; }

# --- 1. a resolved incident is mailed with its PDF ---------------------------
TITLE='Checkout p99 über 2s — Kasse langsam 🛒 and a long tail of words to fold the subject'
ctl submit --service checkout --severity high --title "$TITLE" --summary "customers wait" >s1.out ||
  t_fail "submit: $(cat s1.out)"
t_wait "a message for incident 1" eval '[ -n "$(mail_with "X-Opsbot-Incident: 1")" ]'
m1=$(mail_with "X-Opsbot-Incident: 1")
mid1=$($PY "$REPO/workers/report/check_mail.py" "$m1" \
  --subject "[opsbot] #1 resolved: $TITLE (checkout, high)" --to oncall@ops.example \
  --text "Incident 1: $TITLE" --text "Actions:" --html "Incident 1:" \
  --pdf-text "Incident 1:" --pdf-text "Root-cause ranking" --pdf-text "Timeline" \
  --pdf-text "page 1 of") || t_fail "message 1 does not check out"
grep -q '=?UTF-8?B?' "$m1" || t_fail "the subject is not an encoded word"
[ "$(sort "${m1%.eml}.rcpt" | tr '\n' ' ')" = "lead@ops.example oncall@ops.example " ] ||
  t_fail "recipients of 1: got $(cat "${m1%.eml}.rcpt")"
[ -s var/reports/incident-1.pdf ] || t_fail "no var/reports/incident-1.pdf"
t_wait "report job result names the PDF" eval \
  '[ "$(ctl --json show 1 | jq -r ".incident.results.report.pdf // empty")" = "$T/var/reports/incident-1.pdf" ]'
# a service with no route gets no mail; db gets only db-team
ctl submit --service search --severity low --title "quiet one" >/dev/null
ctl submit --service db --severity low --title "db slow" >/dev/null
t_wait "a message for incident 3" eval '[ -n "$(mail_with "X-Opsbot-Incident: 3")" ]'
m3=$(mail_with "X-Opsbot-Incident: 3")
[ "$(cat "${m3%.eml}.rcpt")" = "db-team@ops.example" ] ||
  t_fail "incident 3 should go to db-team only, got $(cat "${m3%.eml}.rcpt")"
t_wait "report 2 finished" eval '[ -n "$(ctl --json show 2 | jq -r ".incident.results.report.summary // empty")" ]'
[ -z "$(mail_with "X-Opsbot-Incident: 2")" ] || t_fail "incident 2 (search, low) matched no route but was mailed"
ctl --json show 2 | jq -r .incident.results.report.summary | grep -q "No email route matches search/low, so no mail was sent" ||
  t_fail "report 2 summary: $(ctl --json show 2 | jq -r .incident.results.report.summary)"

# --- 2. SMTP down: retried, then delivered once ------------------------------
kill -TERM "$PID_smtpd"; wait "$PID_smtpd" 2>/dev/null
before=$(nmail)
ctl submit --service payment --severity critical --title "payment down" >/dev/null
t_wait "the email job is retried while the relay is down" eval \
  'ctl events --json --limit 1000 | jq -e "[.items[] | select(.name == \"job.retry\" and .data.kind == \"email\")] | length >= 2" >/dev/null'
grep -q 'event=mail_not_sent' report.log || t_fail "no mail_not_sent in the worker log"
[ "$(nmail)" = "$before" ] || t_fail "mail arrived while the relay was down?"
smtp_start smtpd2 "$SPORT"
t_wait "incident 4 delivered after the relay came back" eval '[ -n "$(mail_with "X-Opsbot-Incident: 4")" ]'
t_wait "email job for incident 4 done" eval \
  '[ "$(ctl --json events --limit 1000 | jq "[.items[] | select(.name == \"job.dead\")] | length")" = 0 ]'
[ "$(grep -l "X-Opsbot-Incident: 4" mail/*.eml | wc -l)" = 1 ] || t_fail "incident 4 mailed more than once"

# --- 3. the 250 window: the marker prevents a second send --------------------
# The hourly digest is due from the start; let it go out first, so the held
# 250 below catches only incident 5's message (under load it may still be
# in flight here, and a held 250 makes any message a deliberate resend).
t_wait "the hourly digest arrives" eval '[ -n "$(mail_with "opsbot.digest-hourly")" ]'
t_wait "no email job left in flight" eval \
  '[ "$(wirecat "ipc://$T/var/run/q.ipc" "{\"type\":\"query\",\"what\":\"jobs\",\"limit\":100}" | jq "[.items[] | select(.kind == \"email\" and (.state == \"ready\" or .state == \"leased\"))] | length")" = 0 ]'
touch "$T/slow"
n0=$(nmail)
ctl submit --service checkout --severity critical --title "window test" >/dev/null
t_wait "message 5 stored (250 held)" eval '[ -n "$(mail_with "X-Opsbot-Incident: 5")" ]'
kill -KILL "$PID_queue"; wait "$PID_queue" 2>/dev/null
rm -f "$T/slow"   # the relay now answers 250
mid5=$(grep -m1 -i '^Message-ID:' "$(mail_with "X-Opsbot-Incident: 5")" | sed 's/.*<\(.*\)>.*/\1/' | tr -d '\r')
t_wait "the worker recorded the 250" eval \
  '[ "$(sqlite3 var/report.db "SELECT count(*) FROM sent WHERE message_id = '"'"'$mid5'"'"'")" = 1 ]'
kill -KILL "$PID_report"; wait "$PID_report" 2>/dev/null
qstart
wstart
t_wait "the redelivered job completes without sending" grep -q "event=mail_already_sent.*$mid5" report.log
[ "$(grep -l "X-Opsbot-Incident: 5" mail/*.eml | wc -l)" = 1 ] || t_fail "incident 5 was sent twice"
[ "$(nmail)" = $((n0 + 1)) ] || t_fail "mail count $(nmail), want $((n0 + 1))"

# --- 4. restarts send nothing again; the hourly digest goes out once --------
t_wait "the hourly digest arrives" eval '[ -n "$(mail_with "opsbot.digest-hourly")" ]'
dg=$(grep -l "opsbot.digest-hourly" mail/*.eml | wc -l)
[ "$dg" = 1 ] || t_fail "digest messages: $dg, want 1"
$PY "$REPO/workers/report/check_mail.py" "$(grep -l "opsbot.digest-hourly" mail/*.eml)" \
  --to boss@ops.example --subject-has "hourly digest" --text "Alerts that opened no incident" \
  --pdf-text "hourly digest" --pdf-text "Top services" >/dev/null || t_fail "digest message"
n1=$(nmail)
kill -TERM "$PID_report"; wait "$PID_report" 2>/dev/null
wstart
t_wait "worker ready again" eval '[ "$(grep -c event=report_ready report.log)" -ge 3 ]'
ctl submit --service checkout --severity high --title "after restart" >/dev/null
t_wait "incident 6 mailed" eval '[ -n "$(mail_with "X-Opsbot-Incident: 6")" ]'
[ "$(nmail)" = $((n1 + 1)) ] || t_fail "after a restart $(nmail) messages, want $((n1 + 1)) (only incident 6's)"
[ "$(grep -l "opsbot.digest-hourly" mail/*.eml | wc -l)" = 1 ] || t_fail "the digest was sent again after a restart"

# --- 5. an untrusted relay certificate: nothing sent ------------------------
kill -TERM "$PID_report"; wait "$PID_report" 2>/dev/null
write_conf "$T/other.pem"
wstart
n2=$(nmail)
ctl submit --service checkout --severity high --title "untrusted relay" >/dev/null
t_wait "refused for the certificate" grep -q "event=mail_not_sent.*certificate" report.log
[ "$(nmail)" = "$n2" ] || t_fail "mail was sent to a relay whose certificate is not trusted"
grep -q 's3cret' report.log queue.log && t_fail "the SMTP password reached a log"

# --- 6. a PDF larger than [email] attach_max: the mail says where it is ------
kill -TERM "$PID_report"; wait "$PID_report" 2>/dev/null
write_conf "$T/cert.pem" "attach_max = 1024"
t_start report3 opsbot-report -c opsbot.conf
ctl submit --service checkout --severity high --title "big pdf" >big.out
id=$(sed -n 's/^incident \([0-9]*\) opened.*/\1/p' big.out)
[ -n "$id" ] || t_fail "submit: $(cat big.out)"
t_wait "incident $id mailed without the PDF" eval '[ -n "$(mail_with "X-Opsbot-Incident: $id")" ]'
$PY "$REPO/workers/report/check_mail.py" "$(mail_with "X-Opsbot-Incident: $id")" \
  --text "The PDF could not be attached" --text "incident-$id.pdf on the opsbot host" \
  --html "could not be attached" >/dev/null || t_fail "the big-PDF mail does not say where the PDF is"
echo "ok: report mail"
