#!/usr/bin/env bash
# slack_faults.sh: the stand-in misbehaves and nothing is lost, doubled or
# reordered: Web API 429s (Retry-After) and 500s, every socket dropped
# mid-incident, a refresh_requested disconnect, an unacked events_api
# envelope redelivered (one incident), malformed and oversized envelopes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
T_DEADLINE=30
# the per-channel limit is off here (slack_declare keeps it on) so the test is fast
SLACK_EXTRA_CONF="channel_rate = 0
sockets = 2"
slack_stack --ack-timeout-ms 300 --max-retries 2 --post-rate 0

t_wait "two sockets" bash -c "[ \$(curl -sf http://127.0.0.1:$FS_PORT/control/stats | jq .connections) = 2 ]"
env=$(slash U0ALICE $CH "declare checkout p99 latency over 2s"); wait_acked "$env"
for i in 1 2 3; do e=$(slash U0ALICE $CH help); wait_acked "$e"; done
n=$(fs_get /control/envelopes | jq '[.envelopes[] | select(.acked) | .conn] | unique | length')
[ "$n" = 2 ] || t_fail "envelopes acked over $n sockets, want 2 (spread round robin)"
t_wait "parent of incident 1" has_parent 1

for i in 1 2 3 4 5; do note 1 "n$i"; done
t_wait "n1..n5" has_notes 1 5

# 429 with Retry-After on the next 3 calls, then 500 on 2: delayed, not lost
fs_post /control/fail '{"status":429,"count":3}' >/dev/null
for i in 6 7 8 9 10; do note 1 "n$i"; done
t_wait "n6..n10 after 429s" has_notes 1 10
[ "$(fs_get /control/stats | jq .served_429)" -ge 3 ] || t_fail "stand-in served no 429s"
fs_post /control/fail '{"status":500,"count":2}' >/dev/null
for i in 11 12 13 14 15; do note 1 "n$i"; done
t_wait "n11..n15 after 500s" has_notes 1 15
grep -q 'event=slack_ratelimited' bot.log || t_fail "bot did not log the 429"
# /metrics counts the same calls, 429s and 5xx the stand-in served
curl -sf "http://127.0.0.1:$(cat var/run/bot.port)/metrics" > metrics.txt || t_fail "GET /metrics failed"
msum() { awk -v f="$1" 'index($0, f "{surface=\"slack\"") == 1 { s += $NF } END { print s + 0 }' metrics.txt; }
[ "$(msum opsbot_chat_api_ratelimited_total)" = "$(fs_get /control/stats | jq .served_429)" ] \
  || t_fail "429s in /metrics: got $(msum opsbot_chat_api_ratelimited_total), want $(fs_get /control/stats | jq .served_429) (served)"
[ "$(msum opsbot_chat_api_server_errors_total)" = "$(fs_get /control/stats | jq .served_500)" ] \
  || t_fail "5xx in /metrics: got $(msum opsbot_chat_api_server_errors_total), want $(fs_get /control/stats | jq .served_500) (served)"
posts=$(awk 'index($0, "opsbot_chat_api_calls_total{surface=\"slack\",route=\"chat.postMessage\"}") == 1 { print $NF }' metrics.txt)
[ "${posts:-0}" -ge 16 ] || t_fail "chat.postMessage calls in /metrics: got '${posts}', want >= 16"
if command -v promtool >/dev/null; then
  promtool check metrics < metrics.txt > promtool.txt 2>&1 || t_fail "promtool: $(cat promtool.txt)"
fi

# every socket dropped mid-incident; a command sent meanwhile still arrives
fs_post /control/drop '{}' >/dev/null
env=$(slash U0ALICE $CH "declare api errors after the drop")
for i in 16 17 18 19 20; do note 1 "n$i"; done
wait_acked "$env"
case "$(ack_text "$env")" in *"Declaring an incident on api"*) ;; *) t_fail "command after drop: got '$(ack_text "$env")'";; esac
t_wait "n16..n20 after the drop" has_notes 1 20
t_wait "parent of incident 2" has_parent 2

# refresh_requested: a new socket first, then the old one goes
before=$(fs_get /control/stats | jq .connects)
fs_post /control/disconnect '{"reason":"refresh_requested"}' >/dev/null
t_wait "a new socket after refresh_requested" bash -c "[ \$(curl -sf http://127.0.0.1:$FS_PORT/control/stats | jq .connects) -gt $before ]"
env=$(slash U0ALICE $CH "status 1"); wait_acked "$env"

# an events_api envelope whose acks are lost is redelivered; one incident
fs_post /control/stall '{"on":true}' >/dev/null
ev=$(fs_post /control/event '{"event":{"type":"app_mention","user":"U0DAVE","channel":"C0INCIDENT","text":"<@U0OPSBOT> declare search index lagging behind"}}' | jq -r .envelope_id)
t_wait "redelivery" bash -c "[ \$(curl -sf 'http://127.0.0.1:$FS_PORT/control/envelope?id=$ev' | jq .attempts) -ge 3 ]"
fs_post /control/stall '{"on":false}' >/dev/null
t_wait "parent of incident 3" has_parent 3
n=$(wirecat "ipc://$T/var/run/q.ipc" '{"type":"query","what":"incidents"}' | jq '[.items[] | select(.service == "search")] | length')
[ "$n" = 1 ] || t_fail "incidents from the redelivered mention: got $n, want 1"
t_wait "ephemeral answer to the mention" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/ephemeral?channel=$CH' | jq -e '[.messages[] | select(.user == \"U0DAVE\")] | length == 1'"

# malformed envelopes: logged, skipped, the bot keeps serving
for raw in '{"envelope_id":"x1","type":"slash_comm' \
           '{"envelope_id":5,"type":"slash_commands","payload":{}}' \
           '{"envelope_id":"x2","type":"slash_commands","payload":"text"}' \
           '{"envelope_id":"x3","type":"slash_commands","payload":{"text":5,"user_id":"U1","channel_id":"C0INCIDENT"}}' \
           '["not","an","object"]' \
           '{"type":42}'; do
  curl -sf -X POST --data-binary "$raw" "http://127.0.0.1:$FS_PORT/control/raw" >/dev/null || t_fail "raw send failed"
done
printf '{"envelope_id":"big","type":"events_api","payload":{"event":{"type":"message","text":"%s"}}}' \
  "$(head -c 2000000 /dev/zero | tr '\0' x)" > big.json
curl -sf -X POST --data-binary @big.json "http://127.0.0.1:$FS_PORT/control/raw" >/dev/null
env=$(slash U0ALICE $CH "list"); wait_acked "$env"
case "$(ack_text "$env")" in *"#1"*) ;; *) t_fail "list after malformed input: got '$(ack_text "$env")'";; esac
kill -0 "$PID_bot" || t_fail "bot died on malformed input"
grep -q 'event=slack_bad_frame' bot.log || t_fail "no slack_bad_frame logged"
[ "$(grep -c 'event=slack_bad_frame' bot.log)" -ge 5 ] || t_fail "bad frames logged: got $(grep -c 'event=slack_bad_frame' bot.log), want >= 5"

# in the end: every note exactly once, in order; one parent per incident
want_notes 1 1 20
# (the stand-in stores the mention too, as Slack would: count the bot's posts)
nb=$(top_messages $CH | jq '[.[] | select(.bot_id)] | length')
[ "$nb" = 3 ] || t_fail "top-level bot messages: got $nb, want 3"
echo ok
