#!/usr/bin/env bash
# discord_bench.sh: the chat_discord benchmark.  Starts fake-discord,
# opsbot-queue and opsbot-bot (Discord surface over the Gateway), then plays
# BENCH_N (default 1000) /incident declare commands one after another:
#   ack  = INTERACTION_CREATE sent by the stand-in -> callback received by it
#   post = the same dispatch -> the incident's message created in the channel
# (both measured on the stand-in's monotonic clock), and the bot's RSS at the
# end.  Prints one JSON line.  Generous stand-in rate limits, so the numbers
# are the bot's own latency, not Discord's limits.
set -u
. "$(dirname "$0")/../tests/lib.sh"
. "$(dirname "$0")/../tests/integration/discord_env.sh"
N=${BENCH_N:-1000}
t_setup >/dev/null
exec 3>&1 1>"$T/bench.out" 2>&1
d_fake --bucket-limit 100000 --global-limit 100000
d_queue
d_bot "global_per_sec = 100000"
t_wait "gateway connected" d_connected
# The driver is a small C program (dbench) so its own cost stays small.
if dbench "$DB" "$N" >"$T/result.txt" 2>&1; then
  read -r ap50 ap99 pp50 pp99 <"$T/result.txt"
  rss=$(awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$PID_bot/status")
  printf '{"bench":"chat_discord","n":%d,"ack_p50_ms":%s,"ack_p99_ms":%s,"post_p50_ms":%s,"post_p99_ms":%s,"rss_mb":%s}\n' \
    "$N" "$ap50" "$ap99" "$pp50" "$pp99" "$rss" >"$T/result.json"
fi
if [ ! -s "$T/result.json" ]; then
  echo "{\"bench\":\"chat_discord\",\"error\":$(tail -c 300 "$T/result.txt" | jq -Rs .)}" >&3
  exit 1
fi
cat "$T/result.json" >&3
