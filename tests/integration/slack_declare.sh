#!/usr/bin/env bash
# slack_declare.sh: /incident declare becomes an incident with one parent
# message and a thread; the ack says it is being declared (the incident's
# number comes with its message); a queue event
# (a button click -> command.recorded) becomes a threaded reply and updates
# the parent; unknown input gets the help text, never silence.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
slack_stack --ping-ms 200

env=$(slash U0ALICE $CH "declare checkout sev=critical p99 latency over 2s <script>")
[ -n "$env" ] || t_fail "no envelope id from /control/slash"
wait_acked "$env"
got=$(ack_text "$env")
case "$got" in *"Declaring an incident on checkout (critical)"*) ;; *) t_fail "ack text: got '$got', want 'Declaring an incident on checkout (critical) ...'";; esac

t_wait "parent message" has_parent 1
ts=$(parent_ts 1)
parent=$(top_messages $CH | jq -c --arg ts "$ts" '.[] | select(.ts == $ts)')
echo "$parent" | jq -e '.blocks | map(.elements[]?.action_id) | index("opsbot_ack")' >/dev/null \
  || t_fail "parent has no Acknowledge button: $parent"
echo "$parent" | jq -e '.text | contains("&lt;script&gt;")' >/dev/null \
  || t_fail "title not mrkdwn-escaped in text fallback: $(echo "$parent" | jq .text)"
thread_ge() { [ "$(thread_len "$1")" -ge "$2" ]; }
t_wait "opened reply in the thread" thread_ge "$ts" 2

# a click: acked at once, forwarded with the user, shows in thread and parent
click=$(fs_post /control/click "$(jq -nc --arg ts "$ts" '{user:"U0BOB", channel:"C0INCIDENT", message_ts:$ts, action_id:"opsbot_ack", value:"1"}')" | jq -r .envelope_id)
wait_acked "$click"
t_wait "Acknowledged reply" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/messages?channel=$CH&thread=$ts' | jq -e '.messages | map(select(.text | test(\"Acknowledged by <@U0BOB>\"))) | length == 1'"
t_wait "parent shows who acknowledged" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/messages?channel=$CH' | jq -e '.messages[0].text | test(\"acknowledged by <@U0BOB>\")'"

# status and list answer in the ack
env=$(slash U0ALICE $CH "status 1"); wait_acked "$env"
got=$(ack_text "$env"); case "$got" in *"#1"*checkout*) ;; *) t_fail "status: got '$got'";; esac
env=$(slash U0ALICE $CH "list"); wait_acked "$env"
got=$(ack_text "$env"); case "$got" in *"#1"*) ;; *) t_fail "list: got '$got'";; esac

# nonsense and malformed input: help, never silence
env=$(slash U0ALICE $CH "reboot the world"); wait_acked "$env"
got=$(ack_text "$env"); case "$got" in *"don't know"*"/incident declare"*) ;; *) t_fail "unknown verb: got '$got'";; esac
env=$(slash U0ALICE $CH "resolve"); wait_acked "$env"
got=$(ack_text "$env"); case "$got" in *"needs an incident number"*) ;; *) t_fail "resolve w/o id: got '$got'";; esac
env=$(slash U0ALICE $CH "status 999"); wait_acked "$env"
got=$(ack_text "$env"); case "$got" in *"Could not"*) ;; *) t_fail "status of unknown incident: got '$got'";; esac

# resolve by command: the parent loses its buttons and says who resolved it
env=$(slash U0CAROL $CH "resolve 1 rolled back the deploy"); wait_acked "$env"
got=$(ack_text "$env"); case "$got" in *"Done: resolve incident #1"*) ;; *) t_fail "resolve: got '$got'";; esac
t_wait "parent resolved without buttons" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/messages?channel=$CH' | jq -e '.messages[0] | (.text | test(\"resolved\")) and ([.blocks[].elements[]?.action_id] | index(\"opsbot_ack\") == null)'"

# the stand-in pings; lws answers with pongs
t_wait "pongs to the stand-in's pings" bash -c "[ \$(curl -sf http://127.0.0.1:$FS_PORT/control/stats | jq .pongs) -ge 2 ]"
[ "$(n_top $CH)" = 1 ] || t_fail "top-level messages: got $(n_top $CH), want 1 (one parent per incident)"
echo ok
