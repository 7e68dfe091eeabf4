// discord_js.test.js: discord.js 14 against fake-discord.
//
// The client is pointed at the stand-in only through its documented `rest.api`
// option; the gateway URL comes from GET /gateway/bot as with Discord.  What
// each test expects is discord.js's own behaviour (events, cache, REST calls)
// and Discord's documentation, not what opsbot sends.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  Client, Events, GatewayIntentBits, ActionRowBuilder, ButtonBuilder, ButtonStyle,
  ModalBuilder, TextInputBuilder, TextInputStyle, MessageFlags, ChannelType, Routes,
} = require('discord.js');
const { startFake, waitFor } = require('./lib/fake');

const APP = '1380486651436073092';
const GUILD = '1380488052169769110';
let fake, client, failed = false;
const seen = { interactions: [], resumes: 0, ready: 0 };

before(async () => {
  fake = await startFake('fake-discord', [
    '--token', 'fake-bot-token', '--app-id', APP, '--guild-id', GUILD,
    '--identify-gap-ms', '100', '--heartbeat-ms', '2000',
  ]);
  client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.GuildMessageReactions],
    rest: { api: `${fake.base}/api` },
  });
  client.on(Events.ShardResume, () => seen.resumes++);
  client.on(Events.ClientReady, () => seen.ready++);
  client.on(Events.InteractionCreate, async (i) => {
    seen.interactions.push(i);
    try {
      if (i.isChatInputCommand() && i.options.getSubcommand(false) === 'declare') {
        await i.deferReply();
        await i.editReply(`declared: ${i.options.getString('title')}`);
        await i.followUp({ content: 'details follow', flags: MessageFlags.Ephemeral });
      } else if (i.isChatInputCommand()) {
        await i.reply({ content: `pong ${i.id}` });
      } else if (i.isButton() && i.customId === 'reject') {
        await i.showModal(new ModalBuilder().setCustomId('reject_reason').setTitle('Reject the plan').addComponents(
          new ActionRowBuilder().addComponents(new TextInputBuilder().setCustomId('reason').setLabel('Reason').setStyle(TextInputStyle.Paragraph))));
      } else if (i.isButton()) {
        await i.update({ content: `approved by ${i.user.id}`, components: [] });
      } else if (i.isModalSubmit()) {
        seen.reason = i.fields.getTextInputValue('reason');
        await i.reply({ content: 'noted', flags: MessageFlags.Ephemeral });
      }
    } catch (e) {
      seen.error = e;
    }
  });
  await client.login('fake-bot-token');
  await waitFor('ready', () => client.isReady());
});

after(async () => {
  if (client) await client.destroy().catch(() => {});
  if (fake) await fake.stop(failed);
});

function check(fn) {
  return async (t) => {
    try {
      await fn(t);
      if (seen.error) throw seen.error;
    } catch (e) {
      failed = true;
      throw e;
    }
  };
}

const ops = () => client.channels.cache.find((c) => c.name === 'ops');
const inject = (body) => fake.post('/_fake/interactions', body);
const inter = (id) => fake.get(`/_fake/interactions/${id}`);

test('identifies: READY, the guild from GUILD_CREATE, the application', check(async () => {
  assert.equal(client.user.id, APP);
  assert.ok(client.guilds.cache.has(GUILD), 'guild cached');
  assert.ok(ops(), '#ops cached');
  const st = await fake.get('/_fake/stats');
  assert.equal(st.identifies, 1);
  assert.equal(st.intents, GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages | GatewayIntentBits.GuildMessageReactions);
  const app = await client.application.fetch();
  assert.equal(app.id, APP);
}));

