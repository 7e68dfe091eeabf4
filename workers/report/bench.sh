#!/usr/bin/env bash
# bench.sh: `make bench BENCH=report`.  Render time of the sample incident
# summary (tests/data/report/incident.json: 16 events, 2 charts, 5 A4
# pages) p50/p99, of the same incident with 200 more timeline events (p50),
# and the time to send one composed message with its PDF to a local SMTP
# server (aiosmtpd on 127.0.0.1, no TLS), p50.  Prints one JSON line.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${OPSBOT_BIN:-$REPO/build/bin}
N=${N:-50}
T=$(mktemp -d /tmp/opsbot-bench-report.XXXXXX)
SMTPD=
cleanup() { [ -n "$SMTPD" ] && kill "$SMTPD" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
/usr/bin/python3 - "$REPO/tests/data/report/incident.json" "$T/long.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t0 = d["incident"]["created_ms"]
for i in range(200):
    d["timeline"].append({"seq": 100 + i, "incident": 12, "name": "command.recorded",
        "at_ms": t0 + i * 3000, "data": {"user": "U0CAROL", "surface": "slack", "action": "note",
        "note": "note %d: checked the dashboards again; still elevated" % i}})
json.dump(d, open(sys.argv[2], "w"))
PY
echo "[report]" > "$T/r.conf"
SMTP_ARG=()
if /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  /usr/bin/python3 "$REPO/workers/report/smtpd.py" --store "$T/mail" --port-file "$T/port" >"$T/smtpd.log" 2>&1 &
  SMTPD=$!
  for _ in $(seq 200); do [ -s "$T/port" ] && break; sleep 0.05; done
  [ -s "$T/port" ] && SMTP_ARG=(--smtp "127.0.0.1:$(cat "$T/port")")
fi
out=$(cd "$T" && "$BIN/opsbot-report" -c "$T/r.conf" bench "$N" "$REPO/tests/data/report/incident.json" \
  "$T/long.json" "${SMTP_ARG[@]}" 2>"$T/bench.err") ||
  { echo "{\"bench\":\"report\",\"error\":\"$(head -c 200 "$T/bench.err" | tr '"\n' "' ")\"}"; exit 1; }
echo "$out"
