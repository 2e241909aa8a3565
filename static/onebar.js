// Onebar's bar (MIT). Embed: <script src="https://id.example.com/onebar.js" data-app="notes"></script>
// first in <body>. Docs: docs/bar.md; types: onebar.d.ts.
//
// This is the readable source. `npm run build` (terser) writes onebar.min.js,
// which the service serves at /onebar.js; /onebar.js?debug serves this file.
// Comments cost nothing on the wire and names little: write for the reader.
// The budget is 4 KB gzipped as served (tests/test_script_build.py).
(() => {
  'use strict';
  const win = window, doc = document;
  // Included twice (or an old browser): one bar, one request.
  if (win.onebar || !win.customElements || customElements.get('one-bar')) return;

  // -- Options: the script tag's data-* ----------------------------------------
  const script = doc.currentScript || doc.querySelector('script[src*="onebar.js"]');
  const options = (script && script.dataset) || {};
  const api = (options.api || (script && script.src ? new URL(script.src).origin : location.origin)).replace(/\/+$/, '');
  const ME = api + '/api/me';
  const LABELS = { // sign in, sign out, account, apps, the user menu's name
    de: ['Anmelden', 'Abmelden', 'Konto', 'Apps', 'Kontomen\u00fc'],
    fr: ['Se connecter', 'Se d\u00e9connecter', 'Compte', 'Applications', 'Menu du compte']
  };
  const language = (options.lang || doc.documentElement.lang || navigator.language || '').toLowerCase().split(/[-_]/)[0];
  const [SIGN_IN, SIGN_OUT, ACCOUNT, APPS, USER_MENU] = LABELS[language] || ['Sign in', 'Sign out', 'Account', 'Apps', 'Account menu'];
  const warn = message => console.warn('onebar: ' + message);
  // On a site of another registrable domain, the service's cookie never comes
  // along: the site signs in with the hand-off (onebar-handoff.js, loaded only
  // there) and keeps its own credential in its own localStorage, under this
  // service's /api/me URL (docs/bar.md).
  // (Sign-out there is the hand-off module's too.)
  const auth = () => {
    try {
      const credential = localStorage[ME];
      return credential && { Authorization: 'Bearer ' + credential };
    } catch (e) { /* storage blocked: the cookie alone */ }
  };

  // -- Styles ----------------------------------------------------------------
  // One palette of light-dark() pairs. Which half applies is the host's
  // color-scheme: theme=light and theme=dark set it; theme=auto inherits the
  // page's own, so a light-only page gets a light bar on a dark OS, and a page
  // that declares `color-scheme: light dark` gets the OS's choice.
  // Written for people: `npm run build` (scripts/build-bar.mjs) minifies this
  // template (clean-css) before terser sees the script.
  const CSS = /* css */ `
    :host {
      display: block;
      position: relative;
      z-index: var(--onebar-z, 1000);
      box-sizing: border-box;
      height: var(--onebar-height, 48px);
      --onebar-bg: light-dark(#fff, #0d1117);
      --onebar-fg: light-dark(#1f2328, #e6edf3);
      --onebar-muted: light-dark(#59636e, #9198a1);
      --onebar-border: light-dark(#d1d9e0, #2a313c);
      --onebar-hover: light-dark(#eff2f5, #212830);
      --onebar-menu-bg: light-dark(#fff, #151b23);
      --onebar-accent: light-dark(#0969da, #1f6feb);
      --onebar-accent-fg: #fff;
      --onebar-shadow: 0 12px 32px light-dark(#1f232826, #010409cc);
      background: var(--onebar-bg);
      border-bottom: 1px solid var(--onebar-border);
    }
    :host([theme=light]) {
      color-scheme: light;
    }
    :host([theme=dark]) {
      color-scheme: dark;
    }
    @media print {
      :host {
        display: none;
      }
    }

    * {
      box-sizing: border-box;
    }
    /* nav starts from initial values, so nothing the page sets on <one-bar>
       is inherited inside (but the colour scheme). */
    nav {
      all: initial;
      color-scheme: inherit;
      box-sizing: border-box;
      display: flex;
      align-items: center;
      gap: 8px;
      height: 100%;
      max-width: var(--onebar-max-width, none);
      margin: auto;
      padding: 0 12px;
      color: var(--onebar-fg);
      font: 14px/20px var(--onebar-font, system-ui, sans-serif);
    }
    a,
    button {
      all: unset;
      box-sizing: border-box;
      display: flex;
      align-items: center;
      gap: 8px;
      height: 36px;
      padding: 0 10px;
      border-radius: 8px;
      cursor: pointer;
      white-space: nowrap;
    }
    button:hover,
    .item:hover,
    .item:focus,
    [aria-expanded=true] {
      background: var(--onebar-hover);
    }
    :focus-visible {
      outline: 2px solid var(--onebar-accent);
      outline-offset: -2px;
    }

    /* The bar's parts */
    .end {
      margin-left: auto; /* the user menu or sign-in button sits at the right */
    }
    .wrap {
      position: relative; /* holds a button and its menu */
    }
    .apps {
      font-weight: 600;
    }
    .user {
      font-weight: 500;
      padding-left: 4px;
    }
    .name,
    .head b,
    .head small { /* long names and emails end in an ellipsis */
      display: block;
      overflow: hidden;
      text-overflow: ellipsis;
    }
    .name {
      max-width: 14em;
    }
    .grid { /* the apps button's 3 × 3 dots */
      width: 18px;
      height: 18px;
      background: radial-gradient(circle, currentColor 1.5px, #0000 2px) 0 0 / 6px 6px;
      opacity: .75;
    }
    .caret,
    [aria-current]:after { /* a chevron, and the current app's tick */
      border: solid;
      border-width: 0 1.5px 1.5px 0;
      rotate: 45deg;
    }
    .caret {
      width: 6px;
      height: 6px;
      margin: 0 2px 3px;
      opacity: .55;
    }
    .signin {
      height: 32px;
      padding: 0 14px;
      font-weight: 600;
      background: var(--onebar-accent);
      color: var(--onebar-accent-fg);
    }
    .signin:hover {
      filter: brightness(1.1);
    }
    .muted {
      background: none;
      color: var(--onebar-muted);
      font-weight: 400;
    }
    .avatar { /* a picture, or initials on a colour picked from the user id (--hue) */
      flex: none;
      display: grid;
      place-items: center;
      width: 28px;
      height: 28px;
      border-radius: 50%;
      object-fit: cover;
      color: #fff;
      background: oklch(50% .12 var(--hue));
      font-size: 12px;
      font-weight: 600;
    }

    /* Menus */
    .menu { /* hidden (the attribute) while closed */
      position: absolute;
      top: calc(100% + 6px);
      left: 0;
      min-width: 232px;
      max-width: 320px;
      padding: 6px;
      background: var(--onebar-menu-bg);
      border: 1px solid var(--onebar-border);
      border-radius: 12px;
      box-shadow: var(--onebar-shadow);
    }
    .end .menu {
      left: auto;
      right: 0;
    }
    .head { /* the user menu's name and email */
      display: flex;
      align-items: center;
      gap: 10px;
      padding: 8px 10px 12px;
      margin-bottom: 6px;
      border-bottom: 1px solid var(--onebar-border);
    }
    .head div {
      min-width: 0;
    }
    .head .avatar {
      width: 36px;
      height: 36px;
      font-size: 14px;
    }
    .head small {
      color: var(--onebar-muted);
      font-size: 13px;
    }
    .item {
      width: 100%;
    }
    .item .avatar {
      width: 24px;
      height: 24px;
      border-radius: 6px;
      font-size: 11px;
    }
    [aria-current] {
      font-weight: 600;
    }
    [aria-current]:after {
      content: "";
      margin: 0 4px 3px auto;
      width: 5px;
      height: 10px;
      border-color: var(--onebar-accent);
      border-width: 0 2px 2px 0;
    }

    @media (max-width: 520px) {
      .user .name {
        display: none; /* the avatar alone */
      }
    }
  `;

  // -- State -----------------------------------------------------------------
  let root, nav, channel;
  let shownDoc;          // the /api/me document drawn now, as JSON, or undefined
  let userKey;           // the user announced last, as JSON ('null' when signed out)
  let state = 'loading'; // 'loading' | 'signed-in' | 'signed-out' | 'unavailable'
  let openMenu, pending, crossSite, lastAsked = 0, generation = 0;
  let settle;
  const ready = new Promise(resolve => { settle = resolve });

  // -- DOM helpers -----------------------------------------------------------
  // Attributes by setAttribute, children by append: what the API says only ever becomes text.
  const el = (tag, attributes, ...children) => {
    const node = doc.createElement(tag);
    for (const name in attributes) node.setAttribute(name, attributes[name]);
    node.append(...children);
    return node;
  };
  const safeUrl = href => { // links from the API: http(s) only
    try {
      const parsed = new URL(href, api);
      return /^https?:$/.test(parsed.protocol) ? parsed.href : '#';
    } catch (e) {
      return '#';
    }
  };
  const withNext = href => href + (href.includes('?') ? '&' : '?') + 'next=' + encodeURIComponent(location.href);

  const avatar = (id, label, imageUrl) => {
    const initials = el('span', { class: 'avatar', part: 'avatar', 'aria-hidden': 'true' }, label);
    let hash = 2166136261; // FNV-1a of the id picks the hue, skipping muddy yellows
    for (const ch of String(id)) hash = Math.imul(hash ^ ch.codePointAt(0), 16777619);
    initials.style.setProperty('--hue', (hash >>> 0) % 290 + 140); // CSSOM: allowed by a strict style-src
    if (!imageUrl) return initials;
    const image = el('img', { class: 'avatar', part: 'avatar', alt: '', src: safeUrl(imageUrl) });
    image.onerror = () => image.replaceWith(initials);
    return image;
  };

  // -- Menus: the ARIA menu button pattern -----------------------------------
  // Enter/Space/ArrowDown open on the first item, ArrowUp on the last; arrows,
  // Home and End move; Escape closes and returns focus; Tab closes and moves on.
  const menuButton = (className, part, label, buttonContent, items, head) => {
    const button = el('button', { type: 'button', class: className, part, 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': part }, ...buttonContent);
    const list = el('div', { role: 'menu', id: part, 'aria-label': label }, ...items);
    const menu = { button, items, panel: el('div', { class: 'menu', part: 'menu', hidden: '' }, head || '', list) };
    button.onclick = () => openMenu == menu ? closeMenu() : showMenu(menu, 0);
    button.onkeydown = e => {
      if (/^Arrow(Up|Down)$/.test(e.key)) {
        e.preventDefault();
        showMenu(menu, e.key == 'ArrowUp' ? -1 : 0);
      }
    };
    list.onkeydown = e => {
      const key = e.key, count = items.length, at = items.indexOf(root.activeElement);
      const index = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: -1 }[key]; // where focus moves, if it does
      if (key == 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        closeMenu(true);
      } else if (key == 'Tab') {
        closeMenu(true); // the browser then moves on from the button
      } else if (key == ' ') {
        e.preventDefault();
        e.target.click();
      } else if (index != null) {
        e.preventDefault();
        items[(index + count) % count].focus();
      }
    };
    return menu.wrap = el('div', { class: 'wrap' }, button, menu.panel);
  };
  const menuItem = (href, content, current) => {
    const link = el('a', { class: 'item', part: 'item', role: 'menuitem', tabindex: '-1', href: safeUrl(href) }, ...content);
    if (current) link.setAttribute('aria-current', 'page');
    return link;
  };
  const showMenu = (menu, focusIndex) => {
    closeMenu();
    openMenu = menu;
    menu.panel.hidden = false;
    menu.button.setAttribute('aria-expanded', 'true');
    menu.items.at(focusIndex).focus();
  };
  const closeMenu = refocus => {
    const menu = openMenu;
    if (!menu) return;
    openMenu = null;
    menu.panel.hidden = true;
    menu.button.setAttribute('aria-expanded', 'false');
    if (refocus) menu.button.focus();
  };
  const closeOnOutsideClick = e => openMenu && !e.composedPath().includes(openMenu.wrap) && closeMenu();

  // -- Drawing ---------------------------------------------------------------
  const render = answer => { // answer: the /api/me document; none draws the fallback
    const { user, apps = [], links } = answer || {};
    const current = options.app && apps.find(app => app.id == options.app);
    const switcher = apps.length ? menuButton('apps', 'apps', APPS,
      [el('span', { class: 'grid' }), el('span', { class: 'name' }, current ? current.name : APPS), el('span', { class: 'caret' })],
      apps.map(app => menuItem(app.url, [avatar(app.id, String(app.name).charAt(0)), el('span', { class: 'name' }, app.name)], app == current))) : '';
    let end;
    if (user) {
      const initials = user.initials || user.name.charAt(0);
      const signOutItem = menuItem(links.logout, [SIGN_OUT]);
      signOutItem.onclick = signOut;
      end = menuButton('user', 'user', USER_MENU,
        [avatar(user.id, initials, user.avatar_url), el('span', { class: 'name', part: 'name' }, user.name), el('span', { class: 'caret' })],
        [menuItem(links.account, [ACCOUNT]), signOutItem],
        el('div', { class: 'head' }, avatar(user.id, initials, user.avatar_url), el('div', {}, el('b', {}, user.name), el('small', {}, user.email))));
      end.firstChild.setAttribute('aria-label', user.name);
    } else {
      const href = answer ? safeUrl(links.login) : api + '/login';
      end = el('a', { class: answer ? 'signin' : 'signin muted', part: 'signin', href }, SIGN_IN);
      (end.onclick = () => { end.href = withNext(href) })(); // next= is the page when the link is followed
    }
    closeMenu();
    nav.replaceChildren(switcher, el('div', { class: 'end' }, end));
  };

  // -- The answer, the announcement, and pages that forget -------------------
  const currentUser = () => JSON.parse(userKey || 'null'); // a copy, so the page cannot change the bar's state

  const apply = (answer, fromOtherTab) => { // throws on a document it cannot draw, before changing anything
    if (!Array.isArray(answer.apps) || answer.user !== null && typeof Object(answer.user).name != 'string') throw Error('not a Onebar answer');
    // The lazy modules this page needs (docs/bar.md): the hand-off on another
    // registrable domain, which also decides what happens when the page's
    // data-user and the bar disagree (see there), and the live stream. Once: a
    // module runs once per page.
    crossSite = answer.cross_site;
    for (const path of answer.modules || []) import(api + path).catch(warn); // a page leaving, a strict CSP: say so, never throw
    const json = JSON.stringify(answer);
    if (json == shownDoc) return;
    render(answer);
    shownDoc = json;
    announce(JSON.stringify(answer.user), answer.user ? 'signed-in' : 'signed-out');
    if (!fromOtherTab && channel) channel.postMessage({ api, doc: answer }); // the other tabs of this site
  };

  const announce = (key, newState) => { // what the bar now shows: the user, or null
    state = newState;
    settle(JSON.parse(key)); // the first answer settles onebar.ready; later calls do nothing
    if (newState != 'unavailable') forgetIfOtherUser(key);
    if (key == userKey) return;
    userKey = key;
    doc.dispatchEvent(new CustomEvent('onebar:change', { bubbles: true, composed: true, detail: { user: currentUser() } }));
  };

  // data-user="ID" (or "" for nobody) says whom the server rendered this page
  // for. When the bar learns that someone else is signed in now (a sign-out in
  // this or another tab, another account), it empties the page but for itself
  // at once and reloads, so that no private text stays on screen. It reloads
  // once per URL and user: if the server still disagrees, the page stays
  // empty rather than loop.
  const forgetIfOtherUser = key => {
    if (crossSite || options.user == null) return; // cross-site: onebar-handoff.js decides
    const now = (JSON.parse(key) || {}).id || '';
    const mark = options.user == now ? '' : location.href + ' ' + now; // '': the page and the bar agree
    let again;
    try {
      again = mark && sessionStorage.onebarReload == mark;
      sessionStorage.onebarReload = mark;
    } catch (e) { /* storage blocked: reload anyway */ }
    if (!mark) return;
    doc.body.replaceChildren(host); // nothing left on screen but the bar
    if (again) warn('this page was rendered for another user');
    else location.reload();
  };

  const json = response => {
    if (!response.ok) throw Error('HTTP ' + response.status);
    return response.json();
  };
  const load = () => pending || (lastAsked = Date.now(), pending = (() => {
    const mine = ++generation;
    return fetch(ME, { credentials: 'include', headers: auth(), signal: AbortSignal.timeout(4000) })
      .then(json)
      .then(answer => mine == generation && apply(answer)) // unless a sign-out overtook this answer
      .catch(e => { // quietly: keep what the bar shows, or draw a muted sign-in link
        warn(ME + ' ' + e); // e.g. "TimeoutError: signal timed out"
        if (!shownDoc) {
          render();
          announce('null', 'unavailable');
        }
      })
      .then(() => {
        pending = null;
        return currentUser();
      });
  })());
  // Ask again when the tab comes back, at most every 2 s.
  const recheck = () => doc.visibilityState == 'visible' && Date.now() - lastAsked > 2000 && load();

  function signOut(e) {
    e.preventDefault();
    const href = this.href;
    closeMenu();
    generation++;
    fetch(api + '/api/logout', { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: '{}' })
      .then(json)
      .then(answer => {
        apply(answer);
        root.querySelector('[part=signin]').focus();
      })
      .catch(() => { location.href = withNext(href) }); // the service's own sign-out page
  }

  // -- Full bleed: at the top of <body>, the bar spans the body's margins ----
  const bleed = () => {
    const body = getComputedStyle(doc.body);
    host.style.margin = `-${body.marginTop} -${body.marginRight} ${body.marginTop} -${body.marginLeft}`;
  };

  // -- The element -----------------------------------------------------------
  // Listen while the bar is in the document; stop when it is removed.
  const listen = method => {
    doc[method]('visibilitychange', recheck);
    doc[method]('pointerdown', closeOnOutsideClick, true);
    win[method]('focus', recheck);
  };
  customElements.define('one-bar', class extends HTMLElement {
    connectedCallback() {
      listen('addEventListener');
      if (win.BroadcastChannel) {
        channel = new BroadcastChannel('onebar');
        channel.onmessage = e => {
          try {
            if (e.data.api == api) apply(e.data.doc, true);
          } catch (x) { /* not ours */ }
        };
      }
    }
    disconnectedCallback() {
      listen('removeEventListener');
      if (channel) channel.close();
      channel = null;
    }
  });
  const host = doc.createElement('one-bar');
  host.setAttribute('theme', /^(light|dark)$/.test(options.theme) ? options.theme : 'auto');
  root = host.attachShadow({ mode: 'open' }); // open: axe, tests and the page may look; nothing in it is secret
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet]; // a constructed sheet is not subject to the page's style-src
  root.append(nav = el('nav', { part: 'bar', 'aria-label': 'Onebar' }));

  win.onebar = Object.freeze({
    refresh: load,
    ready,
    get user() { return currentUser() },
    get state() { return state }
  });
  load();

  (function mount() { // synchronously when it can, so the bar's height is there on first paint
    let target;
    try {
      target = options.mount && doc.querySelector(options.mount);
    } catch (e) { /* not a selector: warned about below */ }
    if (target) return target.replaceChildren(host);
    if (!doc.body || options.mount && doc.readyState == 'loading') return doc.addEventListener('DOMContentLoaded', mount, { once: true });
    if (options.mount) warn('nothing matches data-mount=' + options.mount);
    doc.body.prepend(host);
    bleed();
    win.addEventListener('resize', bleed);
  })();
})();
