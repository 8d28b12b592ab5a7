// The browser client's scenarios (issue #5 item 2; docs/browser-client.md), driven in real
// Chromium against `tsuzuki serve --demo`: the demo page /demo/inquiry includes
// static/tsuzuki-client.js and a form marked data-tsuzuki-autosave="demo-inquiry". The idle
// limit is 20 s, so the warning comes 10 s before it (the lead is capped at half the window).
// Every test uses its own account, so sessions and drafts of one test never meet another's.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { launch, screenshot } from './lib/browser.js';
import { enrolTotp, mainText, pathOf, signIn, switchLanguage } from './lib/pages.js';
import { PASSWORD, startServer } from './lib/server.js';

const IDLE_S = 20;
const KEY = 'demo-inquiry';
const FORM = `form#demo-inquiry[data-tsuzuki-autosave="${KEY}"]`;
const MESSAGE = 'The parcel arrived damaged.\nThe box was crushed on one side; 日本語も入ります。';

let server;
before(async () => {
  server = await startServer({ args: ['--demo'], env: { TSUZUKI_SESSION__IDLE_TIMEOUT: `${IDLE_S}s` } });
});
after(async () => {
  await server?.stop();
});

/** /api/session as a background read (never extends the session); the JSON, or the status. */
async function sessionOf(context) {
  const r = await context.request.get(`${server.url}/api/session`, {
    headers: { 'X-Tsuzuki-Background': '1' },
  });
  return r.status() === 200 ? r.json() : { status: r.status() };
}

/** Opens the demo form and waits until the client script has started. */
async function openDemo(page) {
  await page.goto(`${server.url}/demo/inquiry`);
  assert.equal(pathOf(page), '/demo/inquiry', `demo page, got ${page.url()}`);
  await page.locator('html[data-tsuzuki="ready"]').waitFor({ state: 'attached' });
}

/** Fills the demo form by typing (so that the client sees input events). */
async function fillDemo(page, name) {
  await page.fill('#demo-name', name);
  await page.fill('#demo-email', 'buyer@example.com');
  await page.fill('#demo-order', 'A-1234');
  await page.selectOption('#demo-category', { index: 1 });
  await page.fill('#demo-message', MESSAGE);
  await page.check('#demo-consent');
}

test('expiry warning appears before the idle limit and "Stay signed in" extends the server session (S4)', async () => {
  // S4: warned before the idle limit, and "Stay signed in" moves the server's limit.
  server.addUser('warn@example.com');
  const b = await launch();
  try {
    const { page, context } = b;
    await signIn(page, server, 'warn@example.com');
    await openDemo(page);
    const before = await sessionOf(context);
    assert.ok(before.idle_expires_at, `session: ${JSON.stringify(before)}`);

    // No activity: the warning opens about 10 s before the idle limit, while the session lives.
    const warning = page.locator('dialog#tsuzuki-warning[open]');
    await warning.waitFor({ timeout: (IDLE_S + 5) * 1000 });
    const shownAt = Date.now() / 1000;
    assert.ok(shownAt < before.idle_expires_at, 'the warning shows before the idle limit');
    await page.locator('#tsuzuki-warning-text').filter({ hasText: 'Your session is about to end' }).waitFor();
    assert.match(await page.locator('#tsuzuki-warning-time').innerText(), /^Time left: 0:\d\d$/);
    assert.equal(await page.locator('#tsuzuki-stay').innerText(), 'Stay signed in');
    assert.equal(await page.locator('#tsuzuki-save').innerText(), 'Save now');
    await screenshot(page, 'warning.en');

    // "Stay signed in": POST /api/session/extend; the server's idle limit moves forward.
    await page.click('#tsuzuki-stay');
    await page.locator('dialog#tsuzuki-warning').waitFor({ state: 'hidden' });
    const extended = await sessionOf(context);
    assert.ok(
      extended.idle_expires_at > before.idle_expires_at,
      `idle limit extended: ${before.idle_expires_at} → ${extended.idle_expires_at}`,
    );
    assert.ok(extended.idle_expires_at - Date.now() / 1000 > IDLE_S - 4, 'a whole idle window again');

    // The same dialog in Japanese (the language switch reloads the page in ja).
    await switchLanguage(page, 'ja');
    await page.locator('html[data-tsuzuki="ready"]').waitFor({ state: 'attached' });
    await warning.waitFor({ timeout: (IDLE_S + 5) * 1000 });
    await page.locator('#tsuzuki-warning-text').filter({ hasText: 'もうすぐセッションが切れます' }).waitFor();
    assert.equal(await page.locator('#tsuzuki-stay').innerText(), 'ログインを続ける');
    await screenshot(page, 'warning.ja');
    await page.click('#tsuzuki-stay');
    await page.locator('dialog#tsuzuki-warning').waitFor({ state: 'hidden' });
  } finally {
    await b.dispose();
  }
});

