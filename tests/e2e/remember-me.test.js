// "Keep me signed in" across a browser restart (R5): the same Chromium profile, closed and
// launched again, reaches /account without signing in; without the checkbox it does not.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch } from './lib/browser.js';
import { pathOf, signIn } from './lib/pages.js';
import { startServer } from './lib/server.js';

let server;
before(async () => {
  server = await startServer({ users: ['keep@example.com', 'once@example.com'] });
});
after(async () => {
  await server?.stop();
});

/** Signs in, closes the browser, relaunches it on the same profile and opens /account. */
async function afterRestart(email, remember, check) {
  const first = await launch();
  let second;
  try {
    await signIn(first.page, server, email, { remember });
    await first.close(); // the browser ends; its profile directory stays
    second = await launch({ profileDir: first.profileDir });
    // The browser session ended: the session cookie (no Max-Age) is gone either way.
    const names = (await second.context.cookies(server.url)).map((c) => c.name);
    assert.ok(!names.includes('tsuzuki_session'), `session cookie outlived the restart: ${names}`);
    assert.equal(names.includes('tsuzuki_remember'), remember, `cookies after restart: ${names}`);
    await second.page.goto(`${server.url}/account`);
    await check(second);
  } finally {
    await second?.close();
    await first.dispose();
  }
}

test('remembered sign-in survives closing and relaunching the browser (R5)', async () => {
  await afterRestart('keep@example.com', true, async ({ page, context }) => {
    assert.equal(pathOf(page), '/account', `expected the account page, got ${page.url()}`);
    const session = await (await context.request.get(`${server.url}/api/session`)).json();
    assert.equal(session.remembered, true, 'the session was restored from the remember-me cookie');
  });
});

test('without "keep me signed in" the relaunched browser must sign in again (R5 control)', async () => {
  await afterRestart('once@example.com', false, async ({ page }) => {
    assert.equal(pathOf(page), '/sign-in');
  });
});
