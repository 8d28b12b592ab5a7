// Error guidance (S11) and disabled cookies (S12), server-rendered: no script of ours involved.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, screenshot } from './lib/browser.js';
import { langOf, mainText } from './lib/pages.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PASSWORD, REPO, startServer } from './lib/server.js';

/** The Japanese catalogue's not_found message (tests do not restate translations). */
function expectedJa() {
  const ftl = readFileSync(join(REPO, 'crates/tsuzuki-server/locales/ja/main.ftl'), 'utf8');
  return ftl.match(/^error-not_found = (.*)$/m)[1].trim();
}

let server;
before(async () => {
  server = await startServer({ users: ['errors@example.com'] });
});
after(async () => {
  await server?.stop();
});

test('an error page says what happened, what to do, and shows its reference id (S11)', async () => {
  const b = await launch();
  try {
    const response = await b.page.goto(`${server.url}/no-such-page`);
    assert.equal(response.status(), 404);
    assert.equal(await b.page.locator('[role=alert]').innerText(), 'This page does not exist.');
    const ref = (await b.page.locator('p.reference code').first().innerText()).trim();
    assert.match(ref, /^[A-Z0-9]{6,}$/, `reference id, got ${ref}`);
    assert.match(await mainText(b.page), /What you can do/);
    await screenshot(b.page, 'error.en');

    // Switch to Japanese from the error page, then the same address again: a Japanese error
    // page with a new reference. (The switch on an error page returns to "/", not to the failing
    // address: error pages render with path "/"; see the report of this harness.)
    await Promise.all([b.page.waitForNavigation(), b.page.click('header nav a[hreflang="ja"]')]);
    assert.equal(await langOf(b.page), 'ja');
    await b.page.goto(`${server.url}/no-such-page`);
    assert.equal(await langOf(b.page), 'ja');
    assert.equal(await b.page.locator('[role=alert]').innerText(), expectedJa());
    const refJa = (await b.page.locator('p.reference code').first().innerText()).trim();
    assert.match(refJa, /^[A-Z0-9]{6,}$/);
    assert.notEqual(refJa, ref, 'every error gets its own reference id');
    await screenshot(b.page, 'error.ja');
  } finally {
    await b.dispose();
  }
});

test('with cookies disabled, submitting the sign-in form explains that cookies are needed (S12)', async () => {
  // Chromium's own "block all cookies" setting in a fresh profile (see lib/browser.js): it
  // neither stores nor sends any cookie, as in a browser where the person turned them off.
  const b = await launch({ blockCookies: true });
  try {
    const { page, context } = b;
    await page.goto(`${server.url}/sign-in`);
    assert.deepEqual(await context.cookies(server.url), [], 'no cookie was stored');
    await page.fill('#email', 'errors@example.com');
    await page.fill('#password', PASSWORD);
    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.click('form[action="/sign-in"] button[type=submit]'),
    ]);
    assert.equal(response.status(), 400);
    const text = await mainText(page);
    assert.match(text, /Cookies are needed to sign in\./);
    assert.match(text, /Allow cookies for this site/);
    assert.match(text, /cookies_required/);
    await page.locator('p.reference code').first().waitFor();
    await screenshot(page, 'cookies-needed.en');
  } finally {
    await b.dispose();
  }

  // The same in Japanese (Accept-Language: the switch's own cookie cannot be kept here).
  const ja = await launch({ blockCookies: true, locale: 'ja-JP' });
  try {
    const { page } = ja;
    await page.goto(`${server.url}/sign-in`);
    await page.fill('#email', 'errors@example.com');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForNavigation(), page.click('form[action="/sign-in"] button[type=submit]')]);
    assert.equal(await langOf(page), 'ja');
    assert.match(await mainText(page), /cookies_required/);
    await screenshot(page, 'cookies-needed.ja');
  } finally {
    await ja.dispose();
  }
});
