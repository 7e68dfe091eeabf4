#!/usr/bin/env bash
# slack_ack_durable.sh: a declaration's ack means it is on disk and will
# become exactly one incident.  The queue runs with sync = full (as
# shipped) and is SIGKILLed while /incident declare commands stream in;
# more come while it is down; then the bot is SIGKILLed too, with
# declarations still waiting in its inbox, and both restart.  Every acked
# command ends as exactly one incident of its own service.  A bot that
# acked before its inbox row was on disk, or that did not send waiting rows
# again at start, fails here.  Then the queue dies between a COMMIT and its
# reply: the resent request is answered as the one that created the
# incident (one incident, logged created=1).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
eval "slack_lib_$(declare -f write_conf)"
write_conf() {
  slack_lib_write_conf
  sed -i 's/^sync = .*/sync = full/' "$T/opsbot.conf"
  grep -qx 'sync = full' "$T/opsbot.conf" || t_fail "could not set sync = full"
}
SLACK_EXTRA_CONF="channel_rate = 0"
slack_stack --post-rate 0
QURL="ipc://$T/var/run/q.ipc"
N=30 # streamed; 3 more while the queue is down

N=30 # streamed; 3 more while the queue is down

n_acked() { fs_get /control/envelopes | jq '[.envelopes[] | select(.type == "slash_commands" and .acked)] | length'; }
at_least_acked() { [ "$(n_acked)" -ge "$1" ]; }
services() { wirecat -t 5000 "$QURL" '{"type":"query","what":"incidents","limit":200}' | jq -r '.items[].service'; }
n_services() { [ "$(services | sort -u | grep -c '^dur[0-9]')" -ge "$1" ]; }

# the stream: command i declares service dur<i>
(for i in $(seq "$N"); do
  slash U0ALICE "$CH" "declare dur$i durable ack check $i" >/dev/null || exit 1
done) &
stream=$!
t_wait "6 commands acked" at_least_acked 6
kill -KILL "$PID_queue"
t_wait "queue gone" bash -c "! kill -0 $PID_queue 2>/dev/null"
for i in $(seq $((N + 1)) $((N + 3))); do
  slash U0ALICE "$CH" "declare dur$i durable ack check $i" >/dev/null || t_fail "inject $i"
done
wait "$stream" || t_fail "the stream of commands failed"
# with the queue down every declaration is still acked: it is in the inbox
t_wait "every command acked with the queue down" at_least_acked $((N + 3))
fs_get /control/envelopes | jq -r '.envelopes[] | select(.type == "slash_commands") | .ack_payload.text // ""' >acks.txt
bad=$(grep -cv 'Declaring an incident on dur[0-9]* (high)' acks.txt || true)
[ "$bad" = 0 ] || t_fail "acks not worded as a declaration: $(grep -v 'Declaring an incident' acks.txt | head -3)"
# the bot dies with declarations waiting; both come back
kill -KILL "$PID_bot"
t_wait "bot gone" bash -c "! kill -0 $PID_bot 2>/dev/null"
t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue socket" test -S "$T/var/run/q.ipc"
start_bot
t_wait "an incident for every acked command" n_services $((N + 3))
services | grep '^dur[0-9]' | sort | uniq -d >dups.txt
[ ! -s dups.txt ] || t_fail "commands that opened two incidents: $(tr '\n' ' ' <dups.txt)"
for i in $(seq $((N + 3))); do
  services | grep -qx "dur$i" || t_fail "acked command 'declare dur$i' has no incident"
done
grep -q 'event=slack_inbox_resend' bot.log || t_fail "the restarted bot sent nothing from its inbox"

# the queue dies between its COMMIT and the reply: the request sent again
# (same wire id, so the same key) is answered from that commit as the one
# that created the incident, not as a repeat
kill -TERM "$PID_queue"
t_wait "queue stopped" bash -c "! kill -0 $PID_queue 2>/dev/null"
OPSBOT_QUEUE_TEST_EXIT_AFTER_COMMIT=submit t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue socket" test -S "$T/var/run/q.ipc"
before=$(grep -c 'event=started' queue.log)
env=$(slash U0ALICE "$CH" "declare durlast durable ack after commit")
wait_acked "$env"
t_wait "queue exited after its commit" bash -c "! kill -0 $PID_queue 2>/dev/null"
t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue restarted" bash -c "[ \$(grep -c 'event=started' queue.log) -gt $before ]"
last_id() { wirecat -t 5000 "$QURL" '{"type":"query","what":"incidents","limit":200}' | jq -r '[.items[] | select(.service == "durlast") | .id] | join(" ")'; }
t_wait "the incident of the command whose reply was lost" bash -c "[ -n \"\$(wirecat -t 5000 '$QURL' '{\"type\":\"query\",\"what\":\"incidents\",\"limit\":200}' | jq -r '.items[] | select(.service == \"durlast\") | .id')\" ]"
id=$(last_id)
[ "$(echo "$id" | wc -w)" = 1 ] || t_fail "incidents of the command whose reply was lost: got '$id', want one"
t_wait "the bot's answer for incident $id" grep -q "event=slack_declared incident=$id " bot.log
grep "event=slack_declared incident=$id " bot.log | grep -q 'created=1' ||
  t_fail "the resent request was answered as a repeat: $(grep "event=slack_declared incident=$id " bot.log)"
echo "ok: $((N + 3)) acked commands, one incident each after the queue and the bot were killed; lost reply: incident $id, created=1"
