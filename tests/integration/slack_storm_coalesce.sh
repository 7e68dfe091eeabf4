#!/usr/bin/env bash
# slack_storm_coalesce.sh: twelve quick changes of one incident's state make
# fewer chat.update calls than changes (a waiting update takes the newer
# text), the parent ends at the latest state and stays there, and every
# change still has its one reply in the thread, in order.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
T_DEADLINE=25
slack_stack
env=$(slash U0ALICE $CH "declare checkout p99 latency over 2s"); wait_acked "$env"
t_wait "parent" has_parent 1
updates() { fs_get /control/stats | jq '.calls["chat.update"] // 0'; }
before=$(updates)
# The channel's next call is answered 429 with Retry-After: 5, so the changes
# below pile up behind it however slowly this machine sends them.
fs_post /control/config '{"retry_after_s":5}' >/dev/null || t_fail "config"
fs_post /control/fail '{"status":429,"count":1}' >/dev/null || t_fail "fail"
for u in $(seq -w 1 12); do
  wirecat "ipc://$T/var/run/q.ipc" "$(jq -nc --arg u "U0ACK$u" \
    '{type:"command", incident:1, action:"ack", user:$u, surface:"cli"}')" >/dev/null \
    || t_fail "ack $u refused by the queue"
done
parent_text() { top_messages $CH | jq -r '[.[] | select(.text | startswith("#1 "))][0].text'; }
latest() { parent_text | grep -q 'acknowledged by <@U0ACK12>'; }
t_wait "parent shows the latest ack" latest
# the replies (the thread's first message is the parent itself)
ack_replies() { thread "$CH" "$(parent_ts 1)" | jq -r '.[] | select(.text | startswith("#1 ") | not) | .text' | grep -o 'U0ACK[0-9]*' || true; }
n_ack_replies() { [ "$(ack_replies | wc -l)" -ge 12 ]; }
t_wait "12 ack replies" n_ack_replies
got=$(ack_replies | tr '\n' ' ')
want=$(seq -w 1 12 | sed 's/^/U0ACK/' | tr '\n' ' ')
[ "$got" = "$want" ] || t_fail "ack replies: got '$got', want '$want'"
n=$(( $(updates) - before ))
echo "12 changes -> $n chat.update calls"
[ "$n" -ge 1 ] && [ "$n" -lt 12 ] || t_fail "chat.update calls for 12 changes: got $n, want 1..11 (coalesced)"
latest || t_fail "parent went back to an older state: $(parent_text)"
echo ok
