#!/usr/bin/env bash
# report_upload_test.sh: the summary PDF is posted into the incident's Slack
# thread as a file (files.getUploadURLExternal -> upload -> 
# files.completeUploadExternal against fake-slack), once, also across a bot
# restart; with [report] chat_upload = no nothing is uploaded.
. "$(dirname "$0")/../../tests/lib.sh"
. "$(dirname "$0")/../../tests/integration/slack_lib.sh"
t_setup
SLACK_EXTRA_CONF="[pipeline]
stages = report
[report]
dir = $T/var/reports
db = $T/var/report.db
templates = $SRC/templates/email
claim_wait = 200ms"
slack_stack
t_start report opsbot-report -c "$T/opsbot.conf"

env=$(slash U0ALICE "$CH" "declare checkout p99 über 2s")
wait_acked "$env"
t_wait "incident 1's parent message" has_parent 1
ts=$(parent_ts 1)
files_in_thread() { thread "$CH" "$ts" | jq '[.[] | select(.files) | .files[]] | length'; }
t_wait "the PDF in incident 1's thread" eval '[ "$(files_in_thread)" -ge 1 ]'
f=$(thread "$CH" "$ts" | jq -c '[.[] | select(.files)][0]')
[ "$(jq -r '.files[0].name' <<<"$f")" = "incident-1.pdf" ] || t_fail "file name: $f"
[ "$(jq -r '.files[0].size' <<<"$f")" = "$(stat -c %s var/reports/incident-1.pdf)" ] ||
  t_fail "uploaded size $(jq -r '.files[0].size' <<<"$f") != $(stat -c %s var/reports/incident-1.pdf)"
jq -r .text <<<"$f" | grep -q "Summary of incident 1 (PDF" || t_fail "comment: $(jq -r .text <<<"$f")"
[ "$(jq -r .thread_ts <<<"$f")" = "$ts" ] || t_fail "the file is not in the incident's thread: $f"
grep -q "event=pdf_uploaded incident=1" bot.log || t_fail "no pdf_uploaded in the bot log"

# a restart of the bot does not post it again
stop_bot
start_bot
env=$(slash U0ALICE "$CH" "declare search slow")
wait_acked "$env"
t_wait "incident 2's parent" has_parent 2
ts2=$(parent_ts 2)
t_wait "the PDF in incident 2's thread" eval \
  '[ "$(thread "$CH" "$ts2" | jq "[.[] | select(.files)] | length")" = 1 ]'
[ "$(files_in_thread)" = 1 ] || t_fail "incident 1's PDF was posted $(files_in_thread) times"

# chat_upload = no: nothing uploaded
stop_bot
sed -i 's/^claim_wait = 200ms$/claim_wait = 200ms\nchat_upload = no/' "$T/opsbot.conf"
kill -TERM "$PID_report"; wait "$PID_report" 2>/dev/null
t_start report2 opsbot-report -c "$T/opsbot.conf"
start_bot
env=$(slash U0ALICE "$CH" "declare db slow")
wait_acked "$env"
t_wait "incident 3's parent" has_parent 3
t_wait "report 3 done" grep -q "job_done.*incident=3 kind=report" report2.log
t_wait "the bot dispatched past report 3" eval \
  '[ "$(curl -s "http://127.0.0.1:$(cat var/run/bot.port)/metrics" | awk "/^opsbot_bot_event_seq /{print \$2}")" -ge "$(opsbotctl -c opsbot.conf --json events --limit 1000 | jq "[.items[] | select(.name == \"job.finished\" and .incident == 3)][0].seq")" ]'
[ "$(thread "$CH" "$(parent_ts 3)" | jq '[.[] | select(.files)] | length')" = 0 ] ||
  t_fail "uploaded although chat_upload = no"
echo "ok: report upload"
