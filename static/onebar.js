/*! Onebar bar (MIT): <script src="https://id.example.com/onebar.js" data-app="notes"></script> first in <body>.
 * Also data-theme=auto|light|dark, data-mount, data-api, data-lang. Docs: docs/bar.md */
(() => {
  'use strict';
  const w = window, d = document;
  if (w.onebar || !w.customElements || customElements.get('one-bar')) return; // included twice: one bar

  const me = d.currentScript || d.querySelector('script[src*="onebar.js"]');
  const ds = (me && me.dataset) || {};
  const api = (ds.api || (me && me.src ? new URL(me.src).origin : location.origin)).replace(/\/+$/, '');
  const ME = api + '/api/me';
  const t = {
    de: ['Anmelden', 'Abmelden', 'Konto', 'Apps', 'Kontomen\u00fc'],
    fr: ['Se connecter', 'Se d\u00e9connecter', 'Compte', 'Applications', 'Menu du compte']
  }[(ds.lang || d.documentElement.lang || navigator.language || '').toLowerCase().split(/[-_]/)[0]] ||
    ['Sign in', 'Sign out', 'Account', 'Apps', 'Account menu'];
  const warn = m => console.warn('onebar: ' + m);

  // The light palette sits on :host; the dark one applies for theme=dark, and for auto when the OS is dark.
  const DARK = '{color-scheme:dark;--onebar-bg:#0d1117;--onebar-fg:#e6edf3;--onebar-muted:#9198a1;--onebar-border:#2a313c;--onebar-hover:#212830;--onebar-menu-bg:#151b23;--onebar-accent:#1f6feb;--onebar-shadow:0 12px 32px #010409cc}';
  const CSS = ':host{display:block;position:relative;z-index:var(--onebar-z,1000);box-sizing:border-box;height:var(--onebar-height,48px);' +
    'color-scheme:light;--onebar-bg:#fff;--onebar-fg:#1f2328;--onebar-muted:#59636e;--onebar-border:#d1d9e0;--onebar-hover:#eff2f5;--onebar-menu-bg:#fff;--onebar-accent:#0969da;--onebar-accent-fg:#fff;--onebar-shadow:0 12px 32px #1f232826;' +
    'background:var(--onebar-bg);border-bottom:1px solid var(--onebar-border)}' +
    ':host([theme=dark])' + DARK + '@media(prefers-color-scheme:dark){:host([theme=auto])' + DARK + '}@media print{:host{display:none}}' +
    // nav starts from initial values, so nothing the page sets on <one-bar> is inherited inside.
    '*{box-sizing:border-box}nav{all:initial;box-sizing:border-box;display:flex;align-items:center;gap:8px;height:100%;max-width:var(--onebar-max-width,none);margin:auto;padding:0 12px;' +
    'color:var(--onebar-fg);font:14px/20px var(--onebar-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif)}' +
    'a,button{all:unset;box-sizing:border-box;display:flex;align-items:center;gap:8px;height:36px;padding:0 10px;border-radius:8px;cursor:pointer;white-space:nowrap}' +
    'button:hover,.i:hover,.i:focus,[aria-expanded=true]{background:var(--onebar-hover)}:focus-visible{outline:2px solid var(--onebar-accent);outline-offset:-2px}' +
    '.r{margin-left:auto}.w{position:relative}.b{font-weight:600}.u{font-weight:500;padding-left:4px}.n{max-width:14em;overflow:hidden;text-overflow:ellipsis}' +
    '.g{width:18px;height:18px;background:radial-gradient(circle,currentColor 1.5px,#0000 2px) 0 0/6px 6px;opacity:.75}' +
    '.c{width:6px;height:6px;margin:0 2px 3px;border:solid;border-width:0 1.5px 1.5px 0;rotate:45deg;opacity:.55}' +
    '.s{height:32px;padding:0 14px;font-weight:600;background:var(--onebar-accent);color:var(--onebar-accent-fg)}.s:hover{filter:brightness(1.1)}' +
    '.q{background:none;color:var(--onebar-muted);font-weight:400}' +
    '.a{flex:none;display:grid;place-items:center;width:28px;height:28px;border-radius:50%;object-fit:cover;color:#fff;background:oklch(50% .12 var(--h));font-size:12px;font-weight:600}' +
    '.p{position:absolute;top:calc(100% + 6px);left:0;min-width:232px;max-width:320px;padding:6px;background:var(--onebar-menu-bg);border:1px solid var(--onebar-border);border-radius:12px;box-shadow:var(--onebar-shadow);animation:f .12s ease-out}' +
    '.r .p{left:auto;right:0}.p[hidden]{display:none}@keyframes f{from{opacity:0;translate:0 -4px}}@media(prefers-reduced-motion:reduce){.p{animation:none}}' +
    '.h{display:flex;align-items:center;gap:10px;padding:8px 10px 12px;margin-bottom:6px;border-bottom:1px solid var(--onebar-border)}.h div{min-width:0}.h .a{width:36px;height:36px;font-size:14px}' +
    '.h b,.h small{display:block;overflow:hidden;text-overflow:ellipsis}.h small{color:var(--onebar-muted);font-size:13px}' +
    '.i{width:100%}.i .a{width:24px;height:24px;border-radius:6px;font-size:11px}' +
    '[aria-current]{font-weight:600}[aria-current]:after{content:"";margin:0 4px 3px auto;width:5px;height:10px;border:solid var(--onebar-accent);border-width:0 2px 2px 0;rotate:45deg}' +
    '@media(max-width:520px){.u .n{display:none}}';

  let root, nav, bc, key, shown, open, pending, last = 0, seq = 0;

  // Attributes by setAttribute, children by append: what the API says only ever becomes text.
  const h = (tag, attrs, ...kids) => {
    const e = d.createElement(tag);
    for (const n in attrs) e.setAttribute(n, attrs[n]);
    e.append(...kids);
    return e;
  };
  const url = u => { // links from the API: http(s) only
    try { u = new URL(u, api); return /^https?:$/.test(u.protocol) ? u.href : '#' } catch (e) { return '#' }
  };
  const next = href => href + (href.includes('?') ? '&' : '?') + 'next=' + encodeURIComponent(location.href);
  const avatar = (id, label, src) => {
    const e = h('span', { class: 'a', part: 'avatar', 'aria-hidden': 'true' }, label);
    let x = 2166136261; // FNV-1a of the id picks the hue, skipping muddy yellows
    for (const c of String(id)) x = Math.imul(x ^ c.codePointAt(0), 16777619);
    e.style.setProperty('--h', (x >>> 0) % 290 + 140); // CSSOM: allowed by a strict style-src
    if (!src) return e;
    const i = h('img', { class: 'a', part: 'avatar', alt: '', src: url(src) });
    i.onerror = () => i.replaceWith(e);
    return i;
  };

  // ARIA menu button: Enter/Space/ArrowDown open on the first item, ArrowUp on the last; Escape returns.
  const menu = (cls, part, label, btn, items, head) => {
    const b = h('button', { type: 'button', class: cls, part, 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': part }, ...btn);
    const m = h('div', { role: 'menu', id: part, 'aria-label': label }, ...items);
    const o = { b, i: items, p: h('div', { class: 'p', part: 'menu', hidden: '' }, head || '', m) };
    b.onclick = () => open == o ? close() : show(o, 0);
    b.onkeydown = e => { if (/^Arrow(Up|Down)$/.test(e.key)) { e.preventDefault(); show(o, e.key == 'ArrowUp' ? -1 : 0) } };
    m.onkeydown = e => {
      const k = e.key, n = items.length;
      let j = items.indexOf(root.activeElement);
      j = k == 'ArrowDown' ? j + 1 : k == 'ArrowUp' ? j - 1 : k == 'Home' ? 0 : k == 'End' ? -1 : null;
      if (k == 'Escape') { e.preventDefault(); e.stopPropagation(); close(1) }
      else if (k == 'Tab') close(1); // the browser then moves on from the button
      else if (k == ' ') { e.preventDefault(); e.target.click() }
      else if (j != null) { e.preventDefault(); items[(j + n) % n].focus() }
    };
    return o.w = h('div', { class: 'w' }, b, o.p);
  };
  const item = (href, kids, current) => {
    const a = h('a', { class: 'i', part: 'item', role: 'menuitem', tabindex: '-1', href: url(href) }, ...kids);
    if (current) a.setAttribute('aria-current', 'page');
    return a;
  };
  const show = (o, first) => {
    close();
    open = o;
    o.p.hidden = false;
    o.b.setAttribute('aria-expanded', 'true');
    o.i.at(first).focus();
  };
  const close = refocus => {
    const o = open;
    if (!o) return;
    open = null;
    o.p.hidden = true;
    o.b.setAttribute('aria-expanded', 'false');
    if (refocus) o.b.focus();
  };
  const outside = e => open && !e.composedPath().includes(open.w) && close();

  const render = x => { // x: the /api/me document; none draws the fallback
    const { user: u, apps = [], links: L } = x || {};
    const cur = ds.app && apps.find(a => a.id == ds.app);
    const left = apps.length ? menu('b', 'apps', t[3], [h('span', { class: 'g' }), h('span', { class: 'n' }, cur ? cur.name : t[3]), h('span', { class: 'c' })],
      apps.map(a => item(a.url, [avatar(a.id, String(a.name).charAt(0)), h('span', { class: 'n' }, a.name)], a == cur))) : '';
    let right;
    if (u) {
      const so = item(L.logout, [t[1]]), ini = u.initials || u.name.charAt(0);
      so.onclick = signOut;
      right = menu('u', 'user', t[4], [avatar(u.id, ini, u.avatar_url), h('span', { class: 'n', part: 'name' }, u.name), h('span', { class: 'c' })],
        [item(L.account, [t[2]]), so],
        h('div', { class: 'h' }, avatar(u.id, ini, u.avatar_url), h('div', {}, h('b', {}, u.name), h('small', {}, u.email))));
      right.firstChild.setAttribute('aria-label', u.name);
    } else {
      const href = x ? url(L.login) : api + '/login';
      right = h('a', { class: x ? 's' : 's q', part: 'signin', href }, t[0]);
      (right.onclick = () => { right.href = next(href) })(); // next= is the page when the link is followed
    }
    close();
    nav.replaceChildren(left, h('div', { class: 'r' }, right));
  };

  const apply = (x, quiet) => { // throws on a document it cannot draw, before changing anything
    if (!Array.isArray(x.apps) || x.user !== null && typeof Object(x.user).name != 'string') throw Error('not a Onebar answer');
    const s = JSON.stringify(x);
    if (s == shown) return;
    render(x);
    shown = s;
    changed(JSON.stringify(x.user));
    if (!quiet && bc) bc.postMessage({ api, doc: x }); // the other tabs of this site
  };
  const changed = u => { // announce what the bar now shows: the user, or null
    if (u == key) return;
    key = u;
    d.dispatchEvent(new CustomEvent('onebar:change', { bubbles: true, composed: true, detail: { user: JSON.parse(u) } }));
  };
  const user = () => JSON.parse(key || 'null'); // a copy, so the page cannot change the bar's state

  const load = () => pending || (last = Date.now(), pending = (() => {
    const ac = new AbortController(), timer = setTimeout(() => ac.abort(), 4000), n = ++seq;
    return fetch(ME, { credentials: 'include', signal: ac.signal })
      .then(r => { if (!r.ok) throw Error('HTTP ' + r.status); return r.json() })
      .then(x => n == seq && apply(x)) // unless a sign-out overtook this answer
      .catch(e => { // quiet: keep what the bar shows, or draw a muted sign-in link
        warn(ME + (e.name == 'AbortError' ? ' did not answer in time' : ': ' + e.message));
        if (!shown) { render(); changed('null') }
      })
      .then(() => { clearTimeout(timer); pending = null; return user() });
  })());
  const check = () => d.visibilityState == 'visible' && Date.now() - last > 2000 && load();

  function signOut(e) {
    e.preventDefault();
    const href = this.href;
    close();
    seq++;
    fetch(api + '/api/logout', { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: '{}' })
      .then(r => { if (!r.ok) throw 0; return r.json() })
      .then(x => { apply(x); root.querySelector('[part=signin]').focus() })
      .catch(() => { location.href = next(href) }); // the service's own sign-out page
  }

  customElements.define('one-bar', class extends HTMLElement {
    connectedCallback() {
      d.addEventListener('visibilitychange', check);
      d.addEventListener('pointerdown', outside, true);
      w.addEventListener('focus', check);
      if (w.BroadcastChannel) {
        bc = new BroadcastChannel('onebar');
        bc.onmessage = e => { try { if (e.data.api == api) apply(e.data.doc, 1) } catch (x) {} };
      }
    }
    disconnectedCallback() {
      d.removeEventListener('visibilitychange', check);
      d.removeEventListener('pointerdown', outside, true);
      w.removeEventListener('focus', check);
      if (bc) bc.close();
      bc = null;
    }
  });
  const host = d.createElement('one-bar');
  host.setAttribute('theme', /^(light|dark)$/.test(ds.theme) ? ds.theme : 'auto');
  root = host.attachShadow({ mode: 'open' }); // open: axe, tests and the page may look; nothing in it is secret
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet]; // a constructed sheet is not subject to the page's style-src
  } catch (e) {
    root.append(h('style', {}, CSS));
  }
  root.append(nav = h('nav', { part: 'bar', 'aria-label': 'Onebar' }));

  w.onebar = Object.freeze({ refresh: load, get user() { return user() } });
  load();

  (function mount() { // synchronously when it can, so the bar's height is there on first paint
    let target;
    try { target = ds.mount && d.querySelector(ds.mount) } catch (e) {}
    if (target) return target.replaceChildren(host);
    if (!d.body || ds.mount && d.readyState == 'loading') return d.addEventListener('DOMContentLoaded', mount, { once: true });
    if (ds.mount) warn('nothing matches data-mount=' + ds.mount);
    d.body.prepend(host);
  })();
})();