test('browser closed mid-form: a new profile signs in and the draft is restored (S5)', async () => {
  // S5: drafts live on the server for the account, so another browser gets them back.
  server.addUser('draft@example.com');
  const first = await launch();
  try {
    const { page } = first;
    await signIn(page, server, 'draft@example.com');
    await openDemo(page);
    await fillDemo(page, 'Hanako Draft');
    // Autosave: 1 s after the last input, PUT /api/drafts/demo-inquiry.
    await page.locator(`${FORM}[data-tsuzuki-state="saved"]`).waitFor();
  } finally {
    await first.dispose(); // the browser is gone, its profile too
  }

  const second = await launch();
  try {
    const { page } = second;
    await signIn(page, server, 'draft@example.com');
    await openDemo(page);
    await page.locator(`div.tsuzuki-notice[data-tsuzuki-key="${KEY}"]`).waitFor();
    await page.locator(`${FORM}[data-tsuzuki-state="restored"]`).waitFor();
    assert.equal(await page.inputValue('#demo-name'), 'Hanako Draft');
    assert.equal(await page.inputValue('#demo-email'), 'buyer@example.com');
    assert.equal(await page.inputValue('#demo-order'), 'A-1234');
    assert.equal(await page.inputValue('#demo-message'), MESSAGE);
    assert.equal(await page.isChecked('#demo-consent'), true);
    assert.match(
      await page.locator(`div.tsuzuki-notice[data-tsuzuki-key="${KEY}"]`).innerText(),
      /A saved draft of this form was restored\./,
    );
    await screenshot(page, 'draft-restored.en');
  } finally {
    await second.dispose();
  }
});

test('session ends mid-form: inline sign-in with a TOTP code, the form keeps its text, submit goes through (S6, S7)', async () => {
  // S6: an ended session is resumed in place (inline sign-in, with the second factor: S7).
  server.addUser('inline@example.com');
  const b = await launch();
  try {
    const { page, context } = b;
    // A fresh password sign-in may enrol an authenticator; the next sign-in needs its code.
    await signIn(page, server, 'inline@example.com');
    const totp = await enrolTotp(context, server);
    await openDemo(page);
    await fillDemo(page, 'Taro Inline');

    // The session ends on the server (signed out everywhere, as from another device). The page
    // does not know yet: its next check is the submit.
    const end = await context.request.post(`${server.url}/api/sign-out-everywhere`, {
      data: { keep_current: false },
    });
    assert.ok(end.ok(), `sign-out-everywhere: ${end.status()} ${await end.text()}`);
    assert.equal((await sessionOf(context)).status, 401);

    await page.click('#demo-submit');
    const dialog = page.locator('dialog#tsuzuki-signin[open]');
    await dialog.waitFor();
    assert.equal(pathOf(page), '/demo/inquiry', 'still on the form');
    assert.equal(await page.inputValue('#tsuzuki-email'), 'inline@example.com', 'email filled in');
    await screenshot(page, 'inline-signin.en');

    await page.fill('#tsuzuki-password', PASSWORD);
    await page.click('#tsuzuki-signin-submit');
    await page.locator('form#tsuzuki-code-form:not([hidden])').waitFor();
    // The code that confirmed the enrolment cannot sign in (SEC-49): take the next step's code
    // when now is still in that step (one step of drift forward is accepted).
    const step = (ms) => Math.floor(ms / 30_000);
    const now = Date.now();
    const code = totp.codeAt(step(now) === step(totp.confirmedAt) ? now + 30_000 : now);
    await page.fill('#tsuzuki-code', code);
    await page.click('#tsuzuki-code-submit');
    await dialog.waitFor({ state: 'hidden' });

    // Signed in again; the submit that waited goes through with the same text.
    await page.locator('h1', { hasText: 'Inquiry received' }).waitFor();
    const text = await mainText(page);
    assert.match(text, /Taro Inline/);
    assert.match(text, /A-1234/);
    const session = await sessionOf(context);
    assert.deepEqual(session.methods, ['pwd', 'totp']);
  } finally {
    await b.dispose();
  }
});

