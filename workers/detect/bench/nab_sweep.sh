#!/usr/bin/env bash
# nab_sweep.sh: score detector variations on the NAB subset, in-sample and
# leave-one-category-out, one line each (spec, then the bench's JSON line).
# Usage: nice bash workers/detect/bench/nab_sweep.sh [SPECFILE] > sweep.txt
# SPECFILE: one "key=value,..." per line (default: the list below).  Run it
# from the worktree after `make build/bench/detect_nab`.
set -eu
data=${DETECT_DATASETS:-../shared/datasets}/nab
# A private copy, so a rebuild during the sweep does not change the program.
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
cp "${B:-build}/bench/detect_nab" "$bin" && chmod 700 "$bin"
specs=${1:-}
if [ -z "$specs" ]; then
  specs=$(mktemp)
  trap 'rm -f "$bin" "$specs"' EXIT
  cat > "$specs" <<'LIST'
window=2048
window=1024
window=4096
lik_alpha=0.0005
lik_alpha=0.003
lik_alpha=0.006
lik_short=2
lik_short=5
lik_short=10
holdoff=45
holdoff=180
holdoff=360
z_half=10
z_half=60
w_season=0
w_level=0
w_season=0.25
w_ewma=0.3
w_change=0.3
min_points=64
tail_n=2000
ens=1
LIST
fi
# PROXY=DIR (from proxy_gen.py): also count false alarms on its series at the
# threshold the sweep chose (proxy_fp.sh).
while IFS= read -r spec; do
  case "$spec" in ''|'#'*) continue ;; esac
  line=$(OPSBOT_NAB_CANDIDATES= OPSBOT_DETECT_PARAMS="$spec" "$bin" "$data")
  fp=
  if [ -n "${PROXY:-}" ]; then
    th=$(grep -o '"threshold":[0-9.]*' <<<"$line" | cut -d: -f2)
    fp=$(bash "$(dirname "$0")/proxy_fp.sh" "$PROXY" "$th" "$spec" | tail -1)
  fi
  printf '%s\t%s\t%s\n' "$spec" "$line" "$fp"
done < "$specs"
