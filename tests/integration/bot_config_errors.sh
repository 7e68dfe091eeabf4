#!/usr/bin/env bash
# bot_config_errors.sh: typos in the config stop opsbot-bot (and the master)
# with file:line, instead of running on defaults: an unknown section
# ([slak]), a key set twice, a section given twice, a bad [http] listen, a
# [hooks] queue_timeout out of range.
. "$(dirname "$0")/../lib.sh"
t_setup
base() {
  cat <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
[bot]
state = $T/var/bot.db
CONF
}
# expect_error FILE PROGRAM WANT: PROGRAM -c FILE exits 1 and says WANT
expect_error() {
  local out rc
  out=$(timeout 20 "$2" -c "$1" 2>&1); rc=$?
  [ "$rc" = 1 ] || t_fail "$2 -c $1: exit $rc, want 1 (output: $out)"
  grep -qF -- "$3" <<<"$out" || t_fail "$2 -c $1: want '$3' in: $out"
}

{ base; printf '[http]\nlisten = 127.0.0.1:0\n[slak]\nenabled = yes\n'; } > typo.conf
expect_error typo.conf opsbot-bot 'typo.conf:8: unknown section [slak]'

{ base; printf '[http]\nlisten = 127.0.0.1:0\nmax_body = 2048\nlisten = 127.0.0.1:1\n'; } > dupkey.conf
expect_error dupkey.conf opsbot-bot 'dupkey.conf:9: listen is set twice in [http] (first at line 7)'

{ base; printf '[http]\nlisten = 127.0.0.1:0\n[bot]\nrpc_threads = 2\n'; } > dupsec.conf
expect_error dupsec.conf opsbot-bot 'dupsec.conf:8: section [bot] appears again (first at line 4)'

{ base; printf '[http]\nmax_body = 2048\nlisten = 127.0.0.1:99999\n'; } > listen.conf
expect_error listen.conf opsbot-bot 'listen.conf:8: [http] listen: listen port in'

{ base; printf '[http]\nlisten = 127.0.0.1:0\n[hooks]\nqueue_timeout = 10ms\n'; } > qt.conf
expect_error qt.conf opsbot-bot 'qt.conf:9: queue_timeout: must be from 100ms to 10m'

# the master reads the same file first and reports the typo the same way
{ base; printf '[daemons]\nbot = opsbot-bot\n[slak]\nx = 1\n'; } > master.conf
expect_error master.conf opsbot 'master.conf:8: unknown section [slak]'
echo ok
