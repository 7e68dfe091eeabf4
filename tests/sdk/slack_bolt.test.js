// slack_bolt.test.js: @slack/bolt (Socket Mode) against fake-slack.
//
// Bolt is pointed at the stand-in only through its documented options
// (clientOptions.slackApiUrl; Socket Mode takes its wss URL from
// apps.connections.open).  What each test expects is what Bolt does with
// Slack and what Slack's docs say, not what opsbot happens to send.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { App, LogLevel } = require('@slack/bolt');
const { startFake, waitFor } = require('./lib/fake');

let fake, app, failed = false;
const seen = {}; // what the listeners saw, by test

before(async () => {
  fake = await startFake('fake-slack', ['--post-rate', '0', '--channel', 'C0SDK=sdk'], {
    SLACK_BOT_TOKEN: 'xoxb-fake',
    SLACK_APP_TOKEN: 'xapp-fake',
  });
  app = new App({
    token: 'xoxb-fake',
    appToken: 'xapp-fake',
    socketMode: true,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: `${fake.base}/api/` },
  });
  app.command('/sdk', async ({ command, ack, respond, say }) => {
    seen.command = command;
    await ack({ text: `working on "${command.text}"` });
    await respond({ text: 'answered through response_url' });
    if (command.text === 'thread') {
      const parent = await say({ text: 'incident 1: checkout is slow' });
      await say({ text: 'step 1: looked at the metrics', thread_ts: parent.ts });
      seen.parentTs = parent.ts;
    }
    if (command.text === 'modal') {
      const r = await app.client.views.open({
        trigger_id: command.trigger_id,
        view: {
          type: 'modal',
          callback_id: 'reject_plan',
          title: { type: 'plain_text', text: 'Reject the plan' },
          submit: { type: 'plain_text', text: 'Reject' },
          blocks: [{
            type: 'input',
            block_id: 'why',
            label: { type: 'plain_text', text: 'Reason' },
            element: { type: 'plain_text_input', action_id: 'reason' },
          }],
        },
      });
      seen.viewId = r.view.id;
    }
  });
  app.action('approve', async ({ ack, body, action, client, respond }) => {
    await ack();
    seen.action = { body, action };
    await client.chat.update({
      channel: body.channel.id,
      ts: body.message.ts,
      text: `approved by <@${body.user.id}>`,
      blocks: [],
    });
    await respond({ text: 'you approved it', replace_original: false });
  });
  app.view('reject_plan', async ({ ack, view, body }) => {
    const reason = view.state.values.why.reason.value;
    seen.submissions = (seen.submissions || 0) + 1;
    seen.submitter = body.user.id;
    if (reason.length < 5) await ack({ response_action: 'errors', errors: { why: 'Say a little more.' } });
    else {
      seen.reason = reason;
      await ack();
    }
  });
  app.message('hello', async ({ message, say }) => {
    seen.message = message;
    await say({ text: 'hi there', thread_ts: message.ts });
  });
  await app.start();
});

