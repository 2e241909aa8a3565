// Onebar's cross-site hand-off (MIT). onebar.js imports this module only on a
// page of another registrable domain than the service (its /api/me answer says
// "cross_site": true), where the service's cookie never comes along. Docs:
// docs/bar.md, "Same-site and cross-site".
//
// Sign in: the tab makes a PKCE verifier and a state, keeps both in its
// sessionStorage (so only this tab can finish what it started: no login CSRF),
// and goes to the service's /authorize, which knows the browser by its own
// first-party cookie (or shows the sign-in form) and sends it straight back
// with a one-time code in the URL fragment (never sent to the site's server).
// This module takes the code out of the address bar, exchanges it with the
// verifier at /api/token, and keeps the site credential in this site's own
// localStorage under the service's /api/me URL, where onebar.js finds it and
// sends it as a Bearer header. Sign out sends it to /api/logout, which ends the
// service session and so every site's credential at once.
//
// Pages an app server rendered (data-user="ID" on the bar's tag, "" for
// nobody): the server keeps a credential of its own, in an HttpOnly cookie
// (its /.onebar/login and /.onebar/callback, docs/integrations.md), so either
// can be signed in before the other. When they disagree, the one behind
// catches up with a round trip that needs no password: the bar with
// /authorize?prompt=none, the server with its /.onebar/login. Once per page and
// user; a sign-out, another account, or a second disagreement empty the page
// but for the bar and reload it, as onebar.js does on same-site pages.

const api = new URL(import.meta.url).origin;
const KEY = api + '/api/me';            // onebar.js reads the credential from here
const FLOW = 'onebar hand-off ' + api;  // sessionStorage: this tab's verifier and state
const BOUNCED = 'onebar bounced ' + api; // sessionStorage: data-auto-signin tried once
const bar = window.onebar;
const warn = message => console.warn('onebar: ' + message);
const tag = document.querySelector('script[data-auto-signin]');
const page = document.querySelector('script[data-user]'); // rendered by an app server for that user
let signedOut = false; // this page's bar had a credential the service has ended
let settled;           // the user reconcile() last looked at, as JSON

const base64url = bytes => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const random = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

const credential = () => {
  try {
    return localStorage[KEY];
  } catch (e) { /* storage blocked */ }
};
const forget = () => {
  try {
    localStorage.removeItem(KEY);
  } catch (e) { /* storage blocked */ }
};

async function start(prompt) {
  const verifier = random(), state = random();
  sessionStorage[FLOW] = JSON.stringify({ verifier, state });
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const params = new URLSearchParams({
    origin: location.origin,
    return_to: location.href.split('#')[0],
    state,
    code_challenge: base64url(new Uint8Array(digest)),
    code_challenge_method: 'S256'
  });
  if (prompt) params.set('prompt', prompt);
  location.assign(api + '/authorize?' + params);
}

// Back from /authorize: #onebar_code=…&onebar_state=… (or #onebar_error=…).
async function finish() {
  const back = new URLSearchParams(location.hash.slice(1));
  const state = back.get('onebar_state');
  if (!state) return;
  history.replaceState(history.state, '', location.pathname + location.search); // the code leaves the address bar
  let flow;
  try {
    flow = JSON.parse(sessionStorage[FLOW]);
  } catch (e) { /* none */ }
  sessionStorage.removeItem(FLOW);
  if (!flow || flow.state !== state) return warn('ignored a sign-in this tab did not start');
  const code = back.get('onebar_code');
  if (!code) { // prompt=none and signed out at the service: stay signed out
    signedOut = true; // a page rendered for someone is out of date: see reconcile()
    sessionStorage.removeItem('onebarReload');
    return;
  }
  const response = await fetch(api + '/api/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code, code_verifier: flow.verifier })
  });
  const answer = await response.json();
  if (!response.ok) return warn('sign-in failed: ' + answer.error_description);
  localStorage[KEY] = answer.credential;
  await bar.refresh();
}

async function signOut() {
  const sent = credential();
  signedOut = true;
  forget();
  try {
    const response = await fetch(api + '/api/logout', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(sent && { Authorization: 'Bearer ' + sent }) },
      body: '{}'
    });
    if (!response.ok) throw Error('HTTP ' + response.status);
  } catch (e) { // the service's own sign-out page, then back here
    location.href = api + '/logout?next=' + encodeURIComponent(location.href);
    return;
  }
  await bar.refresh();
  const signIn = document.querySelector('one-bar').shadowRoot.querySelector('[part~=signin]');
  if (signIn) signIn.focus();
}

// The bar's own links: "Sign in" starts the hand-off, "Sign out" sends the credential.
document.addEventListener('click', e => {
  const path = e.composedPath();
  if (!path.some(node => node.localName == 'one-bar')) return;
  const link = path.find(node => node.localName == 'a');
  if (!link) return;
  const signIn = link.matches('[part~=signin]');
  if (!signIn && link.href != api + '/logout') return;
  e.preventDefault();
  e.stopPropagation();
  (signIn ? start() : signOut()).catch(error => warn(error.message));
}, true);

// Whom the page was rendered for, and whom the bar knows: see the top.
async function reconcile(user) {
  const key = JSON.stringify(user);
  if (!page || bar.state == 'unavailable' || key == settled) return;
  if (!user && settled && settled != 'null') signedOut = true; // signed out while this page was open
  settled = key;
  const rendered = page.dataset.user, now = user ? user.id : '';
  const mark = rendered == now ? '' : location.href + ' ' + now; // '': the page and the bar agree
  let again;
  try {
    again = mark && sessionStorage.onebarReload == mark;
    sessionStorage.onebarReload = mark;
  } catch (e) { /* storage blocked: act anyway */ }
  if (!mark) return;
  if (!again && !signedOut && !now) return start('none'); // the server knows someone the bar does not (yet)
  if (!again && !rendered) { // the bar knows someone the server does not (yet)
    return location.assign('/.onebar/login?next=' + encodeURIComponent(location.pathname + location.search));
  }
  document.body.replaceChildren(document.querySelector('one-bar')); // nothing left on screen but the bar
  if (again) return warn('this page was rendered for another user');
  // Signed out: the server's credential ended too; it forgets it now rather
  // than rendering the page from its cache of the last answer.
  if (signedOut && rendered) await fetch('/.onebar/logout', { method: 'POST' }).catch(() => {});
  location.reload();
}

// A credential the service no longer knows (signed out anywhere) is dropped.
document.addEventListener('onebar:change', e => {
  if (!e.detail.user && bar.state == 'signed-out') {
    if (credential()) signedOut = true;
    forget();
  }
  reconcile(e.detail.user).catch(error => warn(error.message));
});

(async () => {
  if (location.hash.includes('onebar_state=')) await finish();
  else if (bar.state == 'signed-out') {
    signedOut = !!credential(); // one it had, refused: a sign-out somewhere
    forget();
    // data-auto-signin: one bounce per tab session, and back at once if signed out there.
    if (tag && !sessionStorage[BOUNCED]) {
      sessionStorage[BOUNCED] = '1';
      return start('none');
    }
  }
  await reconcile(bar.user);
})().catch(error => warn(error.message));
