#!/usr/bin/env bash
# chat_slack.sh: benchmark of the Slack front-end on loopback.
#
# Runs fake-slack + opsbot-queue + opsbot-bot (rate limits off on both
# sides), injects N slash commands (/incident declare ...) at the stand-in
# one after another, and measures on the stand-in's own clock:
#   ack   injection -> the bot's Socket Mode ack (the bot acks after the
#         queue committed the incident)
#   post  injection -> the incident's parent message posted (chat.postMessage)
# Prints one JSON line: {"bench":"chat_slack","n":..,"ack_p50_ms":..,
# "ack_p99_ms":..,"post_p50_ms":..,"post_p99_ms":..,"rss_mb":..}
# rss_mb is the bot's resident set at the end.  Env: CHAT_SLACK_N (1000).
# Needs no dataset.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../integration/slack_lib.sh"
N=${CHAT_SLACK_N:-1000}
T_DEADLINE=180
t_setup
SLACK_EXTRA_CONF="channel_rate = 0
method_limits = no"
slack_stack --post-rate 0 >/dev/null

for i in $(seq "$N"); do
  curl -sf -X POST -H 'Content-Type: application/json' \
    -d "{\"user\":\"U0BENCH\",\"channel\":\"$CH\",\"text\":\"declare bench$((i % 50)) benchmark incident $i\"}" \
    "http://127.0.0.1:$FS_PORT/control/slash" >/dev/null || t_fail "inject $i"
done
done_all() {
  fs_get /control/stats | jq -e --argjson n "$N" '.acked >= $n and .messages >= 2 * $n' >/dev/null
}
t_wait "every command acked and every parent posted" done_all
rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$PID_bot/status")
fs_get /control/envelopes > envs.json
fs_get "/control/messages?channel=$CH" > msgs.json
jq -nc --slurpfile e envs.json --slurpfile m msgs.json --argjson n "$N" --argjson rss "$rss" '
  def pct(a; q): if (a | length) == 0 then null
    else a[([((a | length) * q / 100 | floor), (a | length) - 1] | min)] * 100 | round / 100 end;
  ($m[0].messages | map(select(.text | startswith("#")))
     | map({key: (.text[1:] | split(" ")[0]), value: .posted_us}) | from_entries) as $parent
  | ($e[0].envelopes | map(select(.type == "slash_commands"))) as $E
  | ($E | map((.ack_us - .injected_us) / 1000) | sort) as $acks
  | ($E | map(((.ack_payload.text // "") | capture("#(?<id>[0-9]+)") | .id) as $id
              | select($parent[$id] != null) | ($parent[$id] - .injected_us) / 1000) | sort) as $posts
  | {bench: "chat_slack", n: $n, ack_p50_ms: pct($acks; 50), ack_p99_ms: pct($acks; 99),
     post_p50_ms: pct($posts; 50), post_p99_ms: pct($posts; 99),
     posts_matched: ($posts | length), rss_mb: $rss}'
