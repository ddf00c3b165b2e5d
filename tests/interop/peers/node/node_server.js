'use strict';
// Interop peer: a scripted WebSocket SERVER built on the `ws` library. It
// drives `tether connect` through the scenarios in ../scenarios.md; the
// request path selects the scenario.
//
//   node node_server.js [--port 0]
//
// Prints `listening on 127.0.0.1:PORT`, then one JSON report per connection.

const { WebSocketServer } = require('ws');
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

async function run(c, path, fields) {
  if (path === '/text') {
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

function main() {
  const i = process.argv.indexOf('--port');
  const port = i >= 0 ? Number(process.argv[i + 1]) : 0;
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port,
    maxPayload: 256 * P.MiB,
    handleProtocols: (protocols) => {
      for (const p of protocols) if (SUPPORTED.includes(p)) return p;
      return false;
    },
    verifyClient: (info, cb) => {
      const path = pathOf(info.req);
      if (path.startsWith('/reject/')) {
        const status = Number(path.split('/')[2]);
        report({ path, ok: true, error: null, rejected: status });
        cb(false, status, 'Rejected by interop peer');
        return;
      }
      cb(true);
    },
  });
  wss.on('listening', () => {
    const a = wss.address();
    process.stdout.write(`listening on ${a.address}:${a.port}\n`);
  });
  wss.on('connection', (ws, req) => {
    const path = pathOf(req);
    const c = { ws, req, inbox: new P.Inbox(ws) };
    const fields = { path, ok: false, error: null };
    ws.on('error', () => {});
    run(c, path, fields).then(() => { fields.ok = true; }, (e) => {
      fields.error = String(e && e.stack ? e.stack : e);
      ws.terminate();
    }).finally(() => report(fields));
  });
  const stop = () => { wss.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
