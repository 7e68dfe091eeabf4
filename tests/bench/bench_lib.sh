# shellcheck shell=bash
# bench_lib.sh: helpers for the stack benchmarks (storm.sh, soak.sh); source
# after tests/lib.sh.
#
#   shipped_conf FS_PORT < MORE > FILE
#                                 config/opsbot.conf + config/slack.example.conf
#                                 as shipped (sync = full, grouping on,
#                                 Slack's limits kept), with only what a run
#                                 in $T must change: the stand-in's URL, the
#                                 templates' absolute path, a kernel-picked
#                                 HTTP port, and [daemons] left out (the
#                                 caller adds its own in MORE).  MORE (stdin,
#                                 config format) is merged on top; every
#                                 section appears once (conf_merge.py), as
#                                 opsbot's config requires.  Relative paths
#                                 (var/...) resolve in $T, where the daemons
#                                 run.
#   rss_mb PID                    resident set in MB
#   file_bytes FILE...            total size in bytes (0 for a missing file)
BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

shipped_conf() {
  {
    cat <<CONF
[slack]
api_url = http://127.0.0.1:$1/api/
templates = $BENCH_SRC/templates/slack
[http]
listen = 127.0.0.1:0
port_file = var/run/bot.port
CONF
    cat
  } | python3 "$BENCH_SRC/tests/bench/conf_merge.py" --drop daemons \
    "$BENCH_SRC/config/opsbot.conf" "$BENCH_SRC/config/slack.example.conf"
}

rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo null; }

file_bytes() {
  local n=0 f s
  for f in "$@"; do
    s=$(stat -c %s "$f" 2>/dev/null || echo 0)
    n=$((n + s))
  done
  echo "$n"
}

# bench_setup: like t_setup, but the run's directory is under the worktree's
# var/ (BENCH_TMP overrides), on the build disk and out of /tmp's sweeps.
bench_setup() {
  mkdir -p "${BENCH_TMP:-$BENCH_SRC/var}"
  T=$(mktemp -d "${BENCH_TMP:-$BENCH_SRC/var}/bench.XXXXXX")
  mkdir -p "$T/var/run"
  trap t_cleanup EXIT
  cd "$T" || exit 1
}
