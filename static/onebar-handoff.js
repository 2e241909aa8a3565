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

const api = new URL(import.meta.url).origin;
const KEY = api + '/api/me';            // onebar.js reads the credential from here
const FLOW = 'onebar hand-off ' + api;  // sessionStorage: this tab's verifier and state
const BOUNCED = 'onebar bounced ' + api; // sessionStorage: data-auto-signin tried once
const bar = window.onebar;
const warn = message => console.warn('onebar: ' + message);
const tag = document.querySelector('script[data-auto-signin]');

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
  if (!code) return; // prompt=none and signed out at the service: stay signed out
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

// A credential the service no longer knows (signed out anywhere) is dropped.
document.addEventListener('onebar:change', e => {
  if (!e.detail.user && bar.state == 'signed-out') forget();
});

(async () => {
  if (location.hash.includes('onebar_state=')) return finish();
  if (bar.state != 'signed-out') return;
  forget();
  // data-auto-signin: one bounce per tab session, and back at once if signed out there.
  if (tag && !sessionStorage[BOUNCED]) {
    sessionStorage[BOUNCED] = '1';
    await start('none');
  }
})().catch(error => warn(error.message));
