// slack_webapi.test.js: @slack/web-api's WebClient against fake-slack, with
// the documented slackApiUrl option: the calls a ChatOps bot makes, paging
// as the SDK pages (response_metadata.next_cursor), the three-step upload
// of filesUploadV2, Slack's error shape (ok:false, HTTP 200) and 429 with
// Retry-After, which the SDK waits out and retries.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { WebClient, ErrorCode, LogLevel, WebClientEvent } = require('@slack/web-api');
const { startFake } = require('./lib/fake');

let fake, web, failed = false;
const C = 'C0INCIDENT';

before(async () => {
  fake = await startFake('fake-slack', ['--post-rate', '0', '--retry-after', '1'], {
    SLACK_BOT_TOKEN: 'xoxb-fake',
    SLACK_APP_TOKEN: 'xapp-fake',
  });
  web = new WebClient('xoxb-fake', { slackApiUrl: `${fake.base}/api/`, logLevel: LogLevel.ERROR });
});

after(async () => {
  if (fake) await fake.stop(failed);
});

function check(fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      throw e;
    }
  };
}

test('auth.test', check(async () => {
  const r = await web.auth.test();
  assert.equal(r.ok, true);
  assert.equal(typeof r.user_id, 'string');
  assert.equal(typeof r.team_id, 'string');
}));

test('chat.postMessage with blocks, then chat.update', check(async () => {
  const p = await web.chat.postMessage({
    channel: C,
    text: 'incident 1: checkout p99 over 2s',
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*incident 1*' } }],
  });
  assert.equal(p.ok, true);
  assert.equal(p.channel, C);
  assert.match(p.ts, /^\d+\.\d{6}$/);
  assert.equal(p.message.text, 'incident 1: checkout p99 over 2s');
  assert.equal(typeof p.message.blocks[0].block_id, 'string', 'Slack gives every block a block_id');
  const u = await web.chat.update({ channel: C, ts: p.ts, text: 'incident 1: resolved' });
  assert.equal(u.ok, true);
  assert.equal(u.ts, p.ts);
  assert.equal(u.text, 'incident 1: resolved');
  const link = await web.chat.getPermalink({ channel: C, message_ts: p.ts });
  assert.match(link.permalink, /^https:\/\/.+\/archives\/C0INCIDENT\/p\d+$/);
}));

test('a channel name works for chat.postMessage; an unknown channel is a platform error', check(async () => {
  const p = await web.chat.postMessage({ channel: '#incidents', text: 'by name' });
  assert.equal(p.channel, C);
  await assert.rejects(web.chat.postMessage({ channel: 'C0NOSUCH', text: 'x' }), (e) => {
    assert.equal(e.code, ErrorCode.PlatformError);
    assert.equal(e.data.ok, false);
    assert.equal(e.data.error, 'channel_not_found');
    return true;
  });
}));

test('conversations.replies pages through a thread with cursors', check(async () => {
  const parent = await web.chat.postMessage({ channel: C, text: 'thread parent' });
  for (let i = 1; i <= 7; i++)
    await web.chat.postMessage({ channel: C, thread_ts: parent.ts, text: `reply ${i}` });
  const texts = [];
  let pages = 0;
  for await (const page of web.paginate('conversations.replies', { channel: C, ts: parent.ts, limit: 3 })) {
    pages++;
    for (const m of page.messages) texts.push(m.text);
  }
  assert.equal(pages, 3);
  assert.deepEqual(texts, ['thread parent', 'reply 1', 'reply 2', 'reply 3', 'reply 4', 'reply 5', 'reply 6', 'reply 7']);
}));

test('filesUploadV2 uploads into a thread (getUploadURLExternal, POST, completeUploadExternal)', check(async () => {
  const parent = await web.chat.postMessage({ channel: C, text: 'incident 2' });
  const data = Buffer.from('%PDF-1.4 fake summary\n'.repeat(40));
  const r = await web.filesUploadV2({
    channel_id: C,
    thread_ts: parent.ts,
    file: data,
    filename: 'incident-2.pdf',
    title: 'Incident 2 summary',
    initial_comment: 'The summary',
  });
  assert.equal(r.ok, true);
  const f = r.files[0].files[0];
  assert.equal(f.title, 'Incident 2 summary');
  assert.equal(f.size, data.length);
  const th = await web.conversations.replies({ channel: C, ts: parent.ts });
  const withFile = th.messages.find((m) => m.files && m.files[0].id === f.id);
  assert.ok(withFile, 'the file message is in the thread');
  assert.equal(withFile.text, 'The summary');
}));

test('users.info and chat.delete', check(async () => {
  const me = await web.auth.test();
  const u = await web.users.info({ user: me.user_id });
  assert.equal(u.user.id, me.user_id);
  await assert.rejects(web.users.info({ user: 'U0NOBODY' }), (e) => e.data.error === 'user_not_found');
  const p = await web.chat.postMessage({ channel: C, text: 'oops' });
  const d = await web.chat.delete({ channel: C, ts: p.ts });
  assert.equal(d.ts, p.ts);
  await assert.rejects(web.chat.delete({ channel: C, ts: p.ts }), (e) => e.data.error === 'message_not_found');
}));

test('HTTP 429 with Retry-After: the SDK waits and retries', check(async () => {
  let limited = 0;
  const onLimit = () => limited++;
  web.on(WebClientEvent.RATE_LIMITED, onLimit);
  await fake.post('/control/fail', { status: 429, count: 1 });
  const t0 = Date.now();
  const r = await web.chat.postMessage({ channel: C, text: 'after a 429' });
  web.off(WebClientEvent.RATE_LIMITED, onLimit);
  assert.equal(r.ok, true);
  assert.equal(limited, 1);
  assert.ok(Date.now() - t0 >= 900, 'waited about Retry-After (1 s)');
}));

test('conversations.history pages newest first; reactions.add; chat.postEphemeral', check(async () => {
  await fake.post('/control/channel', { id: 'C0HIST', name: 'history' });
  const ts = [];
  for (let i = 0; i < 5; i++) ts.push((await web.chat.postMessage({ channel: 'C0HIST', text: `m${i}` })).ts);
  const seenTs = [];
  let pages = 0;
  for await (const page of web.paginate('conversations.history', { channel: 'C0HIST', limit: 2 })) {
    pages++;
    for (const m of page.messages) seenTs.push(m.ts);
  }
  assert.equal(pages, 3);
  assert.deepEqual(seenTs, [...ts].reverse());
  const r = await web.reactions.add({ channel: 'C0HIST', timestamp: ts[0], name: 'eyes' });
  assert.equal(r.ok, true);
  await assert.rejects(web.reactions.add({ channel: 'C0HIST', timestamp: ts[0], name: 'eyes' }),
    (e) => e.data.error === 'already_reacted');
  const e = await web.chat.postEphemeral({ channel: 'C0HIST', user: 'U0ALICE', text: 'only you' });
  assert.match(e.message_ts, /^\d+\.\d{6}$/);
}));
