'use strict';
// Test payloads shared by the Node peers; must match ../payloads.py
// (see ../scenarios.md).

const MiB = 1024 * 1024;

function pattern(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

const TEXT = ['hello', '', 'héllo wörld ✓ 日本語 🎉', 'A'.repeat(200),
  '0123456789'.repeat(7000)];
const BINARY = [Buffer.from([...Array(256).keys()]), Buffer.alloc(0),
  Buffer.from([0]), pattern(70000)];
const FRAG_TEXT = [Buffer.from('frag'), Buffer.from('mented \xe2', 'latin1'),
  Buffer.from('\x9c\x93 mes', 'latin1'), Buffer.from('sage')];
const FRAG_TEXT_WHOLE = 'fragmented ✓ message';
const FRAG_BIN = [pattern(1000).subarray(0, 300), pattern(1000).subarray(300, 301),
  pattern(1000).subarray(301)];
const FRAG_BIN_WHOLE = pattern(1000);

const bigText = () => '0123456789abcdef'.repeat(MiB);
const bigBinary = () => pattern(16 * MiB);

const CLIENT_PING = Buffer.from('tether-ping\x00\xff', 'latin1');
const SERVER_PING = Buffer.from('server-ping\x01\x02', 'latin1');

// A received message as [isBinary, value]: text as string, binary as Buffer.
function describe(m) {
  const [isBinary, v] = m;
  return `${isBinary ? 'binary' : 'text'}[${v.length}] ` +
    JSON.stringify(isBinary ? v.subarray(0, 40).toString('hex') : v.slice(0, 40));
}

function same(sent, got) {
  const sentBinary = Buffer.isBuffer(sent);
  const [isBinary, v] = got;
  if (sentBinary !== isBinary) return false;
  return sentBinary ? sent.equals(v) : sent === v;
}

// Per-socket FIFO of received messages with timeouts.
class Inbox {
  constructor(ws) {
    this.items = [];
    this.waiters = [];
    this.closed = null;
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.concat([].concat(data));
      this.push([isBinary, isBinary ? buf : buf.toString('utf8')]);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.wake();
    });
  }
  push(m) { this.items.push(m); this.wake(); }
  wake() { const w = this.waiters; this.waiters = []; w.forEach((f) => f()); }
  next(timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timeout waiting for message')), timeoutMs);
      const check = () => {
        if (this.items.length) { clearTimeout(t); resolve(this.items.shift()); return; }
        if (this.closed) { clearTimeout(t); const e = new Error(`closed ${this.closed.code}`); e.closed = this.closed; reject(e); return; }
        this.waiters.push(check);
      };
      check();
    });
  }
  whenClosed(timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timeout waiting for close')), timeoutMs);
      const check = () => {
        if (this.closed) { clearTimeout(t); resolve(this.closed); return; }
        this.waiters.push(check);
      };
      check();
    });
  }
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms);
  })]).finally(() => clearTimeout(t));
}

module.exports = {
  MiB, pattern, TEXT, BINARY, FRAG_TEXT, FRAG_TEXT_WHOLE, FRAG_BIN,
  FRAG_BIN_WHOLE, bigText, bigBinary, CLIENT_PING, SERVER_PING, describe,
  same, Inbox, withTimeout,
};
