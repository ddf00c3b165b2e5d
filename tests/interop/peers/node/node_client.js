'use strict';
// Interop peer: a scripted WebSocket CLIENT built on the `ws` library, used
// against `tether serve`. See ../scenarios.md.
//
//   node node_client.js URL SCENARIO [ARGS...]
//
// Prints one JSON line: {"ok": ..., "error": ..., ...}.

const WebSocket = require('ws');
const P = require('./payloads');

const STEP = 30000;
const MAX = 256 * P.MiB;

function open(url, protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols || [], { maxPayload: MAX, handshakeTimeout: STEP });
    const inbox = new P.Inbox(ws);
    ws.once('open', () => resolve({ ws, inbox }));
    ws.once('unexpected-response', (req, res) => {
      const e = new Error(`unexpected response ${res.statusCode}`);
      e.status = res.statusCode;
      req.destroy();
      reject(e);
    });
    ws.once('error', reject);
  });
}

function send(ws, data, opts) {
  return new Promise((resolve, reject) => {
    ws.send(data, opts || {}, (err) => (err ? reject(err) : resolve()));
  });
}

async function expectEcho(c, sent) {
  const got = await c.inbox.next(STEP);
  if (!P.same(sent, got)) {
    throw new Error(`echo mismatch: sent ${P.describe([Buffer.isBuffer(sent), sent])} got ${P.describe(got)}`);
  }
}

async function closeAndWait(c, code, reason) {
  c.ws.close(code, reason);
  return c.inbox.whenClosed(STEP);
}

async function echoAll(url, messages) {
  const c = await open(url);
  for (const m of messages) {
    await send(c.ws, m);
    await expectEcho(c, m);
  }
  await closeAndWait(c, 1000);
  return {};
}

async function fragmented(url) {
  const c = await open(url);
  const F = P.FRAG_TEXT;
  c.ws.send(F[0], { binary: false, fin: false });
  c.ws.send(F[1], { binary: false, fin: false });
  c.ws.ping(Buffer.from('mid-fragment'));   // control frame between fragments
  c.ws.send(F[2], { binary: false, fin: false });
  await send(c.ws, F[3], { binary: false, fin: true });
  await expectEcho(c, P.FRAG_TEXT_WHOLE);
  const B = P.FRAG_BIN;
  c.ws.send(B[0], { binary: true, fin: false });
  c.ws.send(B[1], { binary: true, fin: false });
  await send(c.ws, B[2], { binary: true, fin: true });
  await expectEcho(c, P.FRAG_BIN_WHOLE);
  await closeAndWait(c, 1000);
  return {};
}

async function ping(url) {
  const c = await open(url);
  const pong = new Promise((resolve) => c.ws.once('pong', resolve));
  c.ws.ping(P.CLIENT_PING);
  const data = await P.withTimeout(pong, STEP, 'pong');
  if (!Buffer.from(data).equals(P.CLIENT_PING)) {
    throw new Error(`pong payload ${Buffer.from(data).toString('hex')} != ping payload`);
  }
  await send(c.ws, 'after-ping');
  await expectEcho(c, 'after-ping');
  await closeAndWait(c, 1000);
  return { pong: Buffer.from(data).toString('hex') };
}

async function close(url, code, reason) {
  const c = await open(url);
  await send(c.ws, 'before-close');
  await expectEcho(c, 'before-close');
  const closed = await closeAndWait(c, Number(code), reason);
  if (closed.code === 1006) {
    throw new Error(`no close frame from the server (code ${closed.code})`);
  }
  return { rcvd_code: closed.code, rcvd_reason: closed.reason };
}

async function tooBig(url, size) {
  const c = await open(url);
  await send(c.ws, P.pattern(Number(size)));
  try {
    const got = await c.inbox.next(STEP);
    throw new Error(`server echoed an over-limit message: ${P.describe(got)}`);
  } catch (e) {
    if (!e.closed) throw e;
    if (e.closed.code === 1006) throw new Error('connection dropped without a close frame');
    return { rcvd_code: e.closed.code, rcvd_reason: e.closed.reason };
  }
}

async function subprotocol(url, offered) {
  const c = await open(url, offered.split(',').filter((p) => p));
  const chosen = c.ws.protocol || null;
  await send(c.ws, 'proto');
  await expectEcho(c, 'proto');
  await closeAndWait(c, 1000);
  return { subprotocol: chosen };
}

async function status(url) {
  try {
    const c = await open(url);
    await closeAndWait(c, 1000);
  } catch (e) {
    if (e.status) return { status: e.status };
    throw e;
  }
  throw new Error('handshake unexpectedly succeeded');
}

async function broadcast(url) {
  // One client at a time: a client's own message coming back proves the
  // server registered it.
  const a = await open(url);
  await send(a.ws, 'hello-from-a');
  await expectEcho(a, 'hello-from-a');
  const b = await open(url);
  await send(b.ws, 'hello-from-b');
  await expectEcho(b, 'hello-from-b');
  await expectEcho(a, 'hello-from-b');
  await send(a.ws, 'from-a');
  await expectEcho(a, 'from-a');
  await expectEcho(b, 'from-a');
  const data = P.pattern(5000);
  await send(b.ws, data);
  await expectEcho(a, data);
  await expectEcho(b, data);
  await closeAndWait(b, 1000);
  await closeAndWait(a, 1000);
  return {};
}

const SCENARIOS = {
  'echo-text': (u) => echoAll(u, P.TEXT),
  'echo-binary': (u) => echoAll(u, P.BINARY),
  'echo-fragmented': fragmented,
  'echo-big': (u) => echoAll(u, [P.bigText(), P.bigBinary()]),
  ping,
  close,
  'too-big': tooBig,
  subprotocol,
  status,
  broadcast,
};

async function main() {
  const [url, scenario, ...args] = process.argv.slice(2);
  const result = { ok: false, error: null };
  const fn = SCENARIOS[scenario];
  try {
    if (!fn) throw new Error(`unknown scenario ${scenario}`);
    Object.assign(result, await fn(url, ...args));
    result.ok = true;
  } catch (e) {
    result.error = String(e && e.stack ? e.stack : e);
  }
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
}

main();
