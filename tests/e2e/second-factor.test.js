// The second-factor step is a resumable flow (S7; docs/sign-in-flows.md): closing the tab and
// opening its URL again lands on the same step, and the authenticator code finishes the sign-in.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, screenshot } from './lib/browser.js';
import { enrolTotp, langOf, mainText, pathOf, signIn, submitSignIn, switchLanguage } from './lib/pages.js';
import { startServer } from './lib/server.js';

let server;
before(async () => {
  server = await startServer({ users: ['totp@example.com'] });
});
after(async () => {
  await server?.stop();
});

test('code step survives a closed tab and accepts the TOTP code (S7)', async () => {
  const b = await launch();
  try {
    let page = b.page;
    // A fresh password sign-in is recent enough to enrol an authenticator (API, cookies of this
    // browser), then sign out to start over with the second factor due.
    await signIn(page, server, 'totp@example.com');
    const totp = await enrolTotp(b.context, server);
    await Promise.all([page.waitForNavigation(), page.click('form[action="/sign-out"] button')]);
    assert.equal(pathOf(page), '/sign-in');

    await submitSignIn(page, server, 'totp@example.com');
    assert.match(pathOf(page), /^\/sign-in\/flow\/[^/]+$/, `code step, got ${page.url()}`);
    const flowUrl = page.url();
    assert.equal(await page.locator('h1').innerText(), 'Confirm it is you');
    await page.getByLabel('Code', { exact: false }).first().waitFor();
    // Nothing is issued before the last step (SEC-26): the account page still wants a sign-in.
    const pending = await b.context.request.get(`${server.url}/api/session`);
    assert.equal(pending.status(), 401);
    await screenshot(page, 'code-step.en');
    await switchLanguage(page, 'ja');
    assert.equal(await page.locator('h1').innerText(), 'ご本人確認');
    await screenshot(page, 'code-step.ja');

    // Close the tab; the same browser opens the flow's URL again: same step, same flow.
    await page.close();
    page = await b.context.newPage();
    await page.goto(flowUrl);
    assert.equal(page.url(), flowUrl);
    assert.equal(await langOf(page), 'ja');
    assert.equal(await page.locator('h1').innerText(), 'ご本人確認');
    await page.locator('#code').waitFor();

    // The code that confirmed the enrolment cannot sign in (SEC-49): use the next time step's
    // code, which the server accepts (one step of drift forward, docs/sign-in-flows.md).
    await page.fill('#code', totp.codeAt(totp.confirmedAt + 30_000));
    await Promise.all([page.waitForNavigation(), page.click('form[action$="/verify"] button[type=submit]')]);
    assert.equal(pathOf(page), '/account', `signed in, got ${page.url()}: ${await mainText(page)}`);
    assert.match(await mainText(page), /totp@example\.com/);
    const session = await (await b.context.request.get(`${server.url}/api/session`)).json();
    assert.deepEqual(session.methods, ['pwd', 'totp']);

    // A completed flow is single use: its URL no longer offers the code form.
    await page.goto(flowUrl);
    assert.equal(await page.locator('#code').count(), 0);
  } finally {
    await b.dispose();
  }
});

test('the flow URL in another browser is not found (bound to the browser that began it, S7)', async () => {
  const a = await launch();
  const other = await launch();
  try {
    server.addUser('totp2@example.com');
    await signIn(a.page, server, 'totp2@example.com');
    await enrolTotp(a.context, server);
    await Promise.all([a.page.waitForNavigation(), a.page.click('form[action="/sign-out"] button')]);
    await submitSignIn(a.page, server, 'totp2@example.com');
    assert.match(pathOf(a.page), /^\/sign-in\/flow\//);
    await other.page.goto(a.page.url());
    assert.equal(await other.page.locator('#code').count(), 0);
    assert.match(await mainText(other.page), /flow_not_found/);
  } finally {
    await a.dispose();
    await other.dispose();
  }
});