test('receives a slash command, defers, edits the reply, follows up', check(async () => {
  const r = await inject({
    kind: 'command', user: { id: '42', username: 'ann' },
    options: [{ name: 'declare', type: 1, options: [{ name: 'title', type: 3, value: 'checkout errors' }] }],
  });
  await waitFor('answered', async () => (await inter(r.id)).followups === 1);
  const x = await inter(r.id);
  assert.equal(x.callback_type, 5, 'deferred (DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE)');
  assert.equal(x.second_callbacks, 0);
  const msgs = await fake.get('/_fake/channels/ops/messages');
  const orig = msgs.find((m) => m.id === x.original_id);
  assert.equal(orig.content, 'declared: checkout errors');
  assert.equal(orig.flags & 128, 0, 'the loading state ended with the edit');
  const fu = msgs.find((m) => m.content === 'details follow');
  assert.equal(fu.flags & 64, 64, 'the follow-up is ephemeral');
  const i = seen.interactions.find((v) => v.id === r.id);
  assert.equal(i.user.id, '42');
  assert.equal(i.guildId, GUILD);
}));

test('a button: update the message it is on', check(async () => {
  const row = new ActionRowBuilder().addComponents(
    new ButtonBuilder().setCustomId('approve').setLabel('Approve').setStyle(ButtonStyle.Success),
    new ButtonBuilder().setCustomId('reject').setLabel('Reject').setStyle(ButtonStyle.Danger));
  const m = await ops().send({ content: 'plan for incident 3', components: [row] });
  const r = await inject({ kind: 'button', custom_id: 'approve', message_id: m.id, user: { id: '43', username: 'bob' } });
  await waitFor('updated', async () => (await inter(r.id)).callback_type === 7);
  const fetched = await ops().messages.fetch({ message: m.id, force: true });
  assert.equal(fetched.content, 'approved by 43');
  assert.equal(fetched.components.length, 0);
}));

test('a button opens a modal; its MODAL_SUBMIT carries the text', check(async () => {
  const row = new ActionRowBuilder().addComponents(
    new ButtonBuilder().setCustomId('reject').setLabel('Reject').setStyle(ButtonStyle.Danger));
  const m = await ops().send({ content: 'plan for incident 4', components: [row] });
  const r = await inject({ kind: 'button', custom_id: 'reject', message_id: m.id, user: { id: '44', username: 'cy' } });
  await waitFor('modal shown', async () => (await inter(r.id)).callback_type === 9);
  const s = await inject({ kind: 'modal', custom_id: 'reject_reason', message_id: m.id, values: { reason: 'too risky at peak' }, user: { id: '44', username: 'cy' } });
  await waitFor('modal submit answered', async () => (await inter(s.id)).callback_type === 4);
  assert.equal(seen.reason, 'too risky at peak');
}));

test('starts a thread on a message and posts in it', check(async () => {
  const m = await ops().send('incident 5: payment errors');
  const th = await m.startThread({ name: 'incident 5', autoArchiveDuration: 1440 });
  assert.equal(th.id, m.id, 'a thread made from a message has its id');
  assert.equal(th.type, ChannelType.PublicThread);
  await th.send('step 1: detection');
  const inThread = await th.messages.fetch({ limit: 10 });
  assert.equal(inThread.first().content, 'step 1: detection');
  const again = await client.channels.fetch(th.id, { force: true });
  assert.ok(again.isThread(), 'GET /channels/{thread id} is a thread');
  assert.equal(again.parentId, ops().id);
  assert.equal(again.archived, false);
  // discord.js refuses a second thread locally; Discord's own answer is 160004
  await assert.rejects(client.rest.post(Routes.threads(m.channelId, m.id), { body: { name: 'again' } }),
    (e) => e.code === 160004);
}));

