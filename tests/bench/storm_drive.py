#!/usr/bin/env python3
"""storm_drive.py: the driver of `make bench BENCH=storm` (tests/bench/storm.sh).

    storm_drive.py BOT_URL FAKE_SLACK_URL CHANNELS OUT_DIR

Sends ALERTS Alertmanager notifications (webhook payload version 4) to
BOT_URL/hooks/alertmanager, evenly spread over DURATION seconds, over
SERVICES services, then watches CHANNELS (comma-separated team=CHANNEL
pairs, or one CHANNEL for all) on the Slack stand-in until every incident
the bot answered with has its parent message in one of them, or until
DEADLINE seconds after the last send.  Prints one JSON line.

The services belong to teams, as in a real org: service k of SERVICES is
"<team>-NN" with TEAMS (10) teams of equal size (payments-00 ..
growth-19 for 200).  With team=CHANNEL pairs the bench's config routes each
team's services to its channel ([slack] route = CHANNEL team-*), and an
incident found in another team's channel counts as misrouted.

"Visible" means what a person watching the channel sees: the incident is
in the channel, at the time the stand-in stored the message (posted_us):
its own parent message (text "#<id> title (severity, service): state"), or
a line of that same form in a storm summary ("*Alert storm:* N new
incidents ...", one line per incident with /incident status <id>), which
opsbot posts when new incidents pile up faster than the channel's limit.
Thread replies and later edits do not count.  Every incident's own parent
message must still arrive: one that never does is lost, whatever a summary
showed.

The storm: notification i fires alert group (alertname, service), with the
service and the alert name drawn from a seeded generator (SEED), so a group
that fires again is re-sent by "Alertmanager" with one more alert in it
(another instance), as Alertmanager does when a group grows.  Every
notification's send time is taken on the real-time clock, which is the clock
fake-slack stamps posted_us with (same host).

Figures:
  incidents                    distinct incidents the bot answered with
  new_incident_visible_p50/p99 per incident: its first notification sent ->
                               its parent message posted in the channel
                               (null when that rank was never visible)
  chat_calls                   chat.* Web API calls the stand-in served
                               (all methods: api_calls), read at the end
  rate_limited                 answers 429 from the stand-in
  lost                         notifications refused by the bot (non-2xx)
                               plus those whose incident's own parent
                               message never came before the deadline
  visible                      incidents whose parent was seen in time
  channels                     channels the incidents were routed to
  misrouted                    incidents whose parent is in another team's
                               channel (0 with one channel)
  new_incident_chat_p50/p99_ms the chat side alone: the bot's answer to the
                               incident's first notification (the incident
                               exists) -> its parent message in the channel
  slowest                      the 5 slowest incidents: [id, channel, ms]
  storm_summaries              summary messages posted
  first_seen_in_summary        incidents a summary showed before their own
                               parent message
  hook_answer_p50/p99_ms       webhook POST -> the bot's HTTP answer
  send_late_p99_ms             how far behind schedule the sender fell
                               (16 senders; late when answers are slow)
"""
import concurrent.futures
import hashlib
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request

TEAMS = ["payments", "checkout", "search", "catalog", "identity", "messaging", "data", "platform",
         "mobile", "growth"]
ALERTNAMES = ["HighErrorRate", "HighLatency", "PodCrashLooping", "TargetDown", "DiskFillingUp"]


def env_num(name, default, kind=float):
    v = os.environ.get(name, "")
    return kind(v) if v else default


