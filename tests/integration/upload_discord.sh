#!/usr/bin/env bash
# upload_discord.sh: the summary PDF is posted into the incident's Discord
# thread as a multipart message with the file attached (fake-discord,
# opsbot-queue, opsbot-report and opsbot-bot as real processes): once, with
# the bytes of the file on disk and the incident title in its text; a 429 on
# the upload is waited out; a bot restart does not post it again; a file
# Discord refuses (413/40005) is logged and skipped without holding up later
# events, and so is an incident Discord does not show.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/discord_env.sh"
command -v pdftotext >/dev/null || t_skip "pdftotext (poppler-utils) not installed"
t_setup
T_DEADLINE=40
d_fake --heartbeat-ms 5000
cat > "$T/opsbot.conf" <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
sync = normal
[pipeline]
stages = report
[report]
dir = $T/var/reports
db = $T/var/report.db
templates = $REPO/templates/email
claim_wait = 200ms
[bot]
state = $T/var/bot.db
catchup_interval = 1s
[http]
listen = 127.0.0.1:0
port_file = $T/var/run/bot.port
[discord]
api = $DB/api/v10
application_id = $APP
guild_id = $GUILD
channel = ops
templates = $REPO/templates/discord
identify_gap = 100ms
CONF
export DISCORD_BOT_TOKEN=fake-bot-token
t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue socket" test -S "$T/var/run/q.ipc"
t_start report opsbot-report -c "$T/opsbot.conf"
start_bot() {
  rm -f "$T/var/run/bot.port"
  t_start bot opsbot-bot -c "$T/opsbot.conf"
  t_wait "bot http port" test -s "$T/var/run/bot.port"
  t_wait "gateway connected" d_connected
}
stop_bot() {
  kill -TERM "$PID_bot" 2>/dev/null
  t_wait "bot exits" bash -c "! kill -0 $PID_bot 2>/dev/null"
}
start_bot

# The incident's thread is the parent message's id (bot.db, surface discord).
thread_of() { # incident number -> thread id
  d_msgs ops | jq -r --arg t "Incident #$1:" \
    '[.[] | select((.embeds | length) > 0 and (.embeds[0].title | startswith($t)))][0].id // empty'
}
has_thread_of() { [ -n "$(thread_of "$1")" ]; }
files_in() { d_msgs "$1" | jq '[.[] | select((.attachments | length) > 0)] | length'; }
has_files() { [ "$(files_in "$1")" -ge "${2:-1}" ]; }
declare_incident() {
  d_cmd 42 declare "[{\"name\":\"title\",\"type\":3,\"value\":\"$1\"}]" >/dev/null || t_fail "inject $1"
}

# One 429 on the first file upload: the bot waits retry_after and posts once.
d_post /_fake/ratelimit '{"n":1,"scope":"route","multipart":true,"retry_after":0.3}' >/dev/null ||
  t_fail "force a 429"
declare_incident "checkout p99 über 2s"
t_wait "incident 1's thread" has_thread_of 1
TH1=$(thread_of 1)
t_wait "the PDF in incident 1's thread" has_files "$TH1"
m=$(d_msgs "$TH1" | jq -c '[.[] | select((.attachments | length) > 0)][0]')
a=$(jq -c '.attachments[0]' <<<"$m")
[ "$(jq -r .filename <<<"$a")" = incident-1.pdf ] || t_fail "attachment name: $a"
[ "$(jq -r .content_type <<<"$a")" = application/pdf ] || t_fail "attachment type: $a"
[ "$(jq -r .size <<<"$a")" = "$(stat -c %s var/reports/incident-1.pdf)" ] ||
  t_fail "attachment size $(jq -r .size <<<"$a") != file $(stat -c %s var/reports/incident-1.pdf)"
curl -sf -o "$T/got.pdf" "$(jq -r .url <<<"$a")" || t_fail "download the attachment"
cmp -s "$T/got.pdf" var/reports/incident-1.pdf || t_fail "uploaded bytes differ from the file"
pdftotext "$T/got.pdf" - | grep -q "checkout p99 über 2s" || t_fail "the title is not in the uploaded PDF"
text=$(jq -r .content <<<"$m")
grep -q "^Summary of incident 1 (PDF, [0-9]* pages\?)\. The same file is kept on the opsbot host at .*incident-1.pdf\.$" <<<"$text" ||
  t_fail "message text: $text"
