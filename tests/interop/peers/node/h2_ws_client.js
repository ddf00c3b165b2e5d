'use strict';
// Interop peer: WebSockets over HTTP/2 (RFC 8441) with Node's own http2
// client, the framing done by the `ws` library's Sender and Receiver (and
// its permessage-deflate), so nothing of the protocol is written here.
//
//   node h2_ws_client.js URL STREAMS [--ca FILE] [--pmd]
//
// URL is http://HOST:PORT/PATH (h2c, prior knowledge) or https://... (h2 by
// ALPN). Opens STREAMS WebSockets at once on ONE HTTP/2 connection; on each
// sends a text message, a 1 MiB binary message (past every flow-control
// window) and a close, and checks the echoes and the close reply. Prints
// one JSON line: {"ok": ..., "error": ..., "streams": ..., ...}.

const fs = require('fs');
const http2 = require('http2');
const crypto = require('crypto');
const path = require('path');
const WebSocket = require('ws');
// ws exports only its main module; its deflate and header helpers by path
const wsLib = path.join(path.dirname(require.resolve('ws')), 'lib');
const PerMessageDeflate = require(path.join(wsLib, 'permessage-deflate.js'));
const extension = require(path.join(wsLib, 'extension.js'));

const TIMEOUT = 30000;
const BIG = 1024 * 1024;

function done(report) {
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(report.ok ? 0 : 1);
}

const args = process.argv.slice(2);
const url = new URL(args[0]);
const streams = parseInt(args[1], 10);
const caAt = args.indexOf('--ca');
const usePmd = args.includes('--pmd');
const report = { ok: false, streams, opened: 0, echoed: 0, closed: 0, status: [],
                 extensions: [], connect_protocol: null, sessions: 1 };
setTimeout(() => done({ ...report, error: 'timed out' }), TIMEOUT).unref();

const opts = {};
if (caAt >= 0) opts.ca = fs.readFileSync(args[caAt + 1]);
const session = http2.connect(url.origin, opts);
session.on('error', (e) => done({ ...report, error: 'session: ' + e.message }));

// One WebSocket on its own stream.
function open(i) {
  return new Promise((resolve, reject) => {
    const headers = {
      ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': url.protocol.slice(0, -1),
      ':path': url.pathname, ':authority': url.host, 'sec-websocket-version': '13',
      origin: url.origin,
    };
    let pmd = null;
    if (usePmd) {
      pmd = new PerMessageDeflate({}, false, 0);
      headers['sec-websocket-extensions'] = extension.format({
        [PerMessageDeflate.extensionName]: pmd.offer() });
    }
    const req = session.request(headers, { endStream: false });
    req.on('error', reject);
    req.on('response', (h) => {
      report.status.push(h[':status']);
      if (h[':status'] !== 200) return reject(new Error('status ' + h[':status']));
      const exts = {};
      const offered = h['sec-websocket-extensions'];
      if (offered) {
        report.extensions.push(offered);
        const accepted = extension.parse(offered)[PerMessageDeflate.extensionName];
        pmd.accept(accepted);
        exts[PerMessageDeflate.extensionName] = pmd;
      }
      report.opened++;
      talk(i, req, exts).then(resolve, reject);
    });
  });
}

function talk(i, req, exts) {
  return new Promise((resolve, reject) => {
    const sender = new WebSocket.Sender(req, exts);
    const receiver = new WebSocket.Receiver({ isServer: false, extensions: exts,
                                               maxPayload: 4 * BIG });
    const text = `hello over stream ${i}`;
    const big = crypto.randomBytes(BIG);
    const want = [[text, false], [big, true]];
    const compress = !!exts[PerMessageDeflate.extensionName];
    receiver.on('message', (data, binary) => {
      const [exp, expBinary] = want.shift() || [];
      if (exp === undefined || binary !== expBinary ||
          Buffer.compare(Buffer.from(data), Buffer.from(exp)) !== 0)
        return reject(new Error(`stream ${i}: wrong echo`));
      report.echoed++;
      if (!want.length) sender.close(1000, 'bye', true);
    });
    receiver.on('conclude', (code) => {
      if (code !== 1000) return reject(new Error(`stream ${i}: close ${code}`));
      report.closed++;
      req.end(); // our END_STREAM after the close frames (RFC 8441 6)
    });
    receiver.on('error', reject);
    req.on('data', (chunk) => receiver.write(chunk));
    req.on('end', () => (want.length ? reject(new Error(`stream ${i}: ended early`))
                                     : resolve()));
    sender.send(text, { binary: false, mask: true, compress, fin: true });
    sender.send(big, { binary: true, mask: true, compress, fin: true });
  });
}

session.on('remoteSettings', (s) => {
  if (report.connect_protocol !== null) return;
  report.connect_protocol = !!s.enableConnectProtocol;
  if (!s.enableConnectProtocol) return done({ ...report, error: 'no SETTINGS_ENABLE_CONNECT_PROTOCOL' });
  const all = [];
  for (let i = 0; i < streams; i++) all.push(open(i));
  Promise.all(all).then(() => {
    session.close();
    done({ ...report, ok: true });
  }, (e) => done({ ...report, error: e.message }));
});