def http(method, url, body=None, headers=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def notification(i, svc, alertname, size, now_iso):
    labels_common = {"alertname": alertname, "service": svc, "severity": "critical"}
    alerts = []
    for k in range(size):
        inst = "%s-%d" % (svc, k)
        alerts.append({
            "status": "firing",
            "labels": dict(labels_common, instance=inst),
            "annotations": {"summary": "%s on %s" % (alertname, svc)},
            "startsAt": now_iso,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.local/graph",
            "fingerprint": hashlib.sha256(inst.encode() + alertname.encode()).hexdigest()[:16],
        })
    return {
        "version": "4",
        "groupKey": '{}:{alertname="%s", service="%s"}' % (alertname, svc),
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "opsbot",
        "groupLabels": {"alertname": alertname, "service": svc},
        "commonLabels": labels_common,
        "commonAnnotations": {"summary": "%s on %s" % (alertname, svc),
                              "description": "storm bench notification %d" % i},
        "externalURL": "http://alertmanager.local",
        "alerts": alerts,
    }


def pct(sorted_vals, q):
    """Rank q of the values, None standing for 'never visible' (sorted last)."""
    if not sorted_vals:
        return None
    idx = min(int(len(sorted_vals) * q / 100), len(sorted_vals) - 1)
    v = sorted_vals[idx]
    return None if v is None else round(v, 1)


def main():
    bot, fs, chans, out = sys.argv[1:5]
    alerts = env_num("ALERTS", 1000, int)
    duration = env_num("DURATION", 60.0)
    services = env_num("SERVICES", 200, int)
    deadline_s = env_num("DEADLINE", 300.0)
    seed = env_num("SEED", 16, int)
    token = os.environ["OPSBOT_HOOK_TOKEN"]
    rng = random.Random(seed)
    nteams = max(1, min(env_num("TEAMS", 10, int), len(TEAMS)))
    per_team = max(1, -(-services // nteams))
    team_channel = {}
    for pair in chans.split(","):
        team, _, ch = pair.rpartition("=")
        team_channel[team] = ch
    channels = sorted(set(team_channel.values()))

    def service_name(k):
        return "%s-%02d" % (TEAMS[min(k // per_team, nteams - 1)], k % per_team)

    plan = []
    size = {}
    for i in range(alerts):
        svc = service_name(rng.randrange(services))
        name = rng.choice(ALERTNAMES)
        size[(svc, name)] = size.get((svc, name), 0) + 1
        plan.append((i, svc, name, size[(svc, name)]))

    results = [None] * alerts
    lock = threading.Lock()
    start = time.time() + 0.5
    now_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
    headers = {"Authorization": "Bearer " + token}

    def send(item):
        i, svc, name, sz = item
        at = start + i * duration / alerts
        d = at - time.time()
        if d > 0:
            time.sleep(d)
        body = notification(i, svc, name, min(sz, 50), now_iso)
        sent_us = time.time_ns() // 1000
        try:
            code, resp = http("POST", bot + "/hooks/alertmanager", body, headers)
            r = json.loads(resp or b"{}")
            if not isinstance(r, dict):
                r = {}
        except Exception as e:  # refused, reset, timeout: counted as lost
            code, r = 0, {"error": str(e)}
        answer_ms = (time.time_ns() // 1000 - sent_us) / 1000
        with lock:
            results[i] = {"sent_us": sent_us, "answer_ms": answer_ms, "code": code, "incident": r.get("incident"),
                          "created": r.get("created"), "late_ms": (sent_us / 1e6 - at) * 1000}

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        list(ex.map(send, plan))
    last_send = time.time()

    first_sent = {}
    first_answer = {}  # the bot's answer to that first notification: the incident exists
    for r in results:
        if 200 <= r["code"] < 300 and r["incident"]:
            inc = r["incident"]
            if inc not in first_sent or r["sent_us"] < first_sent[inc]:
                first_sent[inc] = r["sent_us"]
                first_answer[inc] = r["sent_us"] + r["answer_ms"] * 1000

    inc_service = {}
    for i, r in enumerate(results):
        if r["incident"] and r["incident"] not in inc_service:
            inc_service[r["incident"]] = plan[i][1]
    where = {}
    summaries = {}
    by_summary = set()
    own = {}  # incidents whose own parent message is in

    def parents():
        seen = {}
        for ch in channels:
            code, resp = http("GET", "%s/control/messages?channel=%s" % (fs, ch))
            if code != 200:
                continue
            for m in json.loads(resp)["messages"]:
                summary = (m.get("text") or "").startswith("*Alert storm:*")
                if summary:
                    summaries[m.get("ts")] = 1
                for line in (m.get("text") or "").split("\n"):
                    if not line.startswith("#"):
                        continue
                    num = line[1:].split(" ", 1)[0]
                    at = m.get("posted_us")
                    if num.isdigit() and (int(num) not in seen or at < seen[int(num)]):
                        seen[int(num)] = at
                        where[int(num)] = ch
                        if summary:
                            by_summary.add(int(num))
                        else:
                            by_summary.discard(int(num))
                    if not summary and num.isdigit():
                        own[int(num)] = 1
        return seen

    end = last_send + deadline_s
    while True:
        seen = parents()
        if all(inc in own for inc in first_sent) or time.time() > end:
            break
        time.sleep(1.0)
    waited = time.time() - last_send
    code, resp = http("GET", fs + "/control/stats")
    stats = json.loads(resp)
    calls = stats.get("calls") or {}

    lat = sorted((seen[inc] - t0) / 1000 if inc in seen else float("inf")
                 for inc, t0 in first_sent.items())
    lat = [None if v == float("inf") else v for v in lat]
    chat = sorted((seen[inc] - first_answer[inc]) / 1000 if inc in seen else float("inf")
                  for inc in first_sent)
    chat = [None if v == float("inf") else v for v in chat]
    slow = sorted(first_sent, key=lambda i: -((seen.get(i, 1e18) - first_sent[i])))[:5]
    def expected(inc):
        team = inc_service.get(inc, "").rsplit("-", 1)[0]
        return team_channel.get(team, team_channel.get("", None))

    misrouted = sum(1 for inc in first_sent if inc in where and expected(inc) not in (None, where[inc]))
    lost = sum(1 for r in results
               if not (200 <= r["code"] < 300) or r["incident"] not in own)
    refused = sum(1 for r in results if not (200 <= r["code"] < 300))
    late = sorted(r["late_ms"] for r in results)
    answer = sorted(r["answer_ms"] for r in results)
    with open(os.path.join(out, "storm-results.json"), "w") as f:
        json.dump({"results": results, "stats": stats}, f)
    print(json.dumps({
        "bench": "storm", "alerts": alerts, "duration_s": duration, "services": services,
        "incidents": len(first_sent),
        "services_hit": len({svc for _, svc, _, _ in plan}),
        "new_incident_visible_p50_ms": pct(lat, 50),
        "new_incident_visible_p99_ms": pct(lat, 99),
        "visible": sum(1 for v in lat if v is not None),
        "channels": len(channels), "misrouted": misrouted,
        "storm_summaries": len(summaries), "first_seen_in_summary": len(by_summary),
        "new_incident_chat_p50_ms": pct(chat, 50), "new_incident_chat_p99_ms": pct(chat, 99),
        "slowest": [[i, where.get(i), round((seen[i] - first_sent[i]) / 1000) if i in seen else None]
                    for i in slow],
        "chat_calls": sum(int(v) for k, v in calls.items() if k.startswith("chat.")),
        "api_calls": sum(int(v) for v in calls.values()),
        "rate_limited": int(stats.get("rate_limited", 0)) + int(stats.get("served_429", 0)),
        "lost": lost, "refused": refused,
        "hook_answer_p50_ms": pct(answer, 50), "hook_answer_p99_ms": pct(answer, 99),
        "send_late_p99_ms": round(late[min(int(len(late) * 0.99), len(late) - 1)], 1),
        "waited_s": round(waited, 1), "deadline_s": deadline_s,
    }, separators=(",", ":")))


if __name__ == "__main__":
    main()
