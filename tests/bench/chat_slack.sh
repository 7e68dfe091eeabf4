#!/usr/bin/env bash
# chat_slack.sh: benchmark of the Slack front-end on loopback.
#
# Runs fake-slack + opsbot-queue + opsbot-bot (rate limits off on both
# sides), injects N slash commands (/incident declare ...) at the stand-in
# at a steady pace, and measures from the stand-in's own clock:
#   ack   injection -> the bot's Socket Mode ack (the bot acks after the
#         queue committed the incident)
#   post  injection -> the incident's parent message posted (chat.postMessage)
# Prints one JSON line: {"bench":"chat_slack","n":..,"ack_p50_ms":..,
# "ack_p99_ms":..,"post_p50_ms":..,"post_p99_ms":..,"rss_mb":..}
# Env: CHAT_SLACK_N (default 1000), CHAT_SLACK_RATE per second (default 200).
# Needs no dataset.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../integration/slack_lib.sh"
N=${CHAT_SLACK_N:-1000}
RATE=${CHAT_SLACK_RATE:-200}
T_DEADLINE=120
t_setup
SLACK_EXTRA_CONF="channel_rate = 0
method_limits = no"
slack_stack --post-rate 0 >/dev/null

python3 - "$FS_PORT" "$N" "$RATE" "$PID_bot" <<'PY'
import http.client, json, sys, time
port, n, rate, pid = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port)
def call(method, path, body=None):
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    return json.loads(r.read())
envs = []
start = time.monotonic()
for i in range(n):
    due = start + i / rate
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    r = call("POST", "/control/slash", {"user": "U0BENCH", "channel": "C0INCIDENT",
                                        "text": "declare bench%d benchmark incident %d" % (i % 50, i)})
    envs.append(r["envelope_id"])
deadline = time.monotonic() + 120
while True:
    st = call("GET", "/control/stats")
    if st["acked"] >= n and st["messages"] >= 2 * n:  # parent + "opened" reply each
        break
    if time.monotonic() > deadline:
        print(json.dumps({"bench": "chat_slack", "error": "timed out", "acked": st["acked"],
                          "messages": st["messages"]}))
        sys.exit(1)
    time.sleep(0.2)
allenv = {e["envelope_id"]: e for e in call("GET", "/control/envelopes")["envelopes"]}
msgs = call("GET", "/control/messages?channel=C0INCIDENT")["messages"]
parent_at = {}
for m in msgs:
    t = m.get("text", "")
    if t.startswith("#"):
        parent_at[t[1:].split(" ", 1)[0]] = m["posted_us"]
acks, posts = [], []
for eid in envs:
    e = allenv[eid]
    acks.append((e["ack_us"] - e["injected_us"]) / 1000.0)
    txt = e.get("ack_payload", {}).get("text", "")
    inc = txt.split("#", 1)[1].split(" ", 1)[0] if "#" in txt else None
    if inc in parent_at:
        posts.append((parent_at[inc] - e["injected_us"]) / 1000.0)
def pct(v, p):
    v = sorted(v)
    return round(v[min(len(v) - 1, int(len(v) * p / 100.0))], 2) if v else None
rss = 0
with open("/proc/%s/status" % pid) as f:
    for line in f:
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024.0
print(json.dumps({"bench": "chat_slack", "n": n, "rate_per_s": rate,
                  "ack_p50_ms": pct(acks, 50), "ack_p99_ms": pct(acks, 99),
                  "post_p50_ms": pct(posts, 50), "post_p99_ms": pct(posts, 99),
                  "posts_matched": len(posts), "rss_mb": round(rss, 1)}))
PY
