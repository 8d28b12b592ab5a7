// Devices page (R8): one browser signs out the other from its devices page; the other browser
// is signed out on its next navigation. Screenshots of the page in both languages.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, screenshot } from './lib/browser.js';
import { mainText, pathOf, signIn, switchLanguage } from './lib/pages.js';
import { PASSWORD, startServer } from './lib/server.js';

let server;
before(async () => {
  server = await startServer({ users: ['devices@example.com'] });
});
after(async () => {
  await server?.stop();
});

/** Opens the devices page; answers the password re-entry if the server asks for it (R12). */
async function openDevices(page) {
  await page.goto(`${server.url}/account/devices`);
  if (pathOf(page) !== '/account/devices' && (await page.locator('form[action="/account/reauth"]').count())) {
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForNavigation(), page.click('form[action="/account/reauth"] button')]);
  }
  assert.equal(pathOf(page), '/account/devices', `devices page, got ${page.url()}`);
}

test('revoking a device signs that browser out on its next navigation (R8)', async () => {
  const a = await launch();
  const b = await launch();
  try {
    await signIn(a.page, server, 'devices@example.com');
    await signIn(b.page, server, 'devices@example.com');

    await openDevices(a.page);
    const rows = a.page.locator('tbody tr');
    assert.equal(await rows.count(), 2, `two devices listed: ${await mainText(a.page)}`);
    assert.equal(await a.page.locator('tbody tr.current').count(), 1);
    await screenshot(a.page, 'devices.en');
    await switchLanguage(a.page, 'ja');
    await screenshot(a.page, 'devices.ja');

    // "Sign out" (ログアウト) on the other device's row.
    const otherRow = a.page.locator('tbody tr:not(.current)');
    const button = otherRow.locator('form[action="/account/devices/revoke"] button');
    assert.equal(await button.innerText(), 'ログアウト');
    await Promise.all([a.page.waitForNavigation(), button.click()]);
    if (await a.page.locator('form[action="/account/reauth"]').count()) {
      await a.page.fill('#password', PASSWORD);
      await Promise.all([a.page.waitForNavigation(), a.page.click('form[action="/account/reauth"] button')]);
    }
    assert.equal(pathOf(a.page), '/account/devices');
    assert.match(await mainText(a.page), /その端末をログアウトしました/);
    assert.equal(await a.page.locator('tbody tr').count(), 1, 'only this device is left');

    // The other browser: its next navigation lands on the sign-in page.
    await b.page.goto(`${server.url}/account`);
    assert.equal(pathOf(b.page), '/sign-in', `signed out, got ${b.page.url()}`);
    // …and the revoking browser is still signed in.
    await a.page.goto(`${server.url}/account`);
    assert.equal(pathOf(a.page), '/account');
  } finally {
    await a.dispose();
    await b.dispose();
  }
});