/** The authenticator code to type now (the enrolment's own code cannot sign in: SEC-49). */
function nextCode(totp) {
  const step = (ms) => Math.floor(ms / 30_000);
  const now = Date.now();
  return totp.codeAt(step(now) === step(totp.confirmedAt) ? now + 30_000 : now);
}

for (const [locale, lang, texts] of [
  ['en-US', 'en', { title: 'Sign in again', totp: 'Enter the code from your authenticator app.', received: 'Inquiry received' }],
  ['ja-JP', 'ja', { title: 'もう一度ログイン', totp: '認証アプリのコードを入力してください。', received: 'お問い合わせを受け付けました' }],
]) {
  test(`idle limit reached mid-form: inline sign-in with a TOTP code, text kept, submit goes through (S6, ${lang})`, async () => {
    // S6 with the session ended by the idle limit itself (20 s here), not by a revocation: the
    // script notices at the deadline, with nobody clicking anything, and opens the sign-in.
    const email = `idle-${lang}@example.com`;
    server.addUser(email);
    const b = await launch({ locale });
    try {
      const { page, context } = b;
      await signIn(page, server, email);
      const totp = await enrolTotp(context, server);
      await openDemo(page);
      await fillDemo(page, `Idle ${lang}`);
      await page.locator(`${FORM}[data-tsuzuki-state="saved"]`).waitFor();
      const before = await sessionOf(context);

      // No activity: the warning comes and goes unanswered, then the idle limit ends the session.
      const dialog = page.locator('dialog#tsuzuki-signin[open]');
      await dialog.waitFor({ timeout: (IDLE_S + 10) * 1000 });
      assert.ok(Date.now() / 1000 >= before.idle_expires_at, 'opened at the idle limit, not before');
      assert.equal((await sessionOf(context)).status, 401, 'the server ended the session');
      assert.equal(await page.locator('dialog#tsuzuki-warning[open]').count(), 0, 'the warning gave way');
      assert.equal(pathOf(page), '/demo/inquiry', 'still on the form');
      assert.equal(await page.locator('#tsuzuki-signin-title').innerText(), texts.title);
      assert.equal(await page.inputValue('#tsuzuki-email'), email, 'email filled in');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'tsuzuki-password');
      await screenshot(page, `inline-relogin.${lang}`);

      await page.fill('#tsuzuki-password', PASSWORD);
      await page.click('#tsuzuki-signin-submit');
      await page.locator('form#tsuzuki-code-form:not([hidden])').waitFor();
      assert.equal(await page.locator('#tsuzuki-code-info').innerText(), texts.totp);
      await page.fill('#tsuzuki-code', nextCode(totp));
      await screenshot(page, `inline-relogin-code.${lang}`);
      await page.click('#tsuzuki-code-submit');
      await dialog.waitFor({ state: 'hidden' });

      // The page was never reloaded: every field still holds what was typed.
      assert.equal(await page.inputValue('#demo-name'), `Idle ${lang}`);
      assert.equal(await page.inputValue('#demo-message'), MESSAGE);
      assert.equal(await page.isChecked('#demo-consent'), true);
      const session = await sessionOf(context);
      assert.deepEqual(session.methods, ['pwd', 'totp']);

      // The submit goes through with the new session's CSRF token (refreshed in the form).
      await page.click('#demo-submit');
      await page.locator('h1', { hasText: texts.received }).waitFor();
      const text = await mainText(page);
      assert.match(text, new RegExp(`Idle ${lang}`));
      assert.match(text, /A-1234/);
    } finally {
      await b.dispose();
    }
  });
}

