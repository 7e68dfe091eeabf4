// lib/fake.js: start one of opsbot's stand-ins (fake-slack, fake-discord) on a
// kernel-picked port for an SDK test, talk to its control API, wait for
// conditions with a deadline (never a fixed sleep), stop it at the end.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const BIN = process.env.OPSBOT_BIN || path.resolve(__dirname, '../../../build/bin');

async function waitFor(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e.fatal) throw e;
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for: ${what}${last ? ` (${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function startFake(name, args = [], env = {}, portFlag = '--port-file') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `opsbot-sdk-${name}-`));
  const portFile = path.join(dir, 'port');
  const logFile = path.join(dir, `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(path.join(BIN, name), [portFlag, portFile, ...args], {
    stdio: ['ignore', out, out],
    env: { ...process.env, ...env },
  });
  fs.closeSync(out);
  let exited = null;
  child.on('exit', (code, sig) => { exited = { code, sig }; });
  const port = await waitFor(`${name} port file`, () => {
    if (exited) {
      const e = new Error(`${name} exited: ${JSON.stringify(exited)}\n${fs.readFileSync(logFile, 'utf8')}`);
      e.fatal = true;
      throw e;
    }
    const t = fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8').trim() : '';
    return t ? Number(t) : 0;
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    port,
    base,
    dir,
    log: () => fs.readFileSync(logFile, 'utf8'),
    async get(p) {
      const r = await fetch(base + p);
      const t = await r.text();
      if (!r.ok) throw new Error(`GET ${p}: ${r.status} ${t}`);
      return JSON.parse(t);
    },
    async post(p, body = {}) {
      const r = await fetch(base + p, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const t = await r.text();
      if (!r.ok) throw new Error(`POST ${p}: ${r.status} ${t}`);
      return t ? JSON.parse(t) : {};
    },
    async stop(keep = false) {
      if (!exited) {
        child.kill('SIGTERM');
        await waitFor(`${name} exits`, () => exited, 5000).catch(() => child.kill('SIGKILL'));
      }
      if (keep) console.error(`kept ${dir}`);
      else fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startFake, waitFor };
