#!/usr/bin/env python3
"""soak_drive.py: the driver of `make soak` (tests/bench/soak.sh).

    soak_drive.py BOT_URL DIR SCALE REAL_SECONDS

A simulated week of steady Alertmanager traffic, SCALE times faster than
real time, for REAL_SECONDS.  Episodes start evenly (EPISODES_PER_DAY
simulated, default 288: one every 5 minutes) on a service drawn from
SERVICES (200) with one of five alert names; each episode is three
notifications of its group, as Alertmanager sends them: firing with one
alert, firing with a second alert 5 simulated minutes later, resolved 20
simulated minutes after the start.  The group key is the group's labels, so
a group that fires again on another day has the same key, as with a real
Alertmanager.

At every simulated day boundary it samples, from DIR/var: the size of
opsbot.db (+ -wal) and bot.db (+ -wal), and row counts read with SQLite in
read-only mode: incidents, timeline events, jobs, standalone events and
idempotency keys; from bot.db, post intents and posted rows (the per-post
rows [bot] retain_posts prunes).  Writes DIR/soak-samples.json and prints a JSON summary
line with the samples.
"""
import concurrent.futures
import json
import os
import random
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request

ALERTNAMES = ["HighErrorRate", "HighLatency", "PodCrashLooping", "TargetDown", "DiskFillingUp"]
DAY = 86400.0


def size(*paths):
    return sum(os.path.getsize(p) for p in paths if os.path.exists(p))


def counts(db):
    try:
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        q = lambda s: c.execute(s).fetchone()[0]
        r = {
            "incidents": q("SELECT count(*) FROM incidents"),
            "open_incidents": q("SELECT count(*) FROM incidents WHERE state NOT IN "
                                "('resolved','rejected','expired','failed')"),
            "events": q("SELECT count(*) FROM events"),
            "jobs": q("SELECT count(*) FROM jobs"),
            "standalone_events": q("SELECT count(*) FROM events WHERE incident = 0"),
            "keys": q("SELECT count(*) FROM idempotency"),
        }
        c.close()
        return r
    except sqlite3.Error as e:
        return {"error": str(e)}


def bot_counts(db):
    try:
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        q = lambda s: c.execute(s).fetchone()[0]
        r = {"bot_intents": q("SELECT count(*) FROM kv WHERE key >= 'intent:' AND key < 'intent;'"),
             "bot_posted": q("SELECT count(*) FROM posted")}
        c.close()
        return r
    except sqlite3.Error as e:
        return {"bot_error": str(e)}


def post(url, body, token):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}
    except Exception:
        return 0, {}


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def notification(svc, name, n_alerts, status, starts):
    common = {"alertname": name, "service": svc, "severity": "warning"}
    alerts = [{
        "status": status,
        "labels": dict(common, instance="%s-%d" % (svc, k)),
        "annotations": {"summary": "%s on %s" % (name, svc)},
        "startsAt": iso(starts),
        "endsAt": iso(starts + 1200) if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": "%s-%s-%d" % (svc, name, k),
    } for k in range(n_alerts)]
    return {
        "version": "4", "groupKey": '{}:{alertname="%s", service="%s"}' % (name, svc),
        "truncatedAlerts": 0, "status": status, "receiver": "opsbot",
        "groupLabels": {"alertname": name, "service": svc}, "commonLabels": common,
        "commonAnnotations": {"summary": "%s on %s" % (name, svc)},
        "externalURL": "http://alertmanager.local", "alerts": alerts,
    }


def main():
    bot, d, scale, real = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    per_day = int(os.environ.get("EPISODES_PER_DAY") or 288)
    services = int(os.environ.get("SERVICES") or 200)
    token = os.environ["OPSBOT_HOOK_TOKEN"]
    rng = random.Random(int(os.environ.get("SEED") or 7))
    days = real * scale / DAY
    n_ep = int(per_day * days)
    start = time.time() + 0.5

    sends = []  # (real time, episode, step)
    for e in range(n_ep):
        t0 = e * DAY / per_day  # simulated seconds from the start
        svc = "svc-%03d" % rng.randrange(services)
        name = rng.choice(ALERTNAMES)
        for step, dt in ((0, 0), (1, 300), (2, 1200)):
            if t0 + dt < real * scale:
                sends.append((start + (t0 + dt) / scale, e, step, svc, name, t0))
    sends.sort()

    codes = {}
    first = {"created": 0, "joined": 0}
    lock = threading.Lock()
    url = bot + "/hooks/alertmanager"

    def send(s):
        at, e, step, svc, name, t0 = s
        d_ = at - time.time()
        if d_ > 0:
            time.sleep(d_)
        status = "resolved" if step == 2 else "firing"
        code, r = post(url, notification(svc, name, 1 if step == 0 else 2, status,
                                         start + t0 / scale), token)
        with lock:
            codes[code] = codes.get(code, 0) + 1
            if step == 0 and 200 <= code < 300:
                first["created" if r.get("created") else "joined"] += 1

    samples = []
    db = os.path.join(d, "var", "opsbot.db")
    bdb = os.path.join(d, "var", "bot.db")

    def sample(day):
        s = {"day": day, "db_bytes": size(db, db + "-wal"), "wal_bytes": size(db + "-wal"),
             "bot_db_bytes": size(bdb, bdb + "-wal")}
        s.update(counts(db))
        s.update(bot_counts(bdb))
        samples.append(s)
        print("soak: day %d: %s" % (day, json.dumps(s)), file=sys.stderr, flush=True)

    stop = threading.Event()

    def sampler():
        day = 0
        while day <= int(days) and not stop.is_set():
            at = start + day * DAY / scale
            if stop.wait(max(0.0, at - time.time())):
                break
            sample(day)
            day += 1

    th = threading.Thread(target=sampler)
    th.start()
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        list(ex.map(send, sends))
    th.join()
    with open(os.path.join(d, "soak-samples.json"), "w") as f:
        json.dump(samples, f)
    print(json.dumps({"episodes": n_ep, "notifications": len(sends),
                      "http_codes": {str(k): v for k, v in sorted(codes.items())},
                      "first_firing": first, "simulated_days": round(days, 2),
                      "samples": samples}, separators=(",", ":")))


if __name__ == "__main__":
    main()
