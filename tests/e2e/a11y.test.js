// Accessibility (issue #5 item 1: labels, keyboard use, focus, contrast, landmarks, language):
// axe-core's WCAG 2.x A and AA rules on every kind of page, in English and Japanese, with the
// browser client's warning and inline sign-in open on the demo form. Serious and critical
// violations fail the test; lesser ones are printed.
//
// axe is injected as an inline script, which tsuzuki's CSP (`script-src 'self'`) refuses: this
// file alone launches Chromium with `bypassCSP` (lib/browser.js).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { launch } from './lib/browser.js';
import { enrolTotp, pathOf, signIn, submitSignIn } from './lib/pages.js';
import { startServer } from './lib/server.js';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const IDLE_S = 20;

let server;
before(async () => {
  server = await startServer({ args: ['--demo'], env: { TSUZUKI_SESSION__IDLE_TIMEOUT: `${IDLE_S}s` } });
});
after(async () => {
  await server?.stop();
});

/** Runs axe on the page as it is now; returns the serious and critical violations as text. */
async function audit(page, what) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    TAGS,
  );
  const describe = (v) =>
    `${what}: [${v.impact}] ${v.id} — ${v.help}\n` +
    v.nodes.map((n) => `    ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`).join('\n');
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of result.violations.filter((x) => !bad.includes(x))) console.log(`note: ${describe(v)}`);
  return bad.map(describe);
}

for (const [locale, lang] of [
  ['en-US', 'en'],
  ['ja-JP', 'ja'],
]) {
  test(`axe-core finds no serious or critical WCAG A/AA violation on any page (${lang})`, async () => {
    const email = `a11y-${lang}@example.com`;
    server.addUser(email);
    const b = await launch({ locale, bypassCSP: true });
    const found = [];
    const check = async (what) => {
      assert.equal(await b.page.locator('html').getAttribute('lang'), lang, `${what} in ${lang}`);
      found.push(...(await audit(b.page, `${what} (${lang})`)));
    };
    try {
      const { page, context } = b;
      for (const [path, what] of [
        ['/sign-in', 'sign-in page'],
        ['/privacy', 'privacy page'],
        ['/no-such-page', 'error page'],
        ['/recover', 'forgot-password page'],
      ]) {
        await page.goto(`${server.url}${path}`);
        await check(what);
      }
      // A wrong password: the page with its error message.
      await submitSignIn(page, server, email, { password: 'wrong password, long enough' });
      await check('sign-in page with an error');

      await signIn(page, server, email);
      await check('account page');
      for (const [path, what] of [
        ['/account/security', 'security page'],
        ['/account/devices', 'devices page'],
        ['/account/history', 'history page'],
        ['/account/password', 'password page'],
      ]) {
        await page.goto(`${server.url}${path}`);
        await check(what);
      }

      // The demo form with the browser client's warning open, then its inline sign-in.
      await enrolTotp(context, server);
      await page.goto(`${server.url}/demo/inquiry`);
      await page.locator('html[data-tsuzuki="ready"]').waitFor({ state: 'attached' });
      await check('demo inquiry page');
      await page.locator('dialog#tsuzuki-warning[open]').waitFor({ timeout: (IDLE_S + 5) * 1000 });
      await page.locator('#tsuzuki-warning-text:not(:empty)').waitFor();
      await check('demo page with the expiry warning');
      await page.locator('dialog#tsuzuki-signin[open]').waitFor({ timeout: (IDLE_S + 5) * 1000 });
      await check('demo page with the inline sign-in');

      // The code step of a sign-in with an authenticator (a new browser: no trusted device).
      await context.clearCookies();
      await submitSignIn(page, server, email);
      assert.match(pathOf(page), /^\/sign-in\/flow\//, `code step, got ${page.url()}`);
      await check('code step');
    } finally {
      await b.dispose();
    }
    assert.deepEqual(found, [], `accessibility violations:\n${found.join('\n')}`);
  });
}
