// Sign-in and account pages in real Chromium, in English and Japanese (issue #5 item 1; P3 —
// the pages work without JavaScript: these tests never rely on a script of ours).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, screenshot } from './lib/browser.js';
import { langOf, mainText, pathOf, signIn, switchLanguage } from './lib/pages.js';
import { startServer } from './lib/server.js';

let server;
before(async () => {
  server = await startServer({ users: ['pages@example.com'] });
});
after(async () => {
  await server?.stop();
});

test('sign in through the page; account page; language switch remembered across reloads (P3)', async () => {
  const b = await launch({ locale: 'en-US' });
  try {
    const { page } = b;
    await page.goto(`${server.url}/sign-in`);
    assert.equal(await langOf(page), 'en');
    assert.equal(await page.locator('h1').innerText(), 'Sign in');
    // Labels belong to their fields (accessible names), and the checkbox is there.
    await page.getByLabel('Email address').waitFor();
    await page.getByLabel('Password', { exact: true }).waitFor();
    await page.getByLabel('Keep me signed in', { exact: false }).waitFor();
    await screenshot(page, 'sign-in.en');

    await switchLanguage(page, 'ja');
    assert.equal(await page.locator('h1').innerText(), 'ログイン');
    await screenshot(page, 'sign-in.ja');
    await page.reload();
    assert.equal(await langOf(page), 'ja', 'the choice survives a reload');

    // Signing in keeps the language: the account page comes in Japanese.
    await signIn(page, server, 'pages@example.com');
    assert.equal(await langOf(page), 'ja');
    assert.equal(await page.locator('h1').innerText(), 'アカウント');
    assert.match(await mainText(page), /pages@example\.com/);
    await screenshot(page, 'account.ja');

    // A new tab of the same browser remembers it too (the choice is a cookie, not the URL).
    const other = await b.context.newPage();
    await other.goto(`${server.url}/account`);
    assert.equal(await langOf(other), 'ja');
    await other.close();

    await switchLanguage(page, 'en');
    assert.equal(await page.locator('h1').innerText(), 'Your account');
    await page.reload();
    assert.equal(await langOf(page), 'en', 'switching back is remembered as well');
    await screenshot(page, 'account.en');
  } finally {
    await b.dispose();
  }
});

test('Accept-Language chooses Japanese without the switch', async () => {
  const b = await launch({ locale: 'ja-JP' });
  try {
    await b.page.goto(`${server.url}/sign-in`);
    assert.equal(await langOf(b.page), 'ja');
    assert.equal(await b.page.locator('h1').innerText(), 'ログイン');
    await b.page.goto(`${server.url}/privacy`);
    assert.equal(pathOf(b.page), '/privacy');
    assert.equal(await langOf(b.page), 'ja');
  } finally {
    await b.dispose();
  }
});
