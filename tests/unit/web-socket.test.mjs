// web-client/socket.js in Node with a fake WebSocket, window, document and
// clock: the back-off of both pages, the greeting on every open, which
// sockets report, and the network events (offline, online, visible).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

// ---- fakes -----------------------------------------------------------------
class FakeSocket extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static all = [];
  static refuse = false;   // the next constructor call throws

  constructor(url, protocol) {
    super();
    if (FakeSocket.refuse) {
      FakeSocket.refuse = false;
      throw new SyntaxError('refused');
    }
    this.url = url;
    this.protocol = protocol;
    this.readyState = FakeSocket.CONNECTING;
    this.sent = [];
    this.closedWith = [];
    FakeSocket.all.push(this);
  }

  send(data) { this.sent.push(data); }
  close(code) { this.closedWith.push(code); this.readyState = FakeSocket.CLOSING; }

  // What the browser would do.
  opened() { this.readyState = FakeSocket.OPEN; this.dispatchEvent(new Event('open')); }
  frame(data) { this.dispatchEvent(Object.assign(new Event('message'), { data })); }
  closed(code) { this.readyState = FakeSocket.CLOSED; this.dispatchEvent(Object.assign(new Event('close'), { code })); }
}

// A clock moved by hand: setTimeout and clearTimeout of the module.
const clock = {
  now: 0,
  timers: new Map(),
  next: 1,
  set(fn, ms) { const id = this.next++; this.timers.set(id, { at: this.now + ms, ms, fn }); return id; },
  clear(id) { this.timers.delete(id); },
  // The waits of the timers now set, in ms.
  waits() { return [...this.timers.values()].map((t) => t.ms); },
  advance(ms) {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  },
};

globalThis.WebSocket = FakeSocket;
globalThis.window = new EventTarget();
globalThis.document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
globalThis.setTimeout = (fn, ms) => clock.set(fn, ms);
globalThis.clearTimeout = (id) => clock.clear(id);
let random = 1;
Math.random = () => random;

const { createSocket } = await import('../../web-client/socket.js');

const URL = 'wss://brug.test/ws/visitor';
const PROTO = 'brug-visitor.v1';

// A socket whose reports are recorded; greeting as given. Each test's
// sockets are closed before the next (their listeners stay on window).
const made = [];
function make(options = {}) {
  const log = [];
  const link = createSocket({
    greeting: () => ({ type: 'hello' }),
    onMessage: (m) => log.push(['msg', m]),
    onState: (state, detail) => log.push([state, detail]),
    ...options,
  });
  made.push(link);
  return { link, log };
}

const last = () => FakeSocket.all[FakeSocket.all.length - 1];

// Open, then fail every socket and retry, n times: the waits in order.
function waitsOf(link, n) {
  const waits = [];
  link.open(URL, PROTO);
  for (let i = 0; i < n; i++) {
    last().closed(1006);
    link.retry();
    waits.push(...clock.waits());
    clock.advance(30000);
  }
  return waits;
}

beforeEach(() => {
  for (const link of made.splice(0)) link.close();
  FakeSocket.all = [];
  FakeSocket.refuse = false;
  clock.timers.clear();
  random = 1;
});

