/* tsuzuki browser client: expiry warning, shared activity between tabs, autosaved drafts,
 * inline sign-in, cookie and storage checks. Plain ES2020, no dependencies, no build step.
 * Include with <script src="/static/tsuzuki-client.js" defer></script>; see docs/browser-client.md. */
(() => {
  'use strict';
  if (window.tsuzuki) return;
  const doc = document;
  const script = doc.currentScript;
  const opt = (name, dflt) => {
    const d = script && script.getAttribute('data-' + name);
    if (d != null) return d;
    const m = doc.querySelector('meta[name="tsuzuki-' + name + '"]');
    return m ? m.content : dflt;
  };
  const WARN = Math.max(5, Number(opt('warn', '120')) || 120);
  const AUTOSAVE = opt('autosave', 'true') !== 'false';
  const BASE = String(opt('base', '')).replace(/\/$/, '');
  const POLL = Math.max(10, Number(opt('poll', '60')) || 60) * 1000;
  const lang = /^ja\b/i.test(doc.documentElement.lang || '') ? 'ja' : 'en';
  // Every string comes from tsuzuki's catalogues (locales/*/client.ftl), read once at start;
  // the texts of the elements built below are filled in when it arrives.
  let T = {};
  const t = (k, args) => String(T[k] || k).replace(/\{(\w+)\}/g, (_, n) => (args && n in args ? args[n] : ''));
  const texts = [];
  const L = (k) => { const n = doc.createTextNode(''); texts.push([n, k]); return n; };
  const loadTexts = async () => {
    for (const wait of [0, 1000, 3000]) {
      await new Promise((r) => setTimeout(r, wait));
      try {
        const r = await fetch(BASE + '/static/tsuzuki-client-messages.json?lang=' + lang, { credentials: 'same-origin' });
        if (r.ok) { T = (await r.json()).messages || {}; break; }
      } catch (_) { /* offline for a moment: try again */ }
    }
    for (const [n, k] of texts) n.data = t(k);
  };
  const ENDED = ['not_signed_in', 'idle_timeout', 'absolute_timeout', 'session_revoked', 'session_invalid'];
  const RESTART = ['flow_not_found', 'flow_expired', 'flow_completed', 'flow_locked'];
  const SKIP = ['password', 'file', 'hidden', 'submit', 'button', 'reset', 'image', 'fieldset', 'output'];
  const origFetch = window.fetch.bind(window);
  const now = () => Date.now() / 1000;

  // ---- state ----
  let sess = null; // last /api/session answer
  let skew = 0; // server clock minus this browser's clock, seconds
  let idleLen = 0; // longest idle window seen, seconds
  let email = '';
  let lastExtend = Date.now(); // loading this page was activity
  let lastActivity = 0, lastShared = 0, peerActive = 0;
  let warnChecking = false; // the warning's last-moment session read is under way
  let ended = false, pendingSignIn = null, resolveSignIn = null;
  let cookieless = false; // the browser keeps no cookie here: an inline sign-in cannot work
  let warnTimer = 0, endTimer = 0, tick = 0, pollTimer = 0;
  const pending = new Set(); // functions to run after an inline sign-in

  const h = (tag, attrs, ...kids) => {
    const el = doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === true) el.setAttribute(k, '');
      else if (v != null && v !== false) el.setAttribute(k, v);
    }
    el.append(...kids);
    return el;
  };
  const emit = (name, detail) => doc.dispatchEvent(new CustomEvent('tsuzuki:' + name, { detail }));

  // ---- HTTP ----
  const api = async (method, path, body, opts = {}) => {
    const headers = { Accept: 'application/json' };
    if (!opts.user) headers['X-Tsuzuki-Background'] = '1'; // only "extend" is the person's activity
    if (method !== 'GET') headers['Content-Type'] = 'application/json';
    const r = await origFetch(BASE + path, {
      method, headers, credentials: 'same-origin', cache: 'no-store', keepalive: !!opts.keepalive,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await r.json(); } catch (_) { /* empty or not JSON */ }
    return { status: r.status, ok: r.ok, data, code: data && data.error ? data.error.code : '' };
  };
  const isEnded = (res) => res.status === 401 && ENDED.includes(res.code);
  const message = (data) => {
    const e = data && data.error;
    if (!e) return t('failed');
    const m = (e.messages && e.messages[lang]) || e.message || t('failed');
    const hint = (e.hints && e.hints[lang]) || e.hint;
    return hint ? m + ' ' + hint : m;
  };

  // ---- tabs ----
  // Which tab shows the warning is decided, not raced: every tab announces itself ("hello",
  // with a random id, whether it is visible and whether it shows the warning) at start, every
  // HELLO ms, on visibility changes and on showing or closing the warning, and says "bye" when
  // it goes. The tabs heard from in the last 2.5 HELLO are alive; the leader is, among them
  // (this one included), the lowest id of those showing the warning, else of the visible ones,
  // else of all. Every tab computes the same answer from the same announcements; a leader that
  // goes (bye, or silence) is replaced within a second by the next lowest.
  const HELLO = 2000;
  const me = Math.random();
  const peers = new Map(); // id -> { seen, v, w }
  let bc = null;
  try { bc = new BroadcastChannel('tsuzuki'); } catch (_) { /* fall back to storage events */ }
  const share = (msg) => {
    if (bc) return bc.postMessage(msg);
    try { localStorage.setItem('tsuzuki:msg', JSON.stringify({ ...msg, n: Math.random() })); } catch (_) { /* no storage */ }
  };
  const visible = () => doc.visibilityState === 'visible';
  const hello = () => share({ t: 'hello', id: me, v: visible(), w: warning.open });
  const leader = () => {
    const t = Date.now();
    const all = [[me, { v: visible(), w: warning.open }],
      ...[...peers].filter(([, p]) => t - p.seen < HELLO * 2.5)];
    for (const want of [(p) => p.w, (p) => p.v, () => true]) {
      const ids = all.filter(([, p]) => want(p)).map(([id]) => id);
      if (ids.length) return Math.min(...ids) === me;
    }
    return true;
  };
  const onPeer = (msg) => {
    if (!msg || typeof msg !== 'object') return;
    if (msg.t === 'hello' && typeof msg.id === 'number' && msg.id !== me) {
      const known = peers.has(msg.id);
      peers.set(msg.id, { seen: Date.now(), v: !!msg.v, w: !!msg.w });
      if (!known) hello(); // a new tab learns of this one at once, not a HELLO later
    } else if (msg.t === 'bye') peers.delete(msg.id);
    else if (msg.t === 'activity') peerActive = Date.now();
    else if (msg.t === 'extended' && sess) {
      lastExtend = Date.now();
      if (msg.idle > sess.idle_expires_at) sess.idle_expires_at = msg.idle;
      closeWarning();
      schedule();
    } else if (msg.t === 'signedin' && ended) refresh();
  };
  if (bc) bc.onmessage = (e) => onPeer(e.data);
  else window.addEventListener('storage', (e) => {
    if (e.key === 'tsuzuki:msg' && e.newValue) try { onPeer(JSON.parse(e.newValue)); } catch (_) { /* ignore */ }
  });

  // ---- session ----
  const setSession = (d) => {
    sess = d;
    skew = d.now - now();
    idleLen = Math.max(idleLen, d.idle_expires_at - d.now);
    email = (d.user && d.user.email) || email;
    if (ended) {
      ended = false;
      closeSignIn();
      if (resolveSignIn) resolveSignIn(d);
      pendingSignIn = resolveSignIn = null;
      for (const f of [...pending]) { pending.delete(f); f(); }
    }
    schedule();
    emit('session', d);
  };
  const deadline = () => (sess ? Math.min(sess.idle_expires_at, sess.expires_at) : 0);
  // The warning's lead time, never more than half the idle window (short test lifetimes).
  const lead = () => (idleLen ? Math.min(WARN, Math.max(3, idleLen / 2)) : WARN);
  const remaining = () => (sess ? deadline() - (now() + skew) : 0);
  const refresh = async () => {
    let res;
    try { res = await api('GET', '/api/session'); } catch (_) { return null; }
    if (res.ok) setSession(res.data);
    else if (isEnded(res)) onEnded(res.code);
    return res;
  };
  const schedule = () => {
    clearTimeout(warnTimer); clearTimeout(endTimer); clearTimeout(pollTimer);
    pollTimer = setTimeout(refresh, POLL);
    if (!sess || ended) return;
    const left = remaining();
    if (!warning.open && !warnChecking) warnTimer = setTimeout(warnDue, Math.max(0, left - lead()) * 1000);
    endTimer = setTimeout(refresh, (Math.max(0, left) + 1) * 1000);
  };
  const warnDue = async () => {
    warnChecking = true;
    let res;
    try {
      if (Date.now() - peerActive < 3000) await new Promise((r) => setTimeout(r, 3000));
      res = await refresh(); // the host application's own requests may have extended it
    } finally { warnChecking = false; }
    if (!res || !res.ok || ended) return;
    if (remaining() > lead() + 1) schedule(); // extended meanwhile: wait for the new deadline
    else watch();
  };
  // Inside the warning period: the leader shows the warning; the others look again every
  // second (no request), so that one takes over when the leader goes.
  const watch = () => {
    clearTimeout(warnTimer);
    if (ended || !sess || warning.open || remaining() > lead() + 1) return;
    if (leader()) showWarning();
    else warnTimer = setTimeout(watch, 1000);
  };
  const extend = async () => {
    let res;
    try { res = await api('POST', '/api/session/extend', {}, { user: true }); } catch (_) { return false; }
    if (isEnded(res)) { onEnded(res.code); return false; }
    if (!res.ok) return false;
    lastExtend = Date.now();
    setSession(res.data);
    share({ t: 'extended', idle: res.data.idle_expires_at });
    closeWarning();
    return true;
  };

  // ---- activity ----
  const inOurs = (t) => t && t.closest && t.closest('.tsuzuki-dialog');
  const onActivity = (e) => {
    // While the warning is open only its buttons answer it: a stray key (Tab past the last
    // button lands on <body>) must not extend the session and close the dialog under the focus.
    if (inOurs(e.target) || warning.open || ended || !sess) return;
    const t = Date.now();
    if (t - lastActivity < 1000) return;
    lastActivity = t;
    if (t - lastShared > 5000) { lastShared = t; share({ t: 'activity' }); }
    const every = Math.min(60, Math.max(5, idleLen / 3)) * 1000;
    if (t - lastExtend >= every || (remaining() < lead() && t - lastExtend >= 5000 && !warning.open)) {
      lastExtend = t;
      extend();
    }
  };
  for (const type of ['keydown', 'pointerdown', 'input', 'scroll']) {
    window.addEventListener(type, onActivity, { capture: true, passive: true });
  }

  // ---- dialogs ----
  const open = (d) => {
    if (!d.isConnected) doc.body.append(d);
    if (d.open) return;
    try { d.showModal(); } catch (_) { d.setAttribute('open', ''); }
  };
  const close = (d) => { if (d.open) { try { d.close(); } catch (_) { d.removeAttribute('open'); } } };

  const warnText = h('p', { id: 'tsuzuki-warning-text', class: 'tsuzuki-title', 'aria-live': 'assertive' });
  const warnTime = h('p', { id: 'tsuzuki-warning-time', class: 'tsuzuki-muted' });
  const warnStatus = h('p', { id: 'tsuzuki-warning-status', class: 'tsuzuki-error', role: 'alert', hidden: true });
  const stayBtn = h('button', { type: 'button', id: 'tsuzuki-stay' }, L('stay'));
  const saveBtn = h('button', { type: 'button', id: 'tsuzuki-save', class: 'secondary' }, L('save'));
  const warning = h('dialog', {
    id: 'tsuzuki-warning', class: 'tsuzuki-dialog', role: 'alertdialog', 'aria-modal': 'true',
    'aria-labelledby': 'tsuzuki-warning-text', 'aria-describedby': 'tsuzuki-warning-time',
  }, warnText, warnTime, warnStatus, h('div', { class: 'tsuzuki-actions' }, stayBtn, saveBtn));
  warning.addEventListener('cancel', (e) => { e.preventDefault(); extend(); }); // Esc: stay signed in
  stayBtn.addEventListener('click', () => extend());
  saveBtn.addEventListener('click', async () => {
    warnStatus.hidden = true;
    const saved = await saveDrafts();
    if (!saved && !ended) { warnStatus.textContent = t('save-failed'); warnStatus.hidden = false; }
    if (!ended) extend();
  });
  const countdown = () => {
    const s = Math.max(0, Math.round(remaining()));
    warnTime.textContent = t('left', { time: Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0') });
  };
  const showWarning = () => {
    if (warning.open) return;
    warnText.textContent = '';
    warnStatus.hidden = true;
    countdown();
    stayBtn.hidden = sess.expires_at <= sess.idle_expires_at; // the absolute limit cannot move
    open(warning);
    (stayBtn.hidden ? saveBtn : stayBtn).focus();
    setTimeout(() => { warnText.textContent = t('warn'); }, 50); // a change the live region announces
    clearInterval(tick);
    tick = setInterval(countdown, 1000);
    hello();
    emit('warning', sess);
  };
  const closeWarning = () => {
    clearInterval(tick);
    if (warning.open) { close(warning); hello(); }
  };

  // inline sign-in
  const err = h('p', { id: 'tsuzuki-signin-error', class: 'tsuzuki-error', role: 'alert', hidden: true });
  const emailIn = h('input', { id: 'tsuzuki-email', name: 'email', type: 'email', autocomplete: 'username', required: true });
  const passIn = h('input', { id: 'tsuzuki-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const pwForm = h('form', { id: 'tsuzuki-signin-form', class: 'tsuzuki-step' },
    h('label', { for: 'tsuzuki-email' }, L('email')), emailIn,
    h('label', { for: 'tsuzuki-password' }, L('password')), passIn,
    h('div', { class: 'tsuzuki-actions' }, h('button', { type: 'submit', id: 'tsuzuki-signin-submit' }, L('sign-in')),
      h('button', { type: 'button', id: 'tsuzuki-signin-later', class: 'secondary' }, L('later'))));
  const codeInfo = h('p', { id: 'tsuzuki-code-info' });
  const codeIn = h('input', { id: 'tsuzuki-code', name: 'code', type: 'text', autocomplete: 'one-time-code', spellcheck: 'false', autocapitalize: 'off', required: true });
  const resendBtn = h('button', { type: 'button', id: 'tsuzuki-resend', class: 'secondary' }, L('resend'));
  // A visible caption, so that a lone "Recovery code" button says what it is for.
  const methodsLabel = h('p', { id: 'tsuzuki-methods-label', class: 'tsuzuki-muted tsuzuki-methods-label' }, L('other'));
  const methods = h('div', { id: 'tsuzuki-methods', class: 'tsuzuki-actions', role: 'group', 'aria-labelledby': 'tsuzuki-methods-label' });
  const codeForm = h('form', { id: 'tsuzuki-code-form', class: 'tsuzuki-step', hidden: true },
    codeInfo, h('label', { for: 'tsuzuki-code' }, L('code')), codeIn,
    h('div', { class: 'tsuzuki-actions' }, h('button', { type: 'submit', id: 'tsuzuki-code-submit' }, L('verify')), resendBtn),
    methodsLabel, methods);
  const signIn = h('dialog', {
    id: 'tsuzuki-signin', class: 'tsuzuki-dialog', role: 'dialog', 'aria-modal': 'true',
    'aria-labelledby': 'tsuzuki-signin-title', 'aria-describedby': 'tsuzuki-signin-text',
  }, h('h2', { id: 'tsuzuki-signin-title' }, L('ended')), h('p', { id: 'tsuzuki-signin-text' }, L('ended-text')), err, pwForm, codeForm);
  let flow = null;
  const fail = (text) => { err.textContent = text; err.hidden = false; };
  const busy = (form, on) => { for (const b of form.querySelectorAll('button')) b.disabled = on; };
  const passwordStep = () => {
    flow = null;
    codeForm.hidden = true; pwForm.hidden = false;
    if (!emailIn.value) emailIn.value = email;
    passIn.value = '';
    (emailIn.value ? passIn : emailIn).focus();
  };
  const codeStep = (view) => {
    flow = view;
    pwForm.hidden = true; codeForm.hidden = false;
    const m = view.method;
    codeInfo.textContent = view.sent_to ? t('sent-to', { target: view.sent_to }) : m === 'recovery' ? t('recovery') : m === 'totp' ? t('totp') : '';
    codeIn.value = '';
    codeIn.setAttribute('inputmode', m === 'recovery' ? 'text' : 'numeric');
    resendBtn.hidden = !(m === 'email' || m === 'sms');
    const others = (view.methods || []).filter((x) => x !== m);
    methods.replaceChildren(...others.map((x) =>
      h('button', { type: 'button', class: 'secondary', 'data-method': x }, t('method-' + x))));
    methodsLabel.hidden = methods.hidden = !others.length;
    codeIn.focus();
  };
  const signedIn = async (d) => {
    passIn.value = ''; codeIn.value = '';
    const res = await refresh().catch(() => null);
    if (!res || !res.ok) {
      // The sign-in succeeded but the next request carried no cookie: cookies are not kept (S12).
      if (res && isEnded(res)) {
        passwordStep(); fail(t(framed ? 'framed' : 'cookies-lost'));
        if (framed) frameNotice(); else cookieNotice(t('cookies-lost'));
      }
      else fail(t('failed'));
      return;
    }
    share({ t: 'signedin' });
    emit('signedin', d);
    refreshTokens();
  };
  const flowAnswer = (res) => {
    if (res.ok && res.data && res.data.id && res.data.step) codeStep(res.data);
    else if (res.ok) signedIn(res.data);
    else if (RESTART.includes(res.code)) { passwordStep(); fail(message(res.data)); }
    else { fail(message(res.data)); if (res.status === 401) { codeIn.value = ''; codeIn.focus(); } }
  };
  const flowCall = async (form, path, body) => {
    err.hidden = true; busy(form, true);
    try { flowAnswer(await api('POST', path, body)); } catch (_) { fail(t('failed')); } finally { busy(form, false); }
  };
  pwForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true; busy(pwForm, true);
    try {
      const res = await api('POST', '/api/sign-in', { email: emailIn.value.trim(), password: passIn.value });
      if (res.ok) passIn.value = '';
      if (res.ok || res.status === 202) flowAnswer(res);
      else { fail(message(res.data)); passIn.focus(); }
    } catch (_) { fail(t('failed')); } finally { busy(pwForm, false); }
  });
  codeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    flowCall(codeForm, '/api/flows/' + encodeURIComponent(flow.id) + '/verify', { code: codeIn.value.trim() });
  });
  resendBtn.addEventListener('click', () => flowCall(codeForm, '/api/flows/' + encodeURIComponent(flow.id) + '/resend', {}));
  methods.addEventListener('click', (e) => {
    const m = e.target.closest && e.target.closest('[data-method]');
    if (m) flowCall(codeForm, '/api/flows/' + encodeURIComponent(flow.id) + '/method', { method: m.getAttribute('data-method') });
  });
  pwForm.querySelector('#tsuzuki-signin-later').addEventListener('click', () => close(signIn));
  const closeSignIn = () => { err.hidden = true; close(signIn); };

  const onEnded = (code) => {
    if (!ended) {
      ended = true;
      emit('ended', { code });
    }
    sess = null;
    closeWarning();
    clearTimeout(warnTimer); clearTimeout(endTimer);
    // Without cookies the banner is the answer; a sign-in dialog would cover it for nothing.
    if (!signIn.open && !cookieless) {
      err.hidden = true;
      open(signIn);
      if (!flow) passwordStep(); else codeIn.focus();
    }
    clearTimeout(pollTimer);
    pollTimer = setTimeout(refresh, POLL); // signed in in another tab: this one notices too
  };
  // A promise that settles when the person has signed in again (here or in another tab).
  const signInAgain = (code) => {
    if (!pendingSignIn) pendingSignIn = new Promise((r) => { resolveSignIn = r; });
    onEnded(code);
    return pendingSignIn;
  };

  // After a new session, forms may carry tokens bound to the old one (CSRF): read them again from
  // a fresh copy of this page and copy the hidden fields of the same forms.
  const refreshTokens = async () => {
    if (opt('refresh-tokens', 'true') === 'false' || !doc.querySelector('form input[type=hidden]')) return;
    try {
      const r = await origFetch(location.href, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'text/html', 'X-Tsuzuki-Background': '1' } });
      if (!r.ok || !/html/.test(r.headers.get('content-type') || '')) return;
      const fresh = new DOMParser().parseFromString(await r.text(), 'text/html');
      [...doc.forms].forEach((f, i) => {
        const g = fresh.forms[i];
        if (!g || g.getAttribute('action') !== f.getAttribute('action')) return;
        for (const input of g.querySelectorAll('input[type=hidden][name]')) {
          const mine = f.querySelector('input[type=hidden][name="' + CSS.escape(input.name) + '"]');
          if (mine) mine.value = input.value;
        }
      });
    } catch (_) { /* keep the old values */ }
  };

  // ---- fetch wrapper ----
  const tfetch = async (input, init) => {
    const again = input instanceof Request ? input.clone() : input;
    const r = await origFetch(input, init);
    if (r.status !== 401) return r;
    let code = '';
    try { const d = await r.clone().json(); code = d && d.error ? d.error.code : ''; } catch (_) { /* not JSON */ }
    if (!ENDED.includes(code)) {
      // A proxy may answer 401 without tsuzuki's body: ask tsuzuki itself.
      const s = await api('GET', '/api/session').catch(() => null);
      if (!s || !isEnded(s)) return r;
      code = s.code;
    }
    await signInAgain(code);
    return origFetch(again, init);
  };

  // ---- autosave ----
  const fieldsOf = (form) => [...form.elements].filter((el) => el.name && !el.disabled &&
    !SKIP.includes(el.type) && !el.hasAttribute('data-tsuzuki-nosave') && !inOurs(el));
  const keyOf = (form) => form.getAttribute('data-tsuzuki-autosave');
  const draftPath = (key) => '/api/drafts/' + key.split('/').map(encodeURIComponent).join('/');
  const collect = (form) => {
    const out = {};
    const els = fieldsOf(form);
    for (const el of els) {
      if (el.type === 'checkbox') {
        if (els.filter((x) => x.type === 'checkbox' && x.name === el.name).length > 1) {
          (out[el.name] = out[el.name] || []);
          if (el.checked) out[el.name].push(el.value);
        } else out[el.name] = el.checked;
      } else if (el.type === 'radio') {
        if (el.checked) out[el.name] = el.value;
      } else if (el.type === 'select-multiple') out[el.name] = [...el.selectedOptions].map((o) => o.value);
      else out[el.name] = el.value;
    }
    return out;
  };
  const untouched = (form) => fieldsOf(form).every((el) => {
    if (el.type === 'checkbox' || el.type === 'radio') return el.checked === el.defaultChecked;
    if (el.options) return [...el.options].every((o, i) => o.selected === (o.defaultSelected ||
      (el.type === 'select-one' && i === 0 && ![...el.options].some((p) => p.defaultSelected))));
    return el.value === el.defaultValue;
  });
  const apply = (form, fields) => {
    for (const el of fieldsOf(form)) {
      if (!(el.name in fields)) continue;
      const v = fields[el.name];
      if (el.type === 'checkbox') el.checked = Array.isArray(v) ? v.includes(el.value) : !!v;
      else if (el.type === 'radio') el.checked = el.value === v;
      else if (el.type === 'select-multiple') for (const o of el.options) o.selected = Array.isArray(v) && v.includes(o.value);
      else if (typeof v === 'string') el.value = v;
    }
  };
  const state = (form, s) => form.setAttribute('data-tsuzuki-state', s);
  const timers = new WeakMap();
  const dirty = new WeakSet();
  const submitting = new WeakSet();
  const save = async (form, keepalive) => {
    clearTimeout(timers.get(form));
    if (submitting.has(form)) return true;
    state(form, 'saving');
    const content = { fields: collect(form) };
    dirty.delete(form);
    let res;
    try {
      res = await api('PUT', draftPath(keyOf(form)), { content, page: location.pathname + location.search }, { keepalive });
    } catch (_) { dirty.add(form); state(form, 'error'); return false; }
    if (res.ok) { state(form, 'saved'); emit('saved', { key: keyOf(form) }); return true; }
    dirty.add(form);
    state(form, 'error');
    if (isEnded(res)) {
      pending.add(() => save(form));
      signInAgain(res.code);
    }
    return false;
  };
  const autosaveForms = () => [...doc.querySelectorAll('form[data-tsuzuki-autosave]')];
  const saveDrafts = async (keepalive) => {
    const todo = autosaveForms().filter((f) => dirty.has(f) || !untouched(f));
    const results = await Promise.all(todo.map((f) => save(f, keepalive)));
    return results.every(Boolean);
  };
  const changed = (e) => {
    const form = e.target && e.target.form;
    if (!AUTOSAVE || !form || !form.hasAttribute('data-tsuzuki-autosave') || inOurs(e.target)) return;
    dirty.add(form);
    state(form, 'dirty');
    clearTimeout(timers.get(form));
    timers.set(form, setTimeout(() => save(form), 1000));
  };
  doc.addEventListener('input', changed, true);
  doc.addEventListener('change', changed, true);
  const flush = () => {
    if (!AUTOSAVE || ended) return;
    for (const f of autosaveForms()) if (dirty.has(f)) save(f, true);
  };
  doc.addEventListener('visibilitychange', () => {
    hello();
    if (doc.visibilityState === 'hidden') flush();
    else if (!ended) refresh(); // timers may have slept while hidden
  });
  window.addEventListener('pagehide', () => { share({ t: 'bye', id: me }); flush(); });

  const restore = async (form) => {
    const key = keyOf(form);
    let res;
    try { res = await api('GET', draftPath(key)); } catch (_) { return; }
    const fields = res.ok && res.data && res.data.content && res.data.content.fields;
    if (!fields || !untouched(form)) return;
    apply(form, fields);
    state(form, 'restored');
    const discard = h('button', { type: 'button', class: 'small secondary tsuzuki-discard' }, t('discard'));
    const notice = h('div', { class: 'tsuzuki-notice', role: 'status', 'data-tsuzuki-key': key },
      h('span', {}, t('restored') + ' '), discard);
    discard.addEventListener('click', async () => {
      clearTimeout(timers.get(form));
      dirty.delete(form);
      form.reset();
      notice.remove();
      state(form, 'discarded');
      try { await api('DELETE', draftPath(key)); } catch (_) { /* deleted on the next save or expiry */ }
    });
    form.before(notice);
    emit('restored', { key, form });
  };

  // Submitting: make sure the session is alive first (sign in inline if not, then submit with
  // fresh tokens); never save the draft again on the way out. The page that answers the submit
  // deletes the draft: ?tsuzuki_saved=KEY, <meta name="tsuzuki-saved" content="KEY"> or any
  // element with data-tsuzuki-saved="KEY".
  const passing = new WeakSet();
  const checking = new WeakSet();
  window.addEventListener('submit', async (e) => {
    const form = e.target;
    if (!form.hasAttribute || !form.hasAttribute('data-tsuzuki-autosave')) return;
    if (passing.has(form)) {
      // The second pass reaches the page's own handlers; if none cancels it, the page navigates.
      passing.delete(form);
      setTimeout(() => { if (!e.defaultPrevented) { submitting.add(form); clearTimeout(timers.get(form)); } });
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
    if (checking.has(form)) return;
    checking.add(form);
    const submitter = e.submitter;
    try {
      const s = await api('GET', '/api/session').catch(() => null);
      if (s && s.ok) setSession(s.data);
      else if (s && isEnded(s)) { await signInAgain(s.code); await refreshTokens(); }
    } finally { checking.delete(form); }
    passing.add(form);
    if (form.requestSubmit) form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
    else { passing.delete(form); submitting.add(form); form.submit(); }
  }, true);

  const deleteSubmitted = () => {
    const url = new URL(location.href);
    const keys = url.searchParams.getAll('tsuzuki_saved');
    for (const m of doc.querySelectorAll('meta[name="tsuzuki-saved"], [data-tsuzuki-saved]')) {
      keys.push(m.getAttribute('data-tsuzuki-saved') || m.content);
    }
    for (const key of keys) if (key) api('DELETE', draftPath(key)).catch(() => {});
    if (url.searchParams.has('tsuzuki_saved')) {
      url.searchParams.delete('tsuzuki_saved');
      try { history.replaceState(history.state, '', url.pathname + url.search + url.hash); } catch (_) { /* ignore */ }
    }
    return keys;
  };

  // ---- cookies and storage (S12) ----
  const banner = (id, text, role) => {
    let b = doc.getElementById(id);
    if (!b) { b = h('div', { id, class: 'tsuzuki-banner', role }); doc.body.prepend(b); }
    b.textContent = text;
  };
  const cookieNotice = (text) => banner('tsuzuki-cookie-notice', text || t('cookies'), 'alert');
  // Inside another site's frame the browser keeps no cookie of ours (third-party cookies
  // blocked, and SameSite=Lax cookies are never set there): the way out is a tab of its own.
  let framed = true;
  try { framed = window.top !== window; } catch (_) { /* a cross-origin top: framed */ }
  const frameNotice = () => {
    banner('tsuzuki-frame-notice', t('framed'), 'alert');
    doc.getElementById('tsuzuki-frame-notice').append(' ',
      h('a', { href: location.href, target: '_blank', rel: 'noopener' }, t('framed-open')));
  };
  const blockedInFrame = async (cookies) => {
    if (!framed) return false;
    if (!cookies) return true;
    try { return doc.hasStorageAccess ? !(await doc.hasStorageAccess()) : false; } catch (_) { return false; }
  };
  const cookiesOn = () => {
    if (!navigator.cookieEnabled) return false;
    try {
      doc.cookie = 'tsuzuki_probe=1; path=/; SameSite=Lax';
      const ok = doc.cookie.indexOf('tsuzuki_probe=1') !== -1;
      doc.cookie = 'tsuzuki_probe=; path=/; max-age=0; SameSite=Lax';
      return ok;
    } catch (_) { return false; }
  };
  const storageOn = () => {
    try {
      localStorage.setItem('tsuzuki:probe', '1'); localStorage.removeItem('tsuzuki:probe');
      sessionStorage.setItem('tsuzuki:probe', '1'); sessionStorage.removeItem('tsuzuki:probe');
      return true;
    } catch (_) { return false; }
  };

  const start = async () => {
    await loadTexts();
    const cookies = cookiesOn();
    cookieless = !cookies;
    if (await blockedInFrame(cookies)) { cookieless = true; frameNotice(); } else {
      if (!cookies) cookieNotice();
      if (!storageOn()) banner('tsuzuki-storage-notice', t('storage'), 'status');
    }
    hello();
    setInterval(hello, HELLO);
    const deleted = deleteSubmitted();
    const res = await refresh();
    const restoreAll = async () => {
      const forms = autosaveForms().filter((f) => !deleted.includes(keyOf(f)));
      if (!forms.length) return;
      const list = await api('GET', '/api/drafts').catch(() => null);
      if (list && isEnded(list)) pending.add(restoreAll);
      if (!list || !list.ok) return;
      const keys = (list.data.drafts || []).map((d) => d.key);
      for (const f of forms) if (keys.includes(keyOf(f))) restore(f);
    };
    if (AUTOSAVE && res && res.ok) restoreAll();
    else if (AUTOSAVE) pending.add(restoreAll);
    doc.documentElement.setAttribute('data-tsuzuki', 'ready');
  };

  window.tsuzuki = Object.freeze({
    fetch: tfetch,
    extend,
    saveDrafts: () => saveDrafts(false),
    session: () => sess,
    refresh,
  });
  if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', start);
  else start();
})();
