'use strict';
// Interop peer: a scripted WebSocket SERVER built on the `ws` library. It
// drives `tether connect` through the scenarios in ../scenarios.md; the
// request path selects the scenario.
//
//   node node_server.js [--port 0] [--cert FILE --key FILE [--ca FILE]
//                       [--verify-client | --require-client-cert] [--tls-max 1.2]]
//
// Prints `listening on 127.0.0.1:PORT`, then one JSON report per connection.
// A path /pmd/SPEC/... sets the connection's permessage-deflate (one
// WebSocketServer per SPEC, sharing the HTTP(S) server).

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');
// ws's own negotiation code (its package exports do not list it: by path)
const wsLib = require('path').join(require('path').dirname(require.resolve('ws')), 'lib');
const PerMessageDeflate = require(`${wsLib}/permessage-deflate.js`);
const { parse: parseExtensions } = require(`${wsLib}/extension.js`);
const P = require('./payloads');

const STEP = 30000;
const SUPPORTED = ['chat', 'superchat'];

function report(fields) {
  process.stdout.write(JSON.stringify(fields) + '\n');
}

function pathOf(req) {
  return new URL(req.url, 'http://127.0.0.1').pathname;
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

async function sendAndCheck(c, messages) {
  for (const m of messages) {
    await send(c.ws, m);
    await expectEcho(c, m);
  }
}

async function finish(c, code = 1000, reason = 'done') {
  c.ws.close(code, reason);
  const closed = await c.inbox.whenClosed(STEP);
  return closed;
}

// '/pmd/SPEC/rest' -> [SPEC, '/rest']; other paths [null, path].
function splitPmd(path) {
  const parts = path.split('/');
  if (parts.length >= 4 && parts[1] === 'pmd') return [parts[2], '/' + parts.slice(3).join('/')];
  return [null, path];
}

// The scenario of a path: without the /pmd/SPEC prefix, and without the id
// that keeps /deflate/ID paths unique.
function scenarioOf(path) {
  const rest = splitPmd(path)[1];
  const m = /^\/(deflate|deflate-big|deflate-lite)\//.exec(rest);
  return m ? `/${m[1]}` : rest;
}

function tlsFields(req) {
  const sock = req.socket;
  if (typeof sock.getProtocol !== 'function') return {};
  const cert = sock.getPeerCertificate();
  return {
    tls_version: sock.getProtocol(),
    sni: sock.servername || null,
    client_cert_cn: (cert && cert.subject && cert.subject.CN) || null,
  };
}

async function run(c, path, fields) {
  path = scenarioOf(path);
  if (P.DEFLATE_KINDS.includes(path.slice(1))) {
    await sendAndCheck(c, P.deflatePayloads(path.slice(1)));
    await finish(c);
  } else if (path === '/text') {
    await sendAndCheck(c, P.TEXT);
    await finish(c);
  } else if (path === '/binary') {
    await sendAndCheck(c, P.BINARY);
    await finish(c);
  } else if (path === '/fragmented') {
    const F = P.FRAG_TEXT;
    c.ws.send(F[0], { binary: false, fin: false });
    c.ws.send(F[1], { binary: false, fin: false });
    c.ws.ping(Buffer.from('mid-fragment'));
    c.ws.send(F[2], { binary: false, fin: false });
    await send(c.ws, F[3], { binary: false, fin: true });
    await expectEcho(c, P.FRAG_TEXT_WHOLE);
    const B = P.FRAG_BIN;
    c.ws.send(B[0], { binary: true, fin: false });
    c.ws.send(B[1], { binary: true, fin: false });
    await send(c.ws, B[2], { binary: true, fin: true });
    await expectEcho(c, P.FRAG_BIN_WHOLE);
    await finish(c);
  } else if (path === '/big') {
    await sendAndCheck(c, [P.bigText(), P.bigBinary()]);
    await finish(c);
  } else if (path === '/ping') {
    const pong = new Promise((resolve) => c.ws.once('pong', resolve));
    c.ws.ping(P.SERVER_PING);
    const data = Buffer.from(await P.withTimeout(pong, STEP, 'pong'));
    if (!data.equals(P.SERVER_PING)) throw new Error(`pong payload ${data.toString('hex')} differs`);
    fields.pong = data.toString('hex');
    await sendAndCheck(c, ['after-ping']);
    await finish(c);
  } else if (path.startsWith('/close/')) {
    const [, , code, reason] = path.split('/');
    const closed = await finish(c, Number(code), decodeURIComponent(reason));
    if (closed.code === 1006) throw new Error('client never answered our close frame');
    fields.reply_code = closed.code;
  } else if (path === '/inspect' || path === '/echo') {
    const h = c.req.headers;
    fields.origin = h.origin === undefined ? null : h.origin;
    fields.x_tether_test = h['x-tether-test'] === undefined ? null : h['x-tether-test'];
    fields.offered = (h['sec-websocket-protocol'] || '').split(',').map((s) => s.trim()).filter((s) => s);
    fields.subprotocol = c.ws.protocol || null;
    const msgs = [];
    c.ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.concat([].concat(data));
      msgs.push(isBinary ? ['binary', buf.toString('hex')] : ['text', buf.toString('utf8')]);
      c.ws.send(buf, { binary: isBinary });
    });
    const closed = await c.inbox.whenClosed(60000);
    fields.messages = msgs;
    fields.close_code = closed.code === 1006 ? null : closed.code;
  } else {
    throw new Error(`unknown scenario path ${path}`);
  }
}

