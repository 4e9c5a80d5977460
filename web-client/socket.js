// One WebSocket to brugd for a page, shared by the visitor widget
// (visitor.js) and the staff console (staff/staff.js): opening, retrying
// with back-off, the first frame of every socket, and the network events.
//
// It keeps nothing beyond the socket and its retry timer: no storage of any
// kind. What a new socket says first (the visitor's hello with the resume
// token, the staff login) comes from the page each time, through `greeting`.

// Retry n (0 for the first since the last good connection) waits between
// half and all of STEP_MS * 2^n, at most maxDelayMs; the jitter keeps a
// crowd that lost the daemon together from coming back together.
const STEP_MS = 1000;

// Options, all optional:
// - greeting(): the frame to send as soon as a socket opens (an object), or
//   null to close that socket again (code 1000, reported like any close).
// - onMessage(m): each frame that parses as an object with a string `type`.
// - onState(state, detail): 'connecting' ({attempt}: retries since the
//   last good connection, 0 for a first try), 'open' (before the greeting
//   is sent), 'closed' ({code}). Only the current socket reports: one let go
//   by open(), close() or halt() says nothing more.
// - firstDelayMs: the wait before the first retry (default STEP_MS).
// - maxDelayMs: the cap of the wait (default 30000).
// - dropWhenOffline: on the browser's `offline` event let the socket go at
//   once and report it closed with 1006 (it would not notice for a long
//   time by itself).
// - retryWhenVisible: a retry waiting its turn goes at once when the page
//   becomes visible again.
// A retry waiting its turn always goes at once when the browser is back
// `online`.
//
// What counts as a good connection is the page's to say: it calls
// resetBackoff() then (on 'open', or once logged in). After a close the
// page decides whether to retry().
export function createSocket(options = {}) {
  const {
    greeting = () => null,
    onMessage = () => {},
    onState = () => {},
    firstDelayMs = STEP_MS,
    maxDelayMs = 30000,
    dropWhenOffline = false,
    retryWhenVisible = false,
  } = options;
  let ws = null;            // the current socket, or null
  let url = null;
  let protocol = null;
  let attempts = 0;         // retries since the last good connection
  let timer = null;         // the retry waiting its turn
  let halted = false;       // halt(): no socket any more on this page

  function connect() {
    clearTimeout(timer);
    timer = null;
    if (halted) return;
    onState('connecting', { attempt: attempts });
    let sock;
    try {
      sock = new WebSocket(url, protocol);
    } catch {
      retry();
      return;
    }
    ws = sock;
    sock.addEventListener('open', () => {
      if (sock !== ws) return;
      onState('open');
      if (sock !== ws) return;
      const first = greeting();
      if (first == null) {
        sock.close(1000);
        return;
      }
      sock.send(JSON.stringify(first));
    });
    sock.addEventListener('message', (ev) => {
      if (sock !== ws || typeof ev.data !== 'string') return;
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (m && typeof m === 'object' && typeof m.type === 'string') onMessage(m);
    });
    sock.addEventListener('close', (ev) => {
      if (sock !== ws) return;
      ws = null;
      onState('closed', { code: ev.code });
    });
  }

  // Let the current socket go without waiting for its close event (the
  // network may be gone, and the closing handshake with it).
  function drop(code) {
    const sock = ws;
    ws = null;
    if (sock) {
      try { sock.close(code); } catch { /* already closing */ }
    }
    return sock !== null;
  }

  function retry() {
    if (timer || halted) return;
    const base = attempts === 0 ? firstDelayMs : Math.min(maxDelayMs, STEP_MS * 2 ** attempts);
    attempts += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    timer = setTimeout(() => { timer = null; connect(); }, delay);
  }

  function retryNow() {
    if (timer) {
      clearTimeout(timer);
      timer = null;
      connect();
    }
  }

  window.addEventListener('online', retryNow);
  if (retryWhenVisible) {
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') retryNow();
    });
  }
  if (dropWhenOffline) {
    window.addEventListener('offline', () => {
      if (halted) return;
      if (drop()) onState('closed', { code: 1006 });
    });
  }

  return {
    // Open a socket to url with the subprotocol now, letting any current
    // one go (closed with 1000, unreported) and any waiting retry too.
    // Retries go to the same place. Both strings are borrowed.
    open(newUrl, newProtocol) {
      url = newUrl;
      protocol = newProtocol;
      drop(1000);
      connect();
    },
    // Send obj as JSON if the socket is open; whether it was.
    send(obj) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(obj));
      return true;
    },
    isOpen() {
      return ws !== null && ws.readyState === WebSocket.OPEN;
    },
    // Try again after the back-off (nothing if a retry already waits).
    retry,
    // The connection was good: the next retry waits the shortest again.
    resetBackoff() {
      attempts = 0;
    },
    // Stop: no retry, and the socket (if any) closed with code (1000 by
    // default) without reporting it. open() starts again.
    close(code = 1000) {
      clearTimeout(timer);
      timer = null;
      drop(code);
    },
    // The page is going (the visitor's quick exit): nothing opens any more
    // and no retry comes. A socket still connecting is let go; an open one
    // stays until the page goes, so that a frame just sent is not overtaken
    // by the close.
    halt() {
      halted = true;
      clearTimeout(timer);
      timer = null;
      if (ws && ws.readyState === WebSocket.CONNECTING) drop();
    },
  };
}
