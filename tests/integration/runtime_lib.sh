# tests/integration/runtime_lib.sh: helpers shared by the runtime's tests
# (master, workers, opsbotctl).  Source after tests/lib.sh.

# Field of one daemon in the master's status file: dfield NAME FIELD
dfield() {
  python3 - "$T/var/run/opsbot-master.json" "$1" "$2" <<'PY' 2>/dev/null
import json, sys
st = json.load(open(sys.argv[1]))
for d in st["daemons"]:
    if d["name"] == sys.argv[2]:
        print(d[sys.argv[3]])
PY
}

# True when daemon NAME is running with a pid other than $2 (when given).
drunning() {
  [ "$(dfield "$1" state)" = running ] || return 1
  local pid; pid=$(dfield "$1" pid)
  [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "${2:-}" ] && kill -0 "$pid" 2>/dev/null
}

# count PATTERN FILE: how many lines match (0 when the file is missing).
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }

# The queue's reply field for opsbotctl --json: qjson EXPR ARGS... (python expr on `r`)
qjson() {
  local expr=$1; shift
  opsbotctl -c "$T/opsbot.conf" --json "$@" | python3 -c "import json,sys; r=json.load(sys.stdin); print($expr)"
}
