// openai.test.js: the official OpenAI Node SDK against fake-llm, pointed at it
// with its documented baseURL option: chat completions (structured output),
// embeddings, the model list, and errors as the SDK types them (401
// AuthenticationError, 429 retried after Retry-After, 500 InternalServerError).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const OpenAI = require('openai');
const { startFake } = require('./lib/fake');

let fake, ai, failed = false;

before(async () => {
  fake = await startFake('fake-llm', ['-k', 'sk-fake'], {}, '-p');
  ai = new OpenAI({ apiKey: 'sk-fake', baseURL: `${fake.base}/v1`, maxRetries: 2 });
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

test('chat.completions.create with a json_schema response_format', check(async () => {
  const r = await ai.chat.completions.create({
    model: 'fake-valid',
    messages: [{ role: 'system', content: 'Plan remediation.' },
      { role: 'user', content: 'incident: {"service":"payment","title":"errors"}' }],
    response_format: { type: 'json_schema', json_schema: { name: 'plan', schema: { type: 'object' } } },
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].finish_reason, 'stop');
  const plan = JSON.parse(r.choices[0].message.content);
  assert.ok(Array.isArray(plan.steps) && plan.steps.length > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
}));

test('embeddings.create for a batch', check(async () => {
  const r = await ai.embeddings.create({ model: 'fake-embed', input: ['disk full', 'payment errors'], dimensions: 64, encoding_format: 'float' });
  assert.equal(r.object, 'list');
  assert.equal(r.data.length, 2);
  assert.equal(r.data[1].index, 1);
  assert.equal(r.data[0].embedding.length, 64);
}));

test('models.list', check(async () => {
  const ids = [];
  for await (const m of ai.models.list()) ids.push(m.id);
  assert.ok(ids.includes('fake-valid'));
}));

test('a wrong key is an AuthenticationError with OpenAI\'s error object', check(async () => {
  const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${fake.base}/v1`, maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.status, 401);
    assert.equal(e.code, 'invalid_api_key');
    assert.equal(e.type, 'invalid_request_error');
    return true;
  });
}));

test('429 with Retry-After is retried by the SDK; 500 is an InternalServerError', check(async () => {
  await fake.post('/_fake/reset');
  await fake.post('/_fake/mode', { script: ['rate_limit', 'valid'], retry_after: '1' });
  const t0 = Date.now();
  const r = await ai.chat.completions.create({ model: 'gpt-x', messages: [{ role: 'user', content: '{"service":"api"}' }] });
  assert.ok(r.choices[0].message.content.length > 0);
  assert.ok(Date.now() - t0 >= 900, 'waited for Retry-After');
  assert.equal((await fake.get('/_fake/stats')).chat, 2);
  const once = new OpenAI({ apiKey: 'sk-fake', baseURL: `${fake.base}/v1`, maxRetries: 0 });
  await fake.post('/_fake/mode', { mode: 'server_error' });
  await assert.rejects(once.chat.completions.create({ model: 'gpt-x', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.InternalServerError && e.status === 500);
  await fake.post('/_fake/mode', { mode: 'rate_limit' });
  await assert.rejects(once.chat.completions.create({ model: 'gpt-x', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.RateLimitError && e.code === 'rate_limit_exceeded');
}));
