#!/usr/bin/env python3
# proxy_gen.py: synthetic stand-ins for the two NAB categories the project
# does not have, to count false alarms on them (no labels are claimed):
#   tweets_N.csv   bursty counts, 5-minute steps, daily season, heavy-tailed
#                  bursts that are ordinary for such series (Pareto sizes);
#   temp_N.csv     a machine temperature: slow AR(1) wander around a daily
#                  cycle, occasional maintenance steps;
#   long/long.csv  300,000 points of the same kind, for timing
#                  `opsbot-detect score` end to end (in a subfolder, so that
#                  proxy_fp.sh does not count it).
# Usage: python3 workers/detect/bench/proxy_gen.py OUTDIR   (fixed seeds)
import datetime
import math
import random
import sys

out = sys.argv[1]
t0 = datetime.datetime(2015, 2, 26)


def write(name, vals):
    with open('%s/%s' % (out, name), 'w') as f:
        f.write('timestamp,value\n')
        for i, v in enumerate(vals):
            ts = t0 + datetime.timedelta(minutes=5 * i)
            f.write('%s,%s\n' % (ts.strftime('%Y-%m-%d %H:%M:%S'), v))


def poisson(rng, lam):
    # Knuth for small, normal approximation for large.
    if lam > 50:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    L, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= L:
            return k
        k += 1


for n in range(5):
    rng = random.Random(100 + n)
    base = [3, 8, 20, 40, 90][n]
    burst = 0.0
    vals = []
    for i in range(15800):
        day = 2 * math.pi * (i % 288) / 288
        lam = base * (1 + 0.6 * math.sin(day))
        if rng.random() < 0.004:
            burst += base * 2 * rng.paretovariate(1.6)
        burst *= 0.7
        vals.append(poisson(rng, lam + burst))
    write('tweets_%d.csv' % n, vals)

for n in range(3):
    rng = random.Random(200 + n)
    x, level = 0.0, 80.0
    vals = []
    for i in range(22000):
        x = 0.995 * x + rng.gauss(0, 0.3)
        if rng.random() < 0.0005:
            level += rng.gauss(0, 3)
        day = 2 * math.pi * (i % 288) / 288
        vals.append(round(level + 4 * math.sin(day) + x, 3))
    write('temp_%d.csv' % n, vals)

import os
os.makedirs('%s/long' % out, exist_ok=True)
rng = random.Random(400)
x = 0.0
vals = []
for i in range(300000):
    x = 0.995 * x + rng.gauss(0, 0.3)
    vals.append(round(80 + 4 * math.sin(2 * math.pi * (i % 288) / 288) + x, 3))
write('long/long.csv', vals)