/** Counts the client's `tsuzuki:warning` events in this page (window.__warnings). */
async function countWarnings(page) {
  await page.evaluate(() => {
    window.__warnings = 0;
    document.addEventListener('tsuzuki:warning', () => {
      window.__warnings += 1;
    });
  });
}
const warningsIn = (page) => page.evaluate(() => window.__warnings);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

test('two tabs: activity in one keeps the other alive and the warning shows once (S4)', async () => {
  // S4: the tabs of one browser share activity and the warning (BroadcastChannel). Both tabs
  // are "visible" in headless Chromium; the one with the lower random id leads and warns, the
  // other takes over when it goes (docs/browser-client.md, "Tabs").
  server.addUser('tabs@example.com');
  const b = await launch();
  try {
    const { context } = b;
    const a = b.page;
    await signIn(a, server, 'tabs@example.com');
    await openDemo(a);
    const other = await context.newPage();
    await openDemo(other);
    await countWarnings(a);
    await countWarnings(other);
    const start = await sessionOf(context);

    // Work in tab A for longer than the idle window; tab B stays untouched. A's activity
    // extends the session and tells B (BroadcastChannel): B never warns nor asks to sign in.
    const until = Date.now() + (IDLE_S + 6) * 1000;
    while (Date.now() < until) {
      await a.type('#demo-message', 'x');
      await sleep(1500);
    }
    const alive = await sessionOf(context);
    assert.ok(alive.idle_expires_at > start.idle_expires_at + 5, `extended: ${JSON.stringify(alive)}`);
    assert.ok(alive.idle_expires_at > Date.now() / 1000, 'still signed in');
    assert.equal(await warningsIn(other), 0, 'tab B did not warn while tab A was in use');
    assert.equal(await warningsIn(a), 0);
    assert.equal(await other.locator('dialog#tsuzuki-signin[open]').count(), 0);
    assert.equal(await other.locator('dialog#tsuzuki-warning[open]').count(), 0);

    // Now nobody works: one warning for the deadline, in one tab only. The dialogs of both tabs
    // are sampled from the moment the first one opens: never two at once, never none after.
    const openIn = (page) => page.locator('dialog#tsuzuki-warning[open]').count();
    const deadline = Date.now() + (IDLE_S + 5) * 1000;
    let samples = [];
    while (samples.length === 0 || samples[samples.length - 1] === 0) {
      assert.ok(Date.now() < deadline, 'a warning shows before the idle limit');
      samples = [(await openIn(a)) + (await openIn(other))];
      await sleep(50);
    }
    const sampleUntil = Date.now() + 2000;
    while (Date.now() < sampleUntil) {
      samples.push((await openIn(a)) + (await openIn(other)));
      await sleep(50);
    }
    assert.ok(samples.length > 10, `${samples.length} samples`);
    assert.deepEqual([...new Set(samples)], [1], `exactly one dialog across both tabs at every sample: ${samples}`);
    const counts = [await warningsIn(a), await warningsIn(other)];
    assert.equal(counts[0] + counts[1], 1, `one warning across both tabs, got ${counts}`);
    assert.ok((await sessionOf(context)).idle_expires_at > Date.now() / 1000, 'warned before the end');

    // The tab that warns goes away: the other one takes the warning over before the end.
    const [leader, follower] = counts[0] === 1 ? [a, other] : [other, a];
    await leader.close();
    await follower.locator('dialog#tsuzuki-warning[open]').waitFor({ timeout: 7000 });
    assert.equal(await warningsIn(follower), 1, 'the remaining tab warns once');
    assert.ok((await sessionOf(context)).idle_expires_at > Date.now() / 1000, 'handed over before the end');
  } finally {
    await b.dispose();
  }
});

/** A host page of tsuzuki's origin that includes the client (served by a route, S12). */
const hostPage = (lang) => `<!doctype html><html lang="${lang}"><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/tsuzuki.css"><title>host</title></head><body><main>
<form method="post" action="/nowhere" id="host-form" data-tsuzuki-autosave="host">
<textarea name="message" id="host-message"></textarea><button type="submit">Send</button></form>
</main><script src="/static/tsuzuki-client.js" defer></script></body></html>`;