// ws's perMessageDeflate option for a server SPEC (false: refuse offers).
function pmdOption(spec) {
  const p = P.parsePmdSpec(spec);
  if (!p) return false;
  return {
    serverNoContextTakeover: p.snct || undefined,
    clientNoContextTakeover: p.cnct || undefined,
    serverMaxWindowBits: p.smwb || undefined,
    clientMaxWindowBits: typeof p.cmwb === 'number' ? p.cmwb : undefined,
    threshold: 0, // compress every message, small ones too
  };
}

function tlsServerOptions(o) {
  const t = { cert: fs.readFileSync(o.cert), key: fs.readFileSync(o.key) };
  if (o.ca) t.ca = fs.readFileSync(o.ca);
  if (o.require_client_cert) {
    t.requestCert = true;
    t.rejectUnauthorized = true;
  } else if (o.verify_client) {
    t.requestCert = true;
    t.rejectUnauthorized = false; // checked in verifyClient: a sent certificate must verify
  }
  if (o.tls_max === '1.2') t.maxVersion = 'TLSv1.2';
  return t;
}

function makeWss(spec) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 256 * P.MiB,
    perMessageDeflate: spec === null ? false : pmdOption(spec),
    handleProtocols: (protocols) => {
      for (const p of protocols) if (SUPPORTED.includes(p)) return p;
      return false;
    },
    verifyClient: (info, cb) => {
      const path = pathOf(info.req);
      const sock = info.req.socket;
      if (sock.authorized === false && sock.getPeerCertificate && sock.getPeerCertificate().subject) {
        cb(false, 403, 'client certificate refused');
        return;
      }
      if (path.startsWith('/reject/')) {
        const status = Number(path.split('/')[2]);
        report({ path, ok: true, error: null, rejected: status });
        cb(false, status, 'Rejected by interop peer');
        return;
      }
      cb(true);
    },
  });
  wss.on('headers', (headers, req) => {
    const h = headers.find((line) => /^sec-websocket-extensions:/i.test(line));
    req.extensionsSent = h ? h.replace(/^[^:]*:\s*/, '') : null;
  });
  wss.on('connection', (ws, req) => {
    const path = pathOf(req);
    const c = { ws, req, inbox: new P.Inbox(ws) };
    const fields = Object.assign({ path, ok: false, error: null }, tlsFields(req), {
      offer: req.headers['sec-websocket-extensions'] || null,
      extensions: req.extensionsSent || null,
    });
    ws.on('error', () => {});
    run(c, path, fields).then(() => { fields.ok = true; }, (e) => {
      fields.error = String(e && e.stack ? e.stack : e);
      ws.terminate();
    }).finally(() => report(fields));
  });
  return wss;
}

// ws answers HTTP 400 when it cannot accept a permessage-deflate offer
// (rather than declining the extension): report such a refusal first.
function refusedOffer(spec, req) {
  const offer = req.headers['sec-websocket-extensions'];
  if (spec === null || spec === 'off' || !offer) return;
  try {
    const offers = parseExtensions(offer)[PerMessageDeflate.extensionName];
    if (offers) new PerMessageDeflate({ ...pmdOption(spec), isServer: true }).accept(offers);
  } catch (e) {
    report({ path: pathOf(req), ok: true, error: null, pmd_refused: String(e.message), offer });
  }
}

function main() {
  const opts = P.parsePeerOpts(process.argv.slice(2))[0];
  const port = opts.port ? Number(opts.port) : 0;
  const server = opts.cert ? https.createServer(tlsServerOptions(opts)) : http.createServer();
  const servers = new Map(); // pmd SPEC (or null) -> WebSocketServer
  server.on('upgrade', (req, socket, head) => {
    const spec = splitPmd(pathOf(req))[0];
    refusedOffer(spec, req);
    if (!servers.has(spec)) servers.set(spec, makeWss(spec));
    const wss = servers.get(spec);
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  server.on('tlsClientError', () => {});
  server.listen(port, '127.0.0.1', () => {
    const a = server.address();
    process.stdout.write(`listening on ${a.address}:${a.port}\n`);
  });
  const stop = () => { process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
