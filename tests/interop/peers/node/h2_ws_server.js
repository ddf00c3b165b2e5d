'use strict';
// Interop peer: a TLS server on Node's own http2 module for tether's client
// (`tether connect --http2`), the WebSocket framing done by the `ws`
// library (its Sender, Receiver and WebSocketServer), echoing every message.
//
//   node h2_ws_server.js CERT KEY MODE
//
// MODE rfc8441: HTTP/2 with SETTINGS_ENABLE_CONNECT_PROTOCOL; an extended
//   CONNECT (:protocol websocket) is answered 200 and its stream echoes.
// MODE h2-only: HTTP/2 without extended CONNECT (so no WebSocket over it),
//   and HTTP/1.1 beside it (allowHTTP1) where ws does the usual upgrade.
// Prints "listening on 127.0.0.1:PORT", then one line per WebSocket:
// "ws http2 STREAM_ID" or "ws http/1.1".

const fs = require('fs');
const http2 = require('http2');
const WebSocket = require('ws');

const [cert, key, mode] = process.argv.slice(2);
const server = http2.createSecureServer({
  cert: fs.readFileSync(cert), key: fs.readFileSync(key), allowHTTP1: true,
  settings: { enableConnectProtocol: mode === 'rfc8441' },
});

// RFC 8441: the stream is the WebSocket's byte stream.
server.on('stream', (stream, headers) => {
  if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
    stream.respond({ ':status': 404 });
    stream.end();
    return;
  }
  if (headers['sec-websocket-version'] !== '13') {
    stream.respond({ ':status': 400 });
    stream.end();
    return;
  }
  stream.respond({ ':status': 200 });
  console.log(`ws http2 ${stream.id}`);
  const sender = new WebSocket.Sender(stream, {});
  const receiver = new WebSocket.Receiver({ isServer: true, maxPayload: 64 << 20 });
  receiver.on('message', (data, binary) => sender.send(data, { binary, mask: false, fin: true }));
  receiver.on('conclude', (code, reason) => {
    sender.close(code === 1005 ? undefined : code, reason, false, () => stream.end());
  });
  receiver.on('error', () => stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR));
  stream.on('data', (chunk) => receiver.write(chunk));
  stream.on('error', () => {});
});

// HTTP/1.1 beside it (allowHTTP1): ws's usual upgrade.
const wss = new WebSocket.Server({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    console.log('ws http/1.1');
    ws.on('message', (data, binary) => ws.send(data, { binary }));
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
