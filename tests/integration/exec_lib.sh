# tests/integration/exec_lib.sh: set-up shared by the opsbot-exec tests
# (source after tests/lib.sh and runtime_lib.sh; call exec_t_setup, then exec_setup).
#
#   exec_setup [EXTRA [exec] LINES]   write $T/opsbot.conf, $T/actions.conf and
#                                     the test actions under $T/scripts/actions/
#   exec_plan FILE ACTION PARAMS [ACTION PARAMS...]   a plan result for test-worker
#   exec_start                        start opsbot-queue and opsbot-exec
#   exec_incident                     (re)start the plan stand-in on $T/plan.json,
#                                     submit one incident; sets ID once it
#                                     awaits approval (not in a subshell: it
#                                     starts a process the test must stop)
#   state ID / ev ID NAME             incident state / events of one name (JSON lines)
#
# The actions are real programs that record every run in $T/runs.log, so a
# test can count runs of a step exactly.

# Like t_setup, under a name of our own: during this session something on the
# shared machine removed /tmp/opsbot-test.* directories while tests ran.
exec_t_setup() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/exec-it.XXXXXX")
  mkdir -p "$T/var/run"
  trap t_cleanup EXIT
  cd "$T" || exit 1
}

ctl() { opsbotctl -c "$T/opsbot.conf" "$@"; }

