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
python3 - "$DB" "$N" "$PID_bot" >"$T/result.json" <<'PY'
import json, sys, time, urllib.request
base, n, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def get(p):
    with urllib.request.urlopen(base + p, timeout=10) as r:
        return json.load(r)
def post(p, body):
    req = urllib.request.Request(base + p, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)
last = ""
acks, posts = [], []
for i in range(n):
    title = "bench incident %d" % i
    inj = post("/_fake/interactions", {"kind": "command", "user": {"id": "1", "username": "bench"},
        "options": [{"name": "declare", "type": 1, "options": [{"name": "title", "type": 3, "value": title}]}]})
    deadline = time.time() + 10
    found = None
    while found is None:
        msgs = get("/_fake/channels/ops/messages?times=1" + ("&after=" + last if last else ""))
        for m in msgs:
            if m["embeds"] and m["embeds"][0].get("title", "").endswith(": " + title.replace(" ", " ")):
                found = m
        if msgs:
            last = msgs[-1]["id"]
        if found is None:
            if time.time() > deadline:
                print(json.dumps({"error": "no incident message for " + title}))
                sys.exit(1)
            time.sleep(0.0005)
    # The answer and the post travel on different lanes: wait for the answer too.
    while True:
        it = get("/_fake/interactions/" + inj["id"])
        if it["callback_latency_us"] >= 0:
            break
        if time.time() > deadline:
            print(json.dumps({"error": "no callback for " + inj["id"]}))
            sys.exit(1)
        time.sleep(0.0005)
    acks.append(it["callback_latency_us"] / 1000.0)
    posts.append((found["_created_us"] - it["created_us"]) / 1000.0)
def pct(v, p):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(p / 100.0 * len(v)))], 3)
rss = 0
with open("/proc/%s/status" % pid) as f:
    for line in f:
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024.0
print(json.dumps({"bench": "chat_discord", "n": n, "ack_p50_ms": pct(acks, 50), "ack_p99_ms": pct(acks, 99),
    "post_p50_ms": pct(posts, 50), "post_p99_ms": pct(posts, 99), "rss_mb": round(rss, 1)}))
PY
rc=$?
if [ $rc -ne 0 ] || ! grep -q '"bench"' "$T/result.json"; then
  echo "{\"bench\":\"chat_discord\",\"error\":$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()[-300:]))' "$T/result.json")}" >&3
  exit 1
fi
cat "$T/result.json" >&3
