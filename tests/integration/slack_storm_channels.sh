#!/usr/bin/env bash
# slack_storm_channels.sh: one sender per channel: a channel held back by a
# 429 with Retry-After, or by its own posting limit, does not delay another
# channel's posts, even with a single sender thread.  Stand-in and bot at
# their default limits.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
T_DEADLINE=20
CH2=C0GENERAL
# one sender thread: a 429 must not hold it (the op goes back to its queue)
SLACK_EXTRA_CONF="senders = 1"
slack_stack
env=$(slash U0ALICE $CH "declare checkout p99 latency over 2s"); wait_acked "$env"
env=$(slash U0ALICE $CH2 "declare search index lagging"); wait_acked "$env"
t_wait "parent of incident 1" has_parent 1
ts2() { top_messages $CH2 | jq -r '[.[] | select(.text | startswith("#2 "))][0].ts // empty'; }
t_wait "parent of incident 2" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/messages?channel=$CH2' | jq -e '[.messages[] | select(.text | startswith(\"#2 \"))] | length == 1'"
p2=$(ts2)
# both incidents' first steps are out before the 429 is armed: it must land
# on incident 1's note, not on a step still queued for incident 2
t_wait "the bot's posts settled" slack_settled
p2=$(ts2)
notes_in() { fs_get "/control/messages?channel=$1&thread=$2" | jq -r '.messages[].text' | grep -o '[ab][0-9]\+$' || true; }

# 1. the next call (incident 1's note) gets 429 with Retry-After: 8 s
fs_post /control/config '{"retry_after_s":8}' >/dev/null
fs_post /control/fail '{"status":429,"count":1}' >/dev/null
note 1 a1
t_wait "the 429 served" bash -c "[ \$(curl -sf http://127.0.0.1:$FS_PORT/control/stats | jq .served_429) = 1 ]"
start=$(date +%s%N)
note 2 b1
T_DEADLINE=4 t_wait "incident 2's note while channel 1 waits out its 429" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/messages?channel=$CH2&thread=$p2' | jq -e '[.messages[].text | select(endswith(\"b1\"))] | length == 1'"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ -z "$(notes_in $CH "$(parent_ts 1)")" ] || t_fail "a1 posted before its Retry-After ran out"
echo "channel 2 posted ${ms} ms into channel 1's 8 s Retry-After"
T_DEADLINE=15 t_wait "a1 after the Retry-After" bash -c "[ -n \"\$(curl -sf 'http://127.0.0.1:$FS_PORT/control/messages?channel=$CH&thread=$(parent_ts 1)' | jq -r '.messages[].text' | grep 'a1$')\" ]"

# 2. channel 1 has a backlog at its own limit (1 post/s): channel 2 does not wait
for i in $(seq 2 13); do note 1 "a$i"; done
note 2 b2
T_DEADLINE=4 t_wait "incident 2's note while channel 1 drains its backlog" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/messages?channel=$CH2&thread=$p2' | jq -e '[.messages[].text | select(endswith(\"b2\"))] | length == 1'"
n1=$(notes_in $CH "$(parent_ts 1)" | wc -l)
[ "$n1" -lt 13 ] || t_fail "channel 1 had drained its backlog ($n1 notes) before channel 2 posted"
echo "channel 2 posted with channel 1 at $n1 of 13 notes"
echo ok