test('sends a file into a thread (multipart); the attachment holds its bytes; over 10 MiB is 40005', check(async () => {
  const m = await ops().send('incident 6: upload');
  const th = await m.startThread({ name: 'incident 6', autoArchiveDuration: 1440 });
  const bytes = Buffer.alloc(70000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256;
  const sent = await th.send({ content: 'the summary', files: [{ attachment: bytes, name: 'summary.pdf', description: 'PDF' }] });
  const a = sent.attachments.first();
  assert.equal(a.name, 'summary.pdf');
  assert.equal(a.size, bytes.length);
  assert.equal(a.description, 'PDF');
  const back = Buffer.from(await (await fetch(a.url)).arrayBuffer());
  assert.ok(back.equals(bytes), 'the attachment url gives the bytes back');
  const big = Buffer.alloc(10 * 1024 * 1024 + 1);
  await assert.rejects(th.send({ files: [{ attachment: big, name: 'big.bin' }] }),
    (e) => e.code === 40005 && e.status === 413);
}));

test('channel, typing, reactions, history paging, delete, users', check(async () => {
  const ch = await client.channels.fetch(ops().id, { force: true });
  assert.equal(ch.name, 'ops');
  await ch.sendTyping();
  const sent = [];
  for (let i = 0; i < 6; i++) sent.push(await ch.send(`line ${i}`));
  const last5 = await ch.messages.fetch({ limit: 5 });
  assert.equal(last5.size, 5);
  assert.equal(last5.first().id, sent[5].id, 'newest first');
  const before = await ch.messages.fetch({ limit: 2, before: sent[3].id });
  assert.deepEqual([...before.keys()], [sent[2].id, sent[1].id]);
  const afterIds = await ch.messages.fetch({ limit: 2, after: sent[3].id });
  assert.deepEqual([...afterIds.keys()].sort(), [sent[4].id, sent[5].id].sort());
  await sent[0].react('✅');
  const withR = await ch.messages.fetch({ message: sent[0].id, force: true });
  assert.equal(withR.reactions.cache.get('✅').count, 1);
  assert.equal(withR.reactions.cache.get('✅').me, true);
  await sent[1].delete();
  await assert.rejects(ch.messages.fetch({ message: sent[1].id, force: true }), (e) => e.code === 10008);
  const u = await client.users.fetch('42', { force: true });
  assert.equal(u.id, '42');
  await assert.rejects(client.users.fetch('999999', { force: true }), (e) => e.code === 10013);
}));

test('survives a dropped connection by resuming, and gets what was sent meanwhile', check(async () => {
  const st0 = await fake.get('/_fake/stats');
  await fake.post('/_fake/gateway/drop', { hold_ms: 300 });
  const r = await inject({ kind: 'command', options: [{ name: 'help', type: 1 }] });
  await waitFor('resumed', async () => (await fake.get('/_fake/stats')).resumes === st0.resumes + 1);
  await waitFor('answered after resume', async () => (await inter(r.id)).callback_type === 4);
  const st = await fake.get('/_fake/stats');
  assert.equal(st.identifies, st0.identifies, 'resumed, not identified again');
  assert.ok(seen.resumes >= 1, 'discord.js emitted shardResume');
}));

test('op 7 Reconnect and op 9 (resumable) lead to a resume; op 9 (not resumable) to a new identify', check(async () => {
  let st0 = await fake.get('/_fake/stats');
  await fake.post('/_fake/gateway/reconnect');
  await waitFor('resumed after op 7', async () => (await fake.get('/_fake/stats')).resumes === st0.resumes + 1);
  await waitFor('connected', async () => (await fake.get('/_fake/stats')).connected);
  st0 = await fake.get('/_fake/stats');
  await fake.post('/_fake/gateway/invalid_session', { resumable: true });
  await waitFor('resumed after op 9 d:true', async () => {
    const s = await fake.get('/_fake/stats');
    return s.resumes === st0.resumes + 1 && s.connected;
  });
  st0 = await fake.get('/_fake/stats');
  await fake.post('/_fake/gateway/invalid_session', { resumable: false });
  await waitFor('identified after op 9 d:false', async () => {
    const s = await fake.get('/_fake/stats');
    return s.identifies === st0.identifies + 1 && s.connected;
  });
  const r = await inject({ kind: 'command', options: [{ name: 'help', type: 1 }] });
  await waitFor('answered on the new session', async () => (await inter(r.id)).callback_type === 4);
}));
