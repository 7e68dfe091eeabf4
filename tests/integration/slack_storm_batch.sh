#!/usr/bin/env bash
# slack_storm_batch.sh: a saturated channel (more than storm_queue ops
# waiting) joins an incident's thread replies into fewer messages; every
# note arrives once, in order, also across a kill -9 in the middle.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
T_DEADLINE=25
# saturated from 5 ops waiting (default 10), so the test stays short
SLACK_EXTRA_CONF="storm_queue = 5"
slack_stack
env=$(slash U0ALICE $CH "declare checkout p99 latency over 2s"); wait_acked "$env"
t_wait "parent" has_parent 1
for i in $(seq 1 30); do note 1 "n$i"; done
t_wait "n1..n30" has_notes 1 30
want_notes 1 1 30
msgs=$(thread_len "$(parent_ts 1)")
echo "30 notes in $msgs thread messages"
[ "$msgs" -lt 30 ] || t_fail "thread messages for 30 notes: got $msgs, want fewer (batched)"
grep -q 'event=slack_batched' bot.log || t_fail "no slack_batched logged"
rl=$(fs_get /control/stats | jq .rate_limited)
[ "$rl" -le 3 ] || t_fail "the stand-in refused $rl posts (429), want at most 3 (jitter)"

# a kill -9 while a backlog waits: after the restart each note is there once
for i in $(seq 31 45); do note 1 "n$i"; done
t_wait "some of n31..n45" has_notes 1 32
kill -KILL "$PID_bot"
t_wait "bot gone" bash -c "! kill -0 $PID_bot 2>/dev/null"
start_bot
t_wait "n31..n45 after kill -9" has_notes 1 45
want_notes 1 1 45
echo ok