after(async () => {
  if (app) await app.stop().catch(() => {});
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

test('connects over Socket Mode (auth.test, apps.connections.open, hello)', check(async () => {
  const st = await fake.get('/control/stats');
  assert.ok(st.connections >= 1, `sockets open: ${st.connections}`);
  assert.ok(st.calls['apps.connections.open'] >= 1);
}));

test('acks a slash command and answers through response_url', check(async () => {
  const env = await fake.post('/control/slash', { user: 'U0ALICE', channel: 'C0SDK', command: '/sdk', text: 'status' });
  const e = await waitFor('ack', async () => {
    const x = await fake.get(`/control/envelope?id=${env.envelope_id}`);
    return x.acked && x;
  });
  assert.equal(e.ack_payload.text, 'working on "status"');
  assert.equal(seen.command.channel_id, 'C0SDK');
  assert.equal(seen.command.channel_name, 'sdk');
  assert.match(seen.command.trigger_id, /\S{10,}/);
  await waitFor('response_url answer', async () => {
    const eph = await fake.get('/control/ephemeral?channel=C0SDK');
    return eph.messages.some((m) => m.source === 'response_url' && m.text === 'answered through response_url' && m.user === 'U0ALICE');
  });
}));

test('replies in a thread', check(async () => {
  await fake.post('/control/slash', { user: 'U0ALICE', channel: 'C0SDK', command: '/sdk', text: 'thread' });
  const ts = await waitFor('parent posted', () => seen.parentTs);
  const th = await waitFor('thread reply', async () => {
    const r = await fake.get(`/control/messages?channel=C0SDK&thread=${ts}`);
    return r.messages.length === 2 && r;
  });
  assert.equal(th.messages[0].reply_count, 1);
  assert.equal(th.messages[1].thread_ts, ts);
}));

test('a button press reaches app.action with the label, and chat.update edits the message', check(async () => {
  const posted = await app.client.chat.postMessage({
    channel: '#sdk',
    text: 'plan for incident 2',
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: '*Plan*: restart payment' } },
      { type: 'actions', block_id: 'plan', elements: [
        { type: 'button', action_id: 'approve', value: 'plan-2', style: 'primary', text: { type: 'plain_text', text: 'Approve' } },
      ] },
    ],
  });
  assert.equal(posted.channel, 'C0SDK');
  await fake.post('/control/click', { user: 'U0BOB', channel: 'C0SDK', message_ts: posted.ts, action_id: 'approve' });
  await waitFor('action listener', () => seen.action);
  const { action, body } = seen.action;
  assert.equal(action.text.text, 'Approve');
  assert.equal(action.block_id, 'plan');
  assert.equal(action.value, 'plan-2');
  assert.equal(body.message.ts, posted.ts);
  assert.equal(body.is_enterprise_install, false);
  assert.deepEqual(body.state, { values: {} });
  await waitFor('message updated', async () => {
    const r = await fake.get('/control/messages?channel=C0SDK');
    const m = r.messages.find((x) => x.ts === posted.ts);
    return m && m.text === 'approved by <@U0BOB>' && !m.blocks;
  });
  await waitFor('respond() through the action response_url', async () => {
    const eph = await fake.get('/control/ephemeral?channel=C0SDK');
    return eph.messages.some((m) => m.text === 'you approved it' && m.user === 'U0BOB');
  });
}));

test('a message event is heard and answered in its thread', check(async () => {
  const env = await fake.post('/control/event', { event: { type: 'message', channel: 'C0SDK', user: 'U0CAROL', text: 'hello bot', channel_type: 'channel' } });
  await waitFor('message listener', () => seen.message);
  const ts = seen.message.ts;
  await waitFor('reply in the thread of the injected message', async () => {
    const r = await fake.get(`/control/messages?channel=C0SDK&thread=${ts}`);
    return r.messages.some((m) => m.text === 'hi there' && m.thread_ts === ts);
  });
  const e = await fake.get(`/control/envelope?id=${env.envelope_id}`);
  assert.ok(e.acked, 'events_api envelope acked');
}));

test('views.open from a slash command; a view_submission ack with errors keeps the modal open', check(async () => {
  await fake.post('/control/slash', { user: 'U0ALICE', channel: 'C0SDK', command: '/sdk', text: 'modal' });
  const vid = await waitFor('modal opened', () => seen.viewId);
  await fake.post('/control/submit', { view_id: vid, user: 'U0ALICE', inputs: { reason: 'no' } });
  await waitFor('errors shown', async () => {
    const v = (await fake.get(`/control/views?id=${vid}`)).views[0];
    return v.submissions === 1 && v.open && v.errors && v.errors.why === 'Say a little more.';
  });
  await fake.post('/control/submit', { view_id: vid, user: 'U0ALICE', inputs: { reason: 'the rollback is riskier' } });
  await waitFor('modal closed', async () => {
    const v = (await fake.get(`/control/views?id=${vid}`)).views[0];
    return v.submissions === 2 && !v.open;
  });
  assert.equal(seen.reason, 'the rollback is riskier');
  assert.equal(seen.submitter, 'U0ALICE');
}));

test('after a refresh_requested disconnect Socket Mode reconnects and envelopes flow again', check(async () => {
  const st0 = await fake.get('/control/stats');
  await fake.post('/control/disconnect', { reason: 'refresh_requested' });
  await waitFor('a new socket', async () => (await fake.get('/control/stats')).connects > st0.connects, 20000);
  const env = await fake.post('/control/slash', { user: 'U0ALICE', channel: 'C0SDK', command: '/sdk', text: 'after refresh' });
  const e = await waitFor('ack on the new socket', async () => {
    const x = await fake.get(`/control/envelope?id=${env.envelope_id}`);
    return x.acked && x;
  }, 20000);
  assert.equal(e.ack_payload.text, 'working on "after refresh"');
  const answered = async () => (await fake.get('/control/ephemeral?channel=C0SDK')).messages
    .filter((m) => m.source === 'response_url' && m.text === 'answered through response_url').length;
  await waitFor('its response_url answer too', async () => (await answered()) >= 4);
}));
