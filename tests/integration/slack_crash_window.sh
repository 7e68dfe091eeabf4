#!/usr/bin/env bash
# slack_crash_window.sh: the bot is SIGKILLed inside the window where Slack
# has stored a post but bot.db has not recorded it (the stand-in stores the
# chat.postMessage and never answers it).  After a restart the bot must find
# its marked post (conversations.replies / conversations.history) and not
# post it again: every step exactly once, in order, for a reply and for a
# parent message.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
SLACK_EXTRA_CONF="channel_rate = 0"
slack_stack --post-rate 0
stalled() { [ "$(fs_get /control/stats | jq .stalled_posts)" -ge "$1" ]; }
kill_bot() {
  kill -KILL "$PID_bot"
  t_wait "bot gone" bash -c "! kill -0 $PID_bot 2>/dev/null"
  fs_post /control/stall '{"posts":0}' >/dev/null   # answer the held post (to nobody)
}

env=$(slash U0ALICE $CH "declare checkout p99 latency over 2s"); wait_acked "$env"
t_wait "parent" has_parent 1
note 1 n1
t_wait "n1" has_notes 1 1

# 1. a threaded reply: stored by Slack, the bot killed before it heard so
fs_post /control/stall '{"posts":1}' >/dev/null
note 1 n2
t_wait "n2 stored and its answer held" stalled 1
has_notes 1 2 || t_fail "the stalled post was not stored"
kill_bot
note 1 n3
start_bot
t_wait "n3 after the restart" has_notes 1 3
want_notes 1 1 3
grep -q 'event=slack_post_recovered key="ev-[0-9]*-step"' bot.log \
  || t_fail "no slack_post_recovered for the reply in the log"

# 2. a parent message, same window: found in the channel's history
fs_post /control/stall '{"posts":1}' >/dev/null
env=$(slash U0ALICE $CH "declare api errors up"); wait_acked "$env"
t_wait "parent 2 stored and its answer held" stalled 1
kill_bot
note 2 m1
start_bot
m1_count() { thread "$CH" "$(parent_ts 2)" | jq '[.[] | select(.text | test("m1$"))] | length'; }
m1_seen() { [ -n "$(parent_ts 2)" ] && [ "$(m1_count)" -ge 1 ]; }
t_wait "m1 in incident 2's thread" m1_seen
[ "$(n_top $CH)" = 2 ] || t_fail "top-level messages: got $(n_top $CH), want 2 (parent posted twice?)"
grep -q 'event=slack_post_recovered key="ev-[0-9]*-parent"' bot.log \
  || t_fail "no slack_post_recovered for the parent in the log"
# the thread: every message once (opened, the state change, m1)
texts=$(thread "$CH" "$(parent_ts 2)" | jq -c '[.[].text]')
echo "$texts" | jq -e 'group_by(.) | map(length) | max == 1' >/dev/null \
  || t_fail "incident 2 thread has a message twice: $texts"
echo "$texts" | jq -e '[.[] | select(startswith("Incident opened"))] | length == 1' >/dev/null \
  || t_fail "incident 2 thread: want one 'Incident opened': $texts"
echo ok
