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

// ---- permessage-deflate (../scenarios.md, "Compression")

// n incompressible bytes: xorshift32, low byte of each step (= payloads.py).
function noise(n, seed = 0x9E3779B9) {
  let x = seed >>> 0;
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    b[i] = x & 0xff;
  }
  return b;
}

function deflateText(n) {
  const s = 'tether permessage-deflate interop, RFC 7692 \u2713 ';
  return s.repeat(Math.floor(n / s.length) + 1).slice(0, n);
}

const DEFLATE_KINDS = ['deflate', 'deflate-big', 'deflate-lite'];

// kind: deflate, deflate-big or deflate-lite (2000 bytes of noise), as payloads.py.
function deflatePayloads(kind) {
  if (kind === 'deflate-big') return [deflateText(4 * MiB), noise(MiB), pattern(4 * MiB), deflateText(4 * MiB)];
  return ['hello', 'hello', '', Buffer.alloc(0), Buffer.from([...Array(64).keys()]),
    'h\u00e9llo \u2713 '.repeat(30), deflateText(65536), noise(kind === 'deflate-lite' ? 2000 : 40000),
    pattern(100000), deflateText(65536)];
}

// 'on', 'off' or comma-separated snct, cnct, smwb=N, cmwb[=N]; null for off.
function parsePmdSpec(spec) {
  if (spec === 'off') return null;
  const out = { snct: false, cnct: false, smwb: null, cmwb: null };
  for (let tok of spec.split(',')) {
    tok = tok.trim();
    if (tok === '' || tok === 'on') continue;
    if (tok === 'snct' || tok === 'cnct') out[tok] = true;
    else if (tok === 'cmwb') out.cmwb = true;
    else if (/^(smwb|cmwb)=\d+$/.test(tok)) out[tok.slice(0, 4)] = Number(tok.slice(5));
    else throw new Error(`bad pmd spec token ${tok}`);
  }
  return out;
}

// Leading --name [value] options shared by the peers.
function parsePeerOpts(argv) {
  const flags = new Set(['no-pmd', 'verify-client', 'require-client-cert']);
  const opts = {};
  let i = 0;
  while (i < argv.length && argv[i].startsWith('--')) {
    const name = argv[i].slice(2).replace(/-/g, '_');
    if (flags.has(argv[i].slice(2))) { opts[name] = true; i += 1; } else { opts[name] = argv[i + 1]; i += 2; }
  }
  return [opts, argv.slice(i)];
}

module.exports = {
  noise, deflatePayloads, DEFLATE_KINDS, parsePmdSpec, parsePeerOpts,
  MiB, pattern, TEXT, BINARY, FRAG_TEXT, FRAG_TEXT_WHOLE, FRAG_BIN,
  FRAG_BIN_WHOLE, bigText, bigBinary, CLIENT_PING, SERVER_PING, describe,
  same, Inbox, withTimeout,
};
