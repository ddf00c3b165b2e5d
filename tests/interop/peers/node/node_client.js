'use strict';
// Interop peer: a scripted WebSocket CLIENT built on the `ws` library, used
// against `tether serve`. See ../scenarios.md.
//
//   node node_client.js [OPTIONS] URL SCENARIO [ARGS...]
//
// OPTIONS (../scenarios.md): --ca FILE, --cert FILE --key FILE,
// --server-name NAME, --tls-max 1.2, --pmd SPEC, --no-pmd.
// Prints one JSON line: {"ok": ..., "error": ..., ...}.

const fs = require('fs');
const WebSocket = require('ws');
const P = require('./payloads');

const STEP = 30000;
const MAX = 256 * P.MiB;
let OPTS = {};

// ws's perMessageDeflate option for a SPEC (false: do not offer).
function pmdOption(spec) {
  const p = P.parsePmdSpec(spec);
  if (!p) return false;
  return {
    serverNoContextTakeover: p.snct || undefined,
    clientNoContextTakeover: p.cnct || undefined,
    serverMaxWindowBits: p.smwb || undefined,
    clientMaxWindowBits: p.cmwb === null ? false : p.cmwb,
    threshold: 0, // compress every message, small ones too
  };
}

function clientOptions(url, pmd) {
  const o = { maxPayload: MAX, handshakeTimeout: STEP };
  if (url.startsWith('wss:')) {
    if (OPTS.ca) o.ca = fs.readFileSync(OPTS.ca);
    if (OPTS.cert) o.cert = fs.readFileSync(OPTS.cert);
    if (OPTS.key) o.key = fs.readFileSync(OPTS.key);
    if (OPTS.server_name) o.servername = OPTS.server_name;
    if (OPTS.tls_max === '1.2') o.maxVersion = 'TLSv1.2';
  }
  pmd = pmd || OPTS.pmd;
  if (OPTS.no_pmd) o.perMessageDeflate = false;
  else if (pmd) o.perMessageDeflate = pmdOption(pmd);
  return o;
}

function tlsInfo(ws) {
  const sock = ws._socket;
  if (!sock || typeof sock.getProtocol !== 'function') return {};
  const cert = sock.getPeerCertificate();
  return { tls_version: sock.getProtocol(), server_cert_cn: (cert && cert.subject && cert.subject.CN) || null };
}

function open(url, protocols, pmd) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols || [], clientOptions(url, pmd));
    const inbox = new P.Inbox(ws);
    let extensions = null;
    ws.once('upgrade', (res) => { extensions = res.headers['sec-websocket-extensions'] || null; });
    ws.once('open', () => resolve({ ws, inbox, extensions }));
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
  const info = Object.assign(tlsInfo(c.ws), { extensions: c.extensions });
  for (const m of messages) {
    await send(c.ws, m);
    await expectEcho(c, m);
  }
  await closeAndWait(c, 1000);
  return info;
}

// One connection per SPEC (default: --pmd, else 'on'), each sending the
// deflate payloads and checking the echoes; reports every run.
async function deflate(url, kind, specs) {
  const runs = [];
  const list = specs.length ? specs : [OPTS.pmd || 'on'];
  for (let i = 0; i < list.length; i++) {
    const spec = list[i];
    const run = { spec, ok: false, error: null, extensions: null };
    try {
      const c = await open(`${url.replace(/\/$/, '')}/run${i}`, [], spec);
      run.extensions = c.extensions;
      Object.assign(run, tlsInfo(c.ws));
      try {
        for (const m of P.deflatePayloads(kind)) {
          await send(c.ws, m);
          await expectEcho(c, m);
        }
        const closed = await closeAndWait(c, 1000);
        if (closed.code !== 1000) throw new Error(`server answered close with ${closed.code}`);
      } finally {
        c.ws.terminate();
      }
      run.ok = true;
    } catch (e) {
      run.error = String(e && e.message ? e.message : e);
    }
    runs.push(run);
  }
  const bad = runs.filter((r) => !r.ok);
  const out = { runs };
  if (bad.length) out.error = `${bad.length} of ${runs.length} runs failed, first: ${JSON.stringify(bad[0])}`;
  return out;
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
  deflate: (u, ...specs) => deflate(u, 'deflate', specs),
  'deflate-big': (u, ...specs) => deflate(u, 'deflate-big', specs),
  'deflate-lite': (u, ...specs) => deflate(u, 'deflate-lite', specs),
};

async function main() {
  const [opts, argv] = P.parsePeerOpts(process.argv.slice(2));
  OPTS = opts;
  const [url, scenario, ...args] = argv;
  const result = { ok: false, error: null };
  const fn = SCENARIOS[scenario];
  try {
    if (!fn) throw new Error(`unknown scenario ${scenario}`);
    Object.assign(result, await fn(url, ...args));
    result.ok = !result.error;
  } catch (e) {
    result.error = String(e && e.stack ? e.stack : e);
  }
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
}

main();