exec_setup() {
  QURL="ipc://$T/var/run/q.ipc"
  EVURL="ipc://$T/var/run/ev.ipc"
  mkdir -p "$T/scripts/actions" "$T/broken"
  # touch.sh NAME: one line in runs.log per run.
  cat > "$T/scripts/actions/touch.sh" <<'SH'
#!/bin/sh
echo "run touch $1 pid=$$" >> "$RUNS_LOG"
echo "touched $1"
SH
  # slow.sh NAME: records itself, then waits until $RUNS_LOG.go.NAME exists.
  cat > "$T/scripts/actions/slow.sh" <<'SH'
#!/bin/sh
echo "run slow $1 pid=$$" >> "$RUNS_LOG"
echo "$$" >> "$RUNS_LOG.pids"
while [ ! -e "$RUNS_LOG.go.$1" ]; do sleep 0.05; done
echo "slow $1 done"
SH
  # stubborn.sh: ignores SIGTERM, leaves a child in its group; only SIGKILL ends them.
  cat > "$T/scripts/actions/stubborn.sh" <<'SH'
#!/bin/sh
trap '' TERM
echo "run stubborn pid=$$" >> "$RUNS_LOG"
sh -c 'trap "" TERM; while :; do sleep 0.2; done' &
echo "$!" > "$RUNS_LOG.child"
echo "$$" > "$RUNS_LOG.leader"
while :; do sleep 0.2; done
SH
  # polite.sh: ends on SIGTERM, but leaves a background child that ignores it.
  cat > "$T/scripts/actions/polite.sh" <<'SH'
#!/bin/sh
echo "run polite pid=$$" >> "$RUNS_LOG"
sh -c 'trap "" TERM; while :; do sleep 0.2; done' &
echo "$!" > "$RUNS_LOG.pchild"
echo started
wait
SH
  # check.sh NAME: the verify command; fails while $T/broken/NAME exists.
  cat > "$T/scripts/actions/check.sh" <<'SH'
#!/bin/sh
echo "check $1" >> "$RUNS_LOG.checks"
if [ -e "$BROKEN_DIR/$1" ]; then echo "$1 still broken"; exit 1; fi
echo "$1 healthy"
SH
  # undo.sh NAME: the rollback.
  cat > "$T/scripts/actions/undo.sh" <<'SH'
#!/bin/sh
echo "run undo $1 pid=$$" >> "$RUNS_LOG"
echo "undid $1"
SH
  # env.sh: prints its whole environment (scrubbing and redaction tests).
  cat > "$T/scripts/actions/env.sh" <<'SH'
#!/bin/sh
echo "run env pid=$$" >> "$RUNS_LOG"
env | sort
SH
  # argv.sh ARGS...: prints each argument on its own line, bracketed.
  cat > "$T/scripts/actions/argv.sh" <<'SH'
#!/bin/sh
echo "run argv pid=$$" >> "$RUNS_LOG"
for a in "$@"; do echo "[$a]"; done
SH
  chmod +x "$T"/scripts/actions/*.sh
  cat > "$T/actions.conf" <<'CONF'
[action touch]
description = Record one run.
run = scripts/actions/touch.sh {name}
param = name pattern [a-z][a-z0-9-]{0,39}
risk = low
idempotent = no
verify = scripts/actions/check.sh {name}
rollback = undo
env = RUNS_LOG, BROKEN_DIR

[action touch_again]
description = Record one run; safe to repeat.
run = scripts/actions/touch.sh {name}
param = name pattern [a-z][a-z0-9-]{0,39}
risk = low
idempotent = yes
env = RUNS_LOG

[action undo]
description = Undo a touch.
run = scripts/actions/undo.sh {name}
param = name pattern [a-z][a-z0-9-]{0,39}
risk = low
idempotent = yes
env = RUNS_LOG

[action slow]
description = Wait until killed.
run = scripts/actions/slow.sh {name}
param = name pattern [a-z][a-z0-9-]{0,39}
risk = low
idempotent = no
timeout = 60s
env = RUNS_LOG

[action slow_idem]
description = Wait until killed; safe to repeat.
run = scripts/actions/slow.sh {name}
param = name pattern [a-z][a-z0-9-]{0,39}
risk = low
idempotent = yes
timeout = 60s
env = RUNS_LOG

[action stubborn]
description = Ignore SIGTERM.
run = scripts/actions/stubborn.sh
risk = low
idempotent = no
timeout = 1s
env = RUNS_LOG

[action polite]
description = End on SIGTERM, leaving a child behind.
run = scripts/actions/polite.sh
risk = low
idempotent = no
timeout = 1s
env = RUNS_LOG

[action envdump]
description = Print the environment.
run = scripts/actions/env.sh
risk = low
idempotent = yes
env = RUNS_LOG, EXEC_TEST_TOKEN, EXEC_TEST_PLAIN

[action args]
description = Print the arguments.
run = scripts/actions/argv.sh {word} --count {n} {mode}
param = word pattern [A-Za-z0-9 ,._-]{1,60}
param = n int 1..5
param = mode default=a enum a,b
risk = low
idempotent = yes
env = RUNS_LOG

[action cool]
description = Record one run, at most once per hour per target.
run = scripts/actions/touch.sh {name}
param = name pattern [a-z][a-z0-9-]{0,39}
risk = low
idempotent = yes
cooldown = 1h
env = RUNS_LOG
CONF
  # The approval policy: the account running the test is person "me"; bob
  # and carol answer through chat (a request from the queue's own account
  # may name them, as opsbot-bot does).
  cat > "$T/policy.conf" <<CONF
[policy]
approvers = sre
distinct_approvers = 1
requester_may_approve = yes
approval_expiry = 30m
timezone = UTC
[person me]
unix = $(id -un)
[person bob]
slack = U0BOB
[person carol]
discord = 200000000000000003
[group sre]
members = me, bob, carol
CONF
  cat > "$T/opsbot.conf" <<CONF
[queue]
listen = $QURL
events = $EVURL
db = $T/var/opsbot.db
max_attempts = 10
retry_base = 100ms
policy = $T/policy.conf
catalog = $T/actions.conf
[pipeline]
stages = plan execute verify
[test-worker]
lease = 2s
claim_wait = 200ms
[exec]
catalog = $T/actions.conf
workdir = $T
lease = 1s
claim_wait = 200ms
stop_grace = 1s
kill_grace = 500ms
verify_window = 1s
verify_interval = 100ms
recheck = no
${1:-}
CONF
  export RUNS_LOG="$T/runs.log" BROKEN_DIR="$T/broken"
  : > "$T/runs.log"
}

# exec_plan FILE ACTION PARAMS-JSON [ACTION PARAMS-JSON ...]
exec_plan() {
  local f=$1; shift
  local steps="[]"
  while [ $# -ge 2 ]; do
    steps=$(jq -c --arg a "$1" --argjson p "$2" \
      '. + [{action:$a, params:$p, risk:"low", rationale:"test plan", citations:[], approval:"required"}]' <<<"$steps")
    shift 2
  done
  jq -cn --argjson s "$steps" --arg h "h-$RANDOM-$RANDOM" \
    '{plan:{id:"p1", hash:$h, planner:"test-worker", signature:"test-sig", steps:$s, notes:[]},
      needs_approval:true, summary:"test worker plan"}' > "$f"
}

exec_start_queue() {
  t_start queue opsbot-queue -c "$T/opsbot.conf"
  t_wait "the queue answers" wirecat "$QURL" '{"v":1,"type":"query","id":"q1","what":"stats"}'
}

exec_start() {
  exec_start_queue
  t_start exec opsbot-exec -c "$T/opsbot.conf"
}

# The plan stand-in reads its result once, so each incident gets a fresh one.
exec_plan_worker() {
  if [ -n "${PID_plan:-}" ]; then kill -TERM "$PID_plan" 2>/dev/null; wait "$PID_plan" 2>/dev/null; fi
  t_start plan test-worker -c "$T/opsbot.conf" --kind plan --result-file "$T/plan.json"
}

# (the state line of `opsbotctl show`, not --json and jq: tests poll this,
# and jq costs ~20 ms of CPU a call)
state() { ctl show "$1" | awk '$1 == "state:" { print $2; exit }'; }
plan_hash() { ctl --json show "$1" | jq -r .incident.results.plan.plan.hash; }
# ev ID NAME: the data of every event NAME of incident ID, one JSON per line.
ev() { ctl --json show "$1" | jq -c --arg n "$2" '.timeline[]? | select(.name == $n) | .data'; }
runs() { grep -c "^run $1" "$T/runs.log" 2>/dev/null || true; }

exec_incident() {
  exec_plan_worker
  ctl submit --service checkout --title "exec test" --severity high >"$T/submit.out" ||
    t_fail "submit: $(cat "$T/submit.out")"
  local id; id=$(sed -n 's/^incident \([0-9]*\) opened.*/\1/p' "$T/submit.out")
  [ -n "$id" ] || t_fail "submit: no id in $(cat "$T/submit.out")"
  t_wait "incident $id awaits approval" eval '[ "$(state '"$id"')" = awaiting_approval ]'
  ID=$id
}
