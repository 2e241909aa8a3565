// Onebar's live stream (MIT). onebar.js imports this module when its /api/me
// answer lists it in "modules" (the service runs a stream: GET /api/events,
// onebar/live.py). Docs: docs/bar.md, "Live updates".
//
// While this tab is visible and signed in, it reads the stream with fetch()
// (not EventSource: fetch can send a site credential as a Bearer header, and
// can be closed at will). On any event (the session ended, the profile or
// the app list changed, or "reset": the gap was too long to replay) it asks
// the bar to refresh: onebar.refresh() asks /api/me and redraws through the
// bar's own path, which fires onebar:change and tells the site's other tabs.
// Hidden tabs hold no connection; of the visible tabs of one site, one holds
// the stream (a Web Lock) and the others hear of changes from it, so a
// browser's six connections per host are never spent on streams. When the
// stream is unavailable the bar keeps its usual checks (focus, visibility).
// data-live="off" on the script tag turns the stream off.

const api = new URL(import.meta.url).origin;
const EVENTS = new URL(import.meta.url).searchParams.get('events');
const ME = api + '/api/me';                   // where onebar.js keeps a site credential
const bar = window.onebar;
const off = document.querySelector('script[src*="onebar.js"][data-live=off]');

let stream;   // the AbortController of the open (or opening) stream
let waiting;  // the AbortController of a lock request not yet granted
let release;  // resolves the held lock
let lastId = '', retry = 1000, timer;

const wanted = () => document.visibilityState == 'visible' && bar.state == 'signed-in';

const credential = () => {
  try {
    return localStorage[ME];
  } catch (e) { /* storage blocked: the cookie alone */ }
};

// An event block ("id: 7\nevent: profile_changed\ndata: {}"): anything but
// "ready" means "ask /api/me again".
const handle = block => {
  let kind;
  for (const line of block.split('\n')) {
    const [field, value] = line.split(': ', 2);
    if (field == 'id') lastId = value;
    if (field == 'event') kind = value;
  }
  if (kind && kind != 'ready') bar.refresh();
};

async function follow() {
  const mine = stream = new AbortController();
  const sent = credential();
  try {
    // Last-Event-ID as a query parameter: no CORS preflight for a same-site bar.
    const response = await fetch(EVENTS + (lastId ? '?last_event_id=' + lastId : ''), {
      credentials: 'include',
      cache: 'no-store',
      headers: sent ? { Authorization: 'Bearer ' + sent } : {},
      signal: mine.signal
    });
    if (response.status == 401) bar.refresh(); // the session ended while no stream was open
    if (!response.ok) throw Error('HTTP ' + response.status);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      retry = 1000; // it works: a later drop retries soon
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        handle(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (e) { /* dropped, refused or aborted: quietly, the bar's usual checks go on */ }
  if (stream != mine) return; // closed on purpose
  stream = null;
  timer = setTimeout(update, retry); // ended: try again later, if still wanted
  retry = Math.min(retry * 2, 60000);
}

const stop = () => {
  clearTimeout(timer);
  if (waiting) waiting.abort();
  if (stream) stream.abort();
  if (release) release();
  waiting = stream = release = null;
};

function update() {
  if (!wanted()) return stop();
  if (stream || waiting || !EVENTS) return;
  if (!navigator.locks) return follow(); // no Web Locks (an insecure context): one stream per visible tab
  if (release) return follow(); // holding the lock: reconnect
  const asked = waiting = new AbortController();
  navigator.locks.request('onebar live ' + api, { signal: asked.signal }, () => new Promise(resolve => {
    if (waiting == asked) waiting = null;
    release = resolve;
    follow();
  })).catch(() => { /* aborted: hidden or signed out meanwhile */ });
}

if (!off) {
  document.addEventListener('visibilitychange', update);
  document.addEventListener('onebar:change', update);
  addEventListener('pagehide', stop);
  addEventListener('pageshow', update);
  update();
}