test('cookies disabled: the client script explains what to do before the form is sent (S12)', async () => {
  // S12. Chromium's own "block all cookies" (lib/browser.js). The demo page needs a session, which
  // such a browser cannot keep: a page of the same origin that includes the script stands in
  // for the host application's form.
  for (const [locale, lang, expected] of [
    ['en-US', 'en', /Cookies are turned off for this site\..*allow cookies for this site/],
    ['ja-JP', 'ja', /このサイトのCookieが無効になっています。/],
  ]) {
    const b = await launch({ blockCookies: true, locale });
    try {
      const { page } = b;
      await page.route(`${server.url}/client-host`, (route) =>
        route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: hostPage(lang) }),
      );
      await page.goto(`${server.url}/client-host`);
      await page.locator('html[data-tsuzuki="ready"]').waitFor({ state: 'attached' });
      const banner = page.locator('div#tsuzuki-cookie-notice[role=alert]');
      await banner.waitFor();
      assert.match((await banner.innerText()).replace(/\s+/g, ' '), expected);
      assert.deepEqual(await b.context.cookies(server.url), [], 'no cookie was stored');
      assert.equal(await page.locator('dialog[open]').count(), 0, 'no sign-in dialog over the notice');
      await screenshot(page, `client-cookies.${lang}`);
    } finally {
      await b.dispose();
    }
  }
});

test('inside another site\'s frame with third-party cookies blocked: the client says to open a tab (S12)', async () => {
  // S12. A page of another site (127.0.0.1 is another site than localhost) frames a host page
  // of tsuzuki's origin that includes the script. tsuzuki's own pages refuse framing
  // (frame-ancestors 'none'), so the framed page is the host application's, served by a route
  // as in the cookie test. Chromium blocks third-party cookies (lib/browser.js).
  const outer = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><title>other site</title>
<iframe id="host" src="${server.url}/client-host" width="900" height="500"></iframe>`);
  });
  await new Promise((ok) => outer.listen(0, '127.0.0.1', ok));
  const outerUrl = `http://127.0.0.1:${outer.address().port}/`;
  try {
    for (const [locale, lang, expected] of [
      ['en-US', 'en', /shown inside another site.*Open the page in its own tab/],
      ['ja-JP', 'ja', /ほかのサイトの中に表示されていて.*新しいタブで開いて/],
    ]) {
      const b = await launch({ blockThirdPartyCookies: true, locale });
      try {
        const { page, context } = b;
        await context.route(`${server.url}/client-host`, (route) =>
          route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: hostPage(lang) }),
        );
        // The same page at the top: cookies work, no notice (the check tells the cases apart).
        await page.goto(`${server.url}/client-host`);
        await page.locator('html[data-tsuzuki="ready"]').waitFor({ state: 'attached' });
        assert.equal(await page.locator('.tsuzuki-banner').count(), 0, 'no notice at the top');

        await page.goto(outerUrl);
        const frame = page.frameLocator('iframe#host');
        await frame.locator('html[data-tsuzuki="ready"]').waitFor({ state: 'attached' });
        const notice = frame.locator('div#tsuzuki-frame-notice[role=alert]');
        await notice.waitFor();
        assert.match((await notice.innerText()).replace(/\s+/g, ' '), expected);
        const link = notice.locator('a[target=_blank]');
        assert.equal(await link.getAttribute('href'), `${server.url}/client-host`);
        assert.equal(await link.getAttribute('rel'), 'noopener');
        assert.equal(await frame.locator('#tsuzuki-cookie-notice').count(), 0, 'the specific notice only');
        assert.equal(await frame.locator('dialog[open]').count(), 0, 'no sign-in dialog that could not work');
        await screenshot(page, `client-framed.${lang}`);
        // The link works: a tab of its own, at the top, where the cookies work.
        const [tab] = await Promise.all([context.waitForEvent('page'), link.click()]);
        await tab.waitForURL(`${server.url}/client-host`);
        await tab.locator('html[data-tsuzuki="ready"]').waitFor({ state: 'attached' });
        assert.equal(await tab.locator('.tsuzuki-banner').count(), 0, 'no notice in its own tab');
      } finally {
        await b.dispose();
      }
    }
  } finally {
    outer.close();
  }
});
