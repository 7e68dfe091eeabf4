#!/usr/bin/env bash
# slack_ack_durable.sh: a slash command's ack says its incident is on disk.
# The queue runs with sync = full (as shipped) and is SIGKILLed while
# /incident declare commands stream in; more come while it is down; then it
# restarts.  Every command is acked in the end, and every ack that names an
# incident names one the restarted queue has, opened by that very command,
# and no command opened two.  A bot that acked before the queue's COMMIT
# fails here: the commands in flight at the kill would name incidents the
# queue never stored.
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

n_acked() { fs_get /control/envelopes | jq '[.envelopes[] | select(.type == "slash_commands" and .acked)] | length'; }
at_least_acked() { [ "$(n_acked)" -ge "$1" ]; }

# the stream: command i declares service dur<i>
(for i in $(seq "$N"); do
  slash U0ALICE "$CH" "declare dur$i durable ack check $i" >/dev/null || exit 1
done) &
stream=$!
t_wait "6 commands acked" at_least_acked 6
kill -KILL "$PID_queue"
t_wait "queue gone" bash -c "! kill -0 $PID_queue 2>/dev/null"
acked_at_kill=$(n_acked)
for i in $(seq $((N + 1)) $((N + 3))); do
  slash U0ALICE "$CH" "declare dur$i durable ack check $i" >/dev/null || t_fail "inject $i"
done
wait "$stream" || t_fail "the stream of commands failed"
[ "$acked_at_kill" -lt $((N + 3)) ] || t_fail "all commands were acked before the kill: nothing was in flight"
t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue socket" test -S "$T/var/run/q.ipc"
t_wait "every command acked" at_least_acked $((N + 3))

# each ack: the command it answers and the incident number it names (if
# any).  A command whose COMMIT landed just before the kill is answered, after
# the restart, from that commit: NNG resends the bot's request (same wire id,
# same key), and the queue answers it as the request that opened the
# incident ("Declared incident #N"), not as a repeat.
fs_get /control/envelopes | jq -r '.envelopes[] | select(.type == "slash_commands")
  | [.envelope_id, (.ack_payload.text // ""), (.ack_payload.text // "" | capture("#(?<id>[0-9]+)").id // "-")] | @tsv' >acks.tsv
numbered=0
while IFS=$'\t' read -r env text id; do
  [ "$id" = - ] && continue
  numbered=$((numbered + 1))
  want=$(fs_get "/control/envelope?id=$env" | jq -r '.payload.text' | awk '{ print $2 }')
  svc=$(wirecat -t 5000 "$QURL" "{\"type\":\"query\",\"what\":\"incident\",\"incident\":$id}" |
    jq -r '.incident.service // "none"')
  [ "$svc" = "$want" ] || t_fail "ack '$text' to 'declare $want' names incident $id, whose service in the restarted queue is '$svc'"
  case "$text" in
    *"Declared incident #$id ($svc,"*) ;;
    *) t_fail "ack '$text' to 'declare $want': want 'Declared incident #$id ($svc, ...'" ;;
  esac
done <acks.tsv
[ "$numbered" -ge 6 ] || t_fail "acks naming an incident: got $numbered, want at least the 6 before the kill"

# a resend after the restart answered from the first commit: one incident per command
wirecat -t 5000 "$QURL" '{"type":"query","what":"incidents","limit":200}' |
  jq -r '.items[].service' | sort | uniq -d >dups.txt
[ ! -s dups.txt ] || t_fail "commands that opened two incidents: $(tr '\n' ' ' <dups.txt)"

# the queue dies between its COMMIT and the reply: the bot's resend (same
# request id, so the same key) is answered from that commit, and the ack
# declares the one incident in the same words as an ordinary ack
kill -TERM "$PID_queue"
t_wait "queue stopped" bash -c "! kill -0 $PID_queue 2>/dev/null"
OPSBOT_QUEUE_TEST_EXIT_AFTER_COMMIT=submit t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue socket" test -S "$T/var/run/q.ipc"
before=$(grep -c 'event=started' queue.log)
env=$(slash U0ALICE "$CH" "declare durlast durable ack after commit")
t_wait "queue exited after its commit" bash -c "! kill -0 $PID_queue 2>/dev/null"
t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue restarted" bash -c "[ \$(grep -c 'event=started' queue.log) -gt $before ]"
wait_acked "$env"
text=$(ack_text "$env")
id=$(printf '%s' "$text" | grep -o '#[0-9]\+' | head -1 | tr -d '#')
[ -n "$id" ] || t_fail "ack after the lost reply: got '$text', want an incident number"
n_last=$(wirecat -t 5000 "$QURL" '{"type":"query","what":"incidents","limit":200}' |
  jq '[.items[] | select(.service == "durlast")] | length')
[ "$n_last" = 1 ] || t_fail "incidents of the command whose reply was lost: got $n_last, want 1"
svc=$(wirecat -t 5000 "$QURL" "{\"type\":\"query\",\"what\":\"incident\",\"incident\":$id}" | jq -r '.incident.service')
[ "$svc" = durlast ] || t_fail "ack '$text' names incident $id of service '$svc', want durlast"
case "$text" in
  *"Declared incident #$id (durlast,"*) ;;
  *) t_fail "ack after the lost reply: got '$text', want 'Declared incident #$id (durlast, ...'" ;;
esac
echo "ok: $numbered of $((N + 3)) acks name an incident, $acked_at_kill acked before the kill; lost reply: '$text'"
