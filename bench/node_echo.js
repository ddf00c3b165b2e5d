'use strict';
// A WebSocket echo server on the Node `ws` library, for benchmarking tether
// side by side with it: text echoed as text, binary as binary.
//   node node_echo.js [--port N]     prints "listening on 127.0.0.1:PORT"
const { WebSocketServer } = require('ws');

const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 0;
const wss = new WebSocketServer({ host: '127.0.0.1', port, maxPayload: 64 * 1024 * 1024 });
wss.on('listening', () => {
  process.stdout.write(`listening on 127.0.0.1:${wss.address().port}\n`);
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
process.on('SIGTERM', () => process.exit(0));
