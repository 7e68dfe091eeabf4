#!/usr/bin/env bash
# slack_fatal.sh: what must not take the bot down: blocks Slack refuses
# (invalid_blocks -> the message goes out as plain text), a link_disabled
# disconnect (clear error, no reconnect loop, posting goes on, /healthz 503),
# a wrong app token (invalid_auth: clear error, the bot keeps serving HTTP,
# /healthz 503 naming the token).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
# templates whose parent has a button label over Slack's 75 characters
mkdir -p tpl && cp "$SRC"/templates/slack/* tpl/
sed -i 's/{{#b_ack}}Acknowledge{{\/b_ack}}/{{#b_ack}}Acknowledge this incident now please, the label is far longer than Slack allows it{{\/b_ack}}/' tpl/button.txt
grep -q 'far longer' tpl/button.txt || t_fail "test setup: the ack label was not found in tpl/button.txt"
SLACK_EXTRA_CONF="channel_rate = 0"
slack_stack --post-rate 0
sed -i "s|^templates = .*|templates = $T/tpl|" opsbot.conf
stop_bot; start_bot

env=$(slash U0ALICE $CH "declare checkout p99 latency over 2s"); wait_acked "$env"
t_wait "parent posted as text" has_parent 1
top_messages $CH | jq -e '.[0].blocks == null' >/dev/null || t_fail "parent has blocks despite invalid_blocks: $(top_messages $CH)"
grep -q 'event=slack_invalid_blocks' bot.log || t_fail "no slack_invalid_blocks in the log"
[ "$(fs_get /control/stats | jq .invalid_blocks)" -ge 1 ] || t_fail "stand-in refused no blocks"

# the queue down: a command that needs its answer says so clearly, not
# silence; a declaration is acked all the same (it is on disk in the bot's
# inbox), the person hears once that the queue is away, and once the queue
# is back the incident is declared, once, and its events arrive again
kill -TERM "$PID_queue"
t_wait "queue gone" bash -c "! kill -0 $PID_queue 2>/dev/null"
env=$(slash U0ALICE $CH "status 1"); wait_acked "$env"
case "$(ack_text "$env")" in *"could not reach its queue"*) ;; *) t_fail "status, queue down: got '$(ack_text "$env")'";; esac
env=$(slash U0ALICE $CH "declare db connections exhausted"); wait_acked "$env"
case "$(ack_text "$env")" in *"Declaring an incident on db"*) ;; *) t_fail "declare, queue down: got '$(ack_text "$env")'";; esac
told() { fs_get "/control/ephemeral?channel=$CH" | jq -e '[.messages[] | select(.user == "U0ALICE" and (.text | test("queue is not answering yet")))] | length == 1'; }
t_wait "Alice told the queue is away" told
t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "parent of incident 2 (declared from the inbox; events flow again)" has_parent 2
grep -q 'event=slack_inbox_resend' bot.log || t_fail "no slack_inbox_resend in the log"
n_db=$(wirecat "ipc://$T/var/run/q.ipc" '{"type":"query","what":"incidents"}' | jq '[.items[] | select(.service == "db")] | length')
[ "$n_db" = 1 ] || t_fail "incidents of the declaration made while the queue was down: got $n_db, want 1"
told || t_fail "Alice was told more than once"

# link_disabled: logged as an error that says what to do, no reconnect,
# /healthz says so (503); outbound still works
hz() { curl -s "http://127.0.0.1:$(cat var/run/bot.port)/healthz"; }
hz_down() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat var/run/bot.port)/healthz")" = 503 ]; }
[ "$(hz)" = ok ] || t_fail "healthz before link_disabled: got '$(hz)', want ok"
before=$(fs_get /control/stats | jq .connects)
fs_post /control/disconnect '{"reason":"link_disabled"}' >/dev/null
t_wait "link_disabled logged" grep -q 'event=slack_link_disabled' bot.log
t_wait "socket closed" bash -c "[ \$(curl -sf http://127.0.0.1:$FS_PORT/control/stats | jq .connections) = 0 ]"
note 1 n1
t_wait "note posted after link_disabled" has_notes 1 1
[ "$(fs_get /control/stats | jq .connects)" = "$before" ] || t_fail "bot reconnected after link_disabled"
kill -0 "$PID_bot" || t_fail "bot died on link_disabled"
grep 'event=slack_link_disabled' bot.log | grep -q 'restart opsbot-bot' || t_fail "link_disabled line does not say what to do"
t_wait "healthz 503 after link_disabled" hz_down
case "$(hz)" in "slack: Slack disabled Socket Mode"*) ;; *) t_fail "healthz after link_disabled: got '$(hz)'";; esac

# a wrong app token: invalid_auth is logged clearly; HTTP keeps working and
# /healthz names the token
stop_bot
SLACK_APP_TOKEN=xapp-wrong t_start bot opsbot-bot -c "$T/opsbot.conf"
t_wait "auth failure logged" grep -q 'event=slack_auth_failed error="invalid_auth"' bot.log
t_wait "bot port" test -s var/run/bot.port
t_wait "healthz 503 after invalid_auth" hz_down
case "$(hz)" in "slack: Slack refused SLACK_APP_TOKEN (invalid_auth)"*"restart opsbot-bot."*) ;; *) t_fail "healthz after invalid_auth: got '$(hz)'";; esac
n=$(grep -c 'apps.connections.open' fake-slack.log || true)
kill -0 "$PID_bot" || t_fail "bot died on invalid_auth"
echo ok