[ "$(d_stat forced_route_left)" = 0 ] || t_fail "the forced 429 was not used"
grep -q 'event=discord_429 route=.*(file)' bot.log || t_fail "no 429 seen by the upload"
grep -q "event=pdf_uploaded incident=1 surface=discord" bot.log || t_fail "no pdf_uploaded in the bot log"
[ "$(files_in "$TH1")" = 1 ] || t_fail "incident 1's PDF posted $(files_in "$TH1") times"

# A restart of the bot does not post it again, even when the upload surface's
# seq in bot.db is from before the upload (a crash between the post and the
# seq write): the event is offered again and the posted key skips it.
ev_seq() { # kind=report job.finished seq of incident $1
  opsbotctl -c opsbot.conf --json events --limit 1000 |
    jq "[.items[] | select(.name == \"job.finished\" and .incident == $1)][0].seq"
}
up_seq() { sqlite3 var/bot.db "select seq from surface_seq where surface = 'upload'"; }
seq1=$(ev_seq 1)
t_wait "upload seq stored past report 1" eval '[ "$(up_seq)" -ge "$seq1" ]'
stop_bot
sqlite3 var/bot.db "update surface_seq set seq = $((seq1 - 1)) where surface = 'upload'" ||
  t_fail "rewind the upload seq"
start_bot
t_wait "report 1 offered again and finished" eval '[ "$(up_seq)" -ge "$seq1" ]'
[ "$(grep -c "event=pdf_uploaded incident=1 surface=discord" bot.log)" = 1 ] ||
  t_fail "incident 1's PDF uploaded again after the restart"
declare_incident "search slow"
t_wait "incident 2's thread" has_thread_of 2
TH2=$(thread_of 2)
t_wait "the PDF in incident 2's thread" has_files "$TH2"
[ "$(files_in "$TH1")" = 1 ] || t_fail "after a restart incident 1's PDF is there $(files_in "$TH1") times"
[ "$(files_in "$TH2")" = 1 ] || t_fail "incident 2's PDF posted $(files_in "$TH2") times"

# Discord refuses the file (a 1000-byte limit here): logged, skipped, and the
# upload surface's seq moves on past it.
d_post /_fake/upload_limit '{"file_max":1000}' >/dev/null || t_fail "set the file limit"
declare_incident "db slow"
t_wait "incident 3's thread" has_thread_of 3
TH3=$(thread_of 3)
t_wait "the refusal logged" grep -q "event=upload_failed incident=3 surface=discord .*40005.*final=yes" bot.log
seq3=$(ev_seq 3)
t_wait "the upload seq moved past the refused report 3" eval '[ "$(up_seq)" -ge "$seq3" ]'
[ "$(files_in "$TH3")" = 0 ] || t_fail "a refused file was posted"

# An incident Discord does not show (from an alert, no [discord] channel):
# once the Discord surface is past its report, the upload is skipped at
# once instead of waiting for a thread that will not come.
stop_bot
sed -i '/^channel = ops$/d' "$T/opsbot.conf"
start_bot
wirecat "ipc://$T/var/run/q.ipc" '{"type":"submit","what":"incident","key":"alert-4","spec":{"title":"disk full on db-2","service":"db","severity":"critical","source":"alertmanager"}}' >/dev/null ||
  t_fail "submit an alert incident"
t_wait "report 4 done" grep -q "job_done.*incident=4 kind=report" report.log
t_wait "the upload skipped for lack of a Discord thread" \
  grep -q 'event=upload_skipped incident=4 surface=discord reason="the discord surface has no thread' bot.log
grep -q "event=upload_given_up incident=4" bot.log && t_fail "waited out the attempts instead of skipping"
seq4=$(ev_seq 4)
t_wait "the upload seq moved past report 4" eval '[ "$(up_seq)" -ge "$seq4" ]'
echo "ok: upload to discord"
