// bolt_ack.js: the Bolt side of `make bench BENCH=chat_slack`.
//
//   node bolt_ack.js MODE API_URL READY_FILE [DB_DIR]
//
// A Bolt 5 app in Socket Mode, pointed at fake-slack only through Bolt's
// documented options (clientOptions.slackApiUrl; the wss URL comes from
// apps.connections.open).  It answers /incident slash commands:
//   MODE=now    ack() at once, the way Bolt's docs show it;
//   MODE=fsync  first an INSERT into SQLite (better-sqlite3, WAL,
//               synchronous=FULL: the INSERT returns after fsync), then
//               ack() -- the same durability as opsbot-queue's sync = full.
//               When better-sqlite3 cannot be loaded, an append to a file
//               and fs.fsyncSync instead (stderr says so, and READY_FILE
//               names the store used).
// The ack carries a short text with a number, like opsbot's.  READY_FILE is
// written once the Socket Mode connection is up; the driver
// (tests/bench/chat_slack.sh) injects the commands and measures the acks on
// the stand-in's clock.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { App, LogLevel } = require('@slack/bolt');

const [mode, apiUrl, readyFile, dbDir] = process.argv.slice(2);
if (!['now', 'fsync'].includes(mode) || !apiUrl || !readyFile) {
  console.error('usage: node bolt_ack.js now|fsync API_URL READY_FILE [DB_DIR]');
  process.exit(2);
}

let store = 'none';
let record = () => 0;
if (mode === 'fsync') {
  const dir = dbDir || path.dirname(readyFile);
  try {
    const Database = require('better-sqlite3');
    const db = new Database(path.join(dir, 'bolt.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE IF NOT EXISTS incident (id INTEGER PRIMARY KEY, user TEXT, channel TEXT, text TEXT, at INTEGER)');
    const ins = db.prepare('INSERT INTO incident (user, channel, text, at) VALUES (?, ?, ?, ?)');
    record = (c) => Number(ins.run(c.user_id, c.channel_id, c.text, Date.now()).lastInsertRowid);
    store = 'sqlite';
  } catch (e) {
    console.error(`bolt_ack: better-sqlite3 unavailable (${e.message}); using append + fsync on a file`);
    const fd = fs.openSync(path.join(dir, 'bolt.log'), 'a');
    let n = 0;
    record = (c) => {
      fs.writeSync(fd, JSON.stringify({ user: c.user_id, channel: c.channel_id, text: c.text }) + '\n');
      fs.fsyncSync(fd);
      return ++n;
    };
    store = 'file';
  }
}

let seq = 0;
const app = new App({
  token: process.env.SLACK_BOT_TOKEN || 'xoxb-fake',
  appToken: process.env.SLACK_APP_TOKEN || 'xapp-fake',
  socketMode: true,
  logLevel: LogLevel.ERROR,
  clientOptions: { slackApiUrl: apiUrl },
});

app.command('/incident', async ({ command, ack }) => {
  const id = mode === 'fsync' ? record(command) : ++seq;
  await ack({ text: `Incident #${id} opened: ${command.text.slice(0, 80)}` });
});

(async () => {
  await app.start();
  fs.writeFileSync(readyFile, JSON.stringify({ mode, store }) + '\n');
})().catch((e) => {
  console.error(`bolt_ack: ${e.stack || e}`);
  process.exit(1);
});

process.on('SIGTERM', () => {
  app.stop().finally(() => process.exit(0));
});