// ---- back-off ----------------------------------------------------------------
test('back-off: doubles from 1 s to the 30 s cap, the widget\'s values', () => {
  const { link } = make();
  assert.deepEqual(waitsOf(link, 7), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
});

test('back-off: the console\'s first retry comes after at most 0.5 s', () => {
  const { link } = make({ firstDelayMs: 500 });
  assert.deepEqual(waitsOf(link, 3), [500, 2000, 4000]);
});

test('back-off: jitter waits between half and all of the step', () => {
  random = 0;
  const { link } = make();
  assert.deepEqual(waitsOf(link, 3), [500, 1000, 2000]);
  random = 0.5;
  const other = make({ firstDelayMs: 500 });
  assert.deepEqual(waitsOf(other.link, 2), [375, 1500]);
});

test('back-off: resetBackoff starts from the shortest again; retry waits only once', () => {
  const { link, log } = make();
  waitsOf(link, 3);
  last().closed(1006);
  link.retry();
  link.retry();
  assert.deepEqual(clock.waits(), [8000], 'one retry waiting');
  clock.advance(8000);
  assert.deepEqual(log.filter(([s]) => s === 'connecting').map(([, d]) => d.attempt), [0, 1, 2, 3, 4]);
  link.resetBackoff();
  last().closed(1006);
  link.retry();
  assert.deepEqual(clock.waits(), [1000]);
});

test('a socket that cannot be made is retried', () => {
  const { link } = make();
  FakeSocket.refuse = true;
  link.open(URL, PROTO);
  assert.equal(FakeSocket.all.length, 0);
  assert.deepEqual(clock.waits(), [1000]);
  clock.advance(1000);
  assert.equal(FakeSocket.all.length, 1);
  assert.equal(last().url, URL);
  assert.equal(last().protocol, PROTO);
});

// ---- greeting and frames -----------------------------------------------------------
test('every new socket sends the greeting first, asked anew each time', () => {
  let n = 0;
  const { link, log } = make({ greeting: () => ({ type: 'hello', n: ++n }) });
  link.open(URL, PROTO);
  assert.equal(link.isOpen(), false);
  assert.equal(link.send({ type: 'x' }), false, 'nothing sent before open');
  last().opened();
  assert.deepEqual(last().sent, ['{"type":"hello","n":1}']);
  assert.deepEqual(log.map(([s]) => s), ['connecting', 'open']);
  last().closed(1006);
  link.retry();
  clock.advance(1000);
  last().opened();
  assert.deepEqual(last().sent, ['{"type":"hello","n":2}'], 'the resume on the new socket');
  assert.equal(link.send({ type: 'msg', text: 'hoi' }), true);
  assert.deepEqual(last().sent.slice(1), ['{"type":"msg","text":"hoi"}']);
});

test('no greeting: the socket closes with 1000 and says so', () => {
  const { link, log } = make({ greeting: () => null });
  link.open(URL, PROTO);
  last().opened();
  assert.deepEqual(last().sent, []);
  assert.deepEqual(last().closedWith, [1000]);
  last().closed(1000);
  assert.deepEqual(log.at(-1), ['closed', { code: 1000 }]);
});

test('only frames that are objects with a string type reach onMessage', () => {
  const { link, log } = make();
  link.open(URL, PROTO);
  last().opened();
  for (const data of ['not json', '"str"', '3', 'null', '{"type":5}', '{}', new ArrayBuffer(2), '{"type":"queue","position":1}']) {
    last().frame(data);
  }
  assert.deepEqual(log.filter(([s]) => s === 'msg'), [['msg', { type: 'queue', position: 1 }]]);
});

// ---- which socket reports ----------------------------------------------------------
test('close(): the socket goes with its code, unreported, and no retry comes', () => {
  const { link, log } = make();
  link.open(URL, PROTO);
  const sock = last();
  sock.opened();
  sock.closed(1006);
  link.retry();
  clock.advance(1000);
  last().opened();
  link.close(1000);
  assert.deepEqual(last().closedWith, [1000]);
  const before = log.length;
  last().closed(1000);
  last().frame('{"type":"msg"}');
  assert.equal(log.length, before, 'a socket let go says nothing');
  link.retry();
  link.close();
  assert.deepEqual(clock.waits(), [], 'close() also cancels a waiting retry');
});

test('open() lets the current socket go (1000) and a waiting retry', () => {
  const { link, log } = make();
  link.open(URL, PROTO);
  const old = last();
  old.opened();
  link.open(URL, PROTO);
  assert.deepEqual(old.closedWith, [1000]);
  assert.equal(FakeSocket.all.length, 2);
  const before = log.length;
  old.closed(1000);
  assert.equal(log.length, before);
  last().closed(1006);
  link.retry();
  link.open(URL, PROTO);
  assert.deepEqual(clock.waits(), []);
  assert.equal(FakeSocket.all.length, 3);
});

test('halt(): a connecting socket goes, an open one stays, nothing opens again', () => {
  const a = make();
  a.link.open(URL, PROTO);
  const connecting = last();
  a.link.halt();
  assert.deepEqual(connecting.closedWith, [undefined]);
  a.link.retry();
  a.link.open(URL, PROTO);
  assert.deepEqual(clock.waits(), []);
  assert.equal(FakeSocket.all.length, 1);

  const b = make({ dropWhenOffline: true });
  b.link.open(URL, PROTO);
  const open = last();
  open.opened();
  assert.equal(b.link.send({ type: 'end', quick_exit: true }), true);
  b.link.halt();
  window.dispatchEvent(new Event('offline'));
  assert.deepEqual(open.closedWith, [], 'the end frame is not overtaken');
  open.closed(1000);
  assert.deepEqual(b.log.at(-1), ['closed', { code: 1000 }]);
  b.link.retry();
  assert.deepEqual(clock.waits(), []);
});

// ---- network events ------------------------------------------------------------------
test('offline: with dropWhenOffline the socket goes at once, reported as 1006', () => {
  const a = make({ dropWhenOffline: true });
  const b = make();
  a.link.open(URL, PROTO);
  const sa = last();
  b.link.open(URL, PROTO);
  const sb = last();
  sa.opened();
  sb.opened();
  window.dispatchEvent(new Event('offline'));
  assert.deepEqual(sa.closedWith, [undefined]);
  assert.deepEqual(a.log.at(-1), ['closed', { code: 1006 }]);
  assert.equal(a.link.isOpen(), false);
  assert.deepEqual(sb.closedWith, [], 'without the option the socket stays');
  assert.equal(b.link.isOpen(), true);
  const before = a.log.length;
  window.dispatchEvent(new Event('offline'));
  assert.equal(a.log.length, before, 'no socket, nothing to report');
  a.link.close();
  b.link.close();
});

test('online: a waiting retry goes at once; visible: only with retryWhenVisible', () => {
  const a = make({ retryWhenVisible: true });
  const b = make();
  a.link.open(URL, PROTO);
  last().closed(1006);
  b.link.open(URL, PROTO);
  last().closed(1006);
  a.link.retry();
  b.link.retry();
  document.dispatchEvent(new Event('visibilitychange'));
  assert.equal(FakeSocket.all.length, 3, 'the widget comes back when seen');
  assert.deepEqual(clock.waits(), [1000], 'the console waits its turn');
  window.dispatchEvent(new Event('online'));
  assert.equal(FakeSocket.all.length, 4);
  assert.deepEqual(clock.waits(), []);
  window.dispatchEvent(new Event('online'));
  assert.equal(FakeSocket.all.length, 4, 'nothing waiting, nothing opened');
  a.link.close();
  b.link.close();
});
