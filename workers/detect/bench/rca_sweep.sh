#!/usr/bin/env bash
# rca_sweep.sh: the root-cause ranker's constants over a small grid, one line
# per setting with AC@1 / AC@3 per data set, for choosing by cross-validation
# (tune on one system, read the others).  Usage, from the worktree after
# `make OPSBOT_INNER=1 build/bench/detect_rca`:
#   nice bash workers/detect/bench/rca_sweep.sh > var/rca_sweep.txt
set -eu
data=${DETECT_DATASETS:-../shared/datasets}
# A private copy, so a rebuild during the sweep does not change the program.
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
cp "${B:-build}/bench/detect_rca" "$bin" && chmod 700 "$bin"
for rel in 0.01 0.02 0.05 0.1; do
  for zh in 0 1 2 3; do
    for prop in 0 0.25 0.5; do
      for spread in 0 1; do
        for nb in 0 0.5 1; do
          p="rel=$rel,zh=$zh,prop=$prop,spread=$spread,nb=$nb"
          OPSBOT_RCA_PARAMS=$p "$bin" "$data" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sys.argv[1], " ".join("%s=%.2f/%.2f" % (k, d[k]["ac1"], d[k]["ac3"])
      for k in ("sockshop", "nezha_ob", "nezha_tt") if k in d))' "$p"
        done
      done
    done
  done
done
