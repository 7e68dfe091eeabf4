#!/usr/bin/env bash
# access_files.sh: opsbot-queue's socket and database are owner-only
# whatever umask it was started with (umask 000 here): sockets 0600, their
# directory 0700, the database and its -wal/-shm files 0600; a database an
# older run left 0644 is made 0600 at start.
. "$(dirname "$0")/../lib.sh"
t_setup
mkdir -p "$T/sock"; chmod 755 "$T/sock"
QURL="ipc://$T/sock/q.ipc"
cat > opsbot.conf <<CONF
[queue]
listen = $QURL
events = ipc://$T/sock/ev.ipc
db = $T/var/q.db
CONF
raw() { wirecat -t 5000 "$QURL" "$1"; }
mode() { stat -c %a "$1"; }
gone() { ! kill -0 "$1" 2>/dev/null; }
start() {
  t_start queue bash -c "umask 000; exec opsbot-queue -c '$T/opsbot.conf'"
  t_wait "queue answers" raw '{"type":"query","what":"stats"}'
}
start
raw '{"type":"submit","what":"incident","spec":{"title":"t","service":"s","severity":"low","source":"cli"}}' >/dev/null ||
  t_fail "submit"
for f in sock/q.ipc:600 sock/ev.ipc:600 sock:700 var/q.db:600 var/q.db-wal:600 var/q.db-shm:600; do
  [ "$(mode "$T/${f%%:*}")" = "${f##*:}" ] || t_fail "$T/${f%%:*}: mode $(mode "$T/${f%%:*}") want ${f##*:}"
done
kill -TERM "$PID_queue"; t_wait "queue stopped" gone "$PID_queue"
chmod 644 "$T/var/q.db"
start
[ "$(mode "$T/var/q.db")" = 600 ] || t_fail "an old 0644 database: mode $(mode "$T/var/q.db") after start, want 600"
echo ok
