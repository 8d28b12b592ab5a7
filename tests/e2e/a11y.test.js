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
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
// Best practices (landmarks, heading order, …) run too; they are fixed when found but only a
// WCAG rule fails the test.
const TAGS = [...WCAG, 'best-practice'];
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
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    TAGS,
  );
  // axe ran its rules (an empty list of violations must mean "checked", not "not run").
  assert.ok(result.passes.length + result.incomplete.length + result.violations.length > 10, `${what}: axe ran`);
  const describe = (v) =>
    `${what}: [${v.impact}] ${v.id} — ${v.help}\n` +
    v.nodes.map((n) => `    ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`).join('\n');
  const bad = result.violations.filter(
    (v) => (v.impact === 'serious' || v.impact === 'critical') && v.tags.some((tag) => WCAG.includes(tag)),
  );
  for (const v of result.violations.filter((x) => !bad.includes(x))) console.log(`note: ${describe(v)}`);
  // What axe could not decide (contrast over a backdrop, say) is for a person to look at.
  const unsure = result.incomplete.map((v) => `${v.id}×${v.nodes.length}`).join(', ');
  console.log(`${what}: ${result.passes.length} rules passed, ${result.violations.length} violated${unsure ? `; undecided: ${unsure}` : ''}`);
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
      // The audit finds what it should: a field without a label and grey-on-white text.
      await page.goto(`${server.url}/sign-in`);
      await page.evaluate(() => {
        const input = document.createElement('input');
        const faint = document.createElement('p');
        faint.textContent = 'faint';
        faint.setAttribute('class', 'a11y-probe');
        document.querySelector('main').append(input, faint);
        document.styleSheets[0].insertRule('.a11y-probe { color: #bbb; }');
      });
      const probe = (await audit(page, 'probe')).join('\n');
      assert.match(probe, /\blabel\b/, `an unlabelled field is found: ${probe}`);
      assert.match(probe, /color-contrast/, `low contrast is found: ${probe}`);

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

/** WCAG contrast ratio of two `rgb(…)` colours. */
function contrast(a, b) {
  const lum = (css) => {
    const [r, g, bl] = css.match(/[\d.]+/g).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** Presses Tab; returns what has the focus and how its focus ring looks. */
async function tab(page) {
  await page.keyboard.press('Tab');
  return page.evaluate(() => {
    const el = document.activeElement;
    const s = getComputedStyle(el);
    return {
      name: el.id || el.getAttribute('href') || el.tagName.toLowerCase(),
      inDialog: !!el.closest('dialog'),
      dialogOpen: !!document.querySelector('dialog[open]'),
      style: s.outlineStyle,
      width: parseFloat(s.outlineWidth),
      color: s.outlineColor,
    };
  });
}

/** The focus ring is there and stands out (3:1, WCAG 1.4.11) on the page and card colours. */
function assertVisibleFocus(f) {
  assert.notEqual(f.style, 'none', `${f.name}: a focus outline`);
  assert.ok(f.width >= 2, `${f.name}: outline ${f.width}px`);
  for (const bg of ['rgb(255, 255, 255)', 'rgb(250, 250, 250)']) {
    const ratio = contrast(f.color, bg);
    assert.ok(ratio >= 3, `${f.name}: focus ${f.color} on ${bg} is ${ratio.toFixed(2)}:1`);
  }
}

test('keyboard: the sign-in page in reading order with a visible focus; the warning keeps the focus', async () => {
  const email = 'keys@example.com';
  server.addUser(email);
  const b = await launch();
  try {
    const { page } = b;
    await page.goto(`${server.url}/sign-in`);
    // From the first link on (the page's autofocus is on the email field).
    await page.focus('header nav a');
    const order = [];
    for (let i = 0; i < 6; i += 1) {
      const f = await tab(page);
      assertVisibleFocus(f);
      order.push(f.name);
    }
    assert.deepEqual(order, [
      'email',
      'password',
      'remember',
      'button',
      '/recover',
      '/privacy',
    ]);

    // The warning takes the focus, on "Stay signed in"; Tab stays inside the modal dialog.
    await signIn(page, server, email);
    await page.goto(`${server.url}/demo/inquiry`);
    await page.locator('dialog#tsuzuki-warning[open]').waitFor({ timeout: (IDLE_S + 5) * 1000 });
    assert.equal(await page.evaluate(() => document.activeElement.id), 'tsuzuki-stay');
    assert.ok(await page.evaluate(() => document.querySelector('#tsuzuki-warning').matches(':modal')), 'a modal dialog');
    const next = await tab(page);
    assert.equal(next.name, 'tsuzuki-save');
    assertVisibleFocus(next);
    for (let i = 0; i < 3; i += 1) {
      const f = await tab(page);
      assert.ok(f.inDialog || f.name === 'body', `focus left the dialog for ${JSON.stringify(f)}`);
    }
    // Enter on the focused button is the same as a click: "Stay signed in" closes the dialog.
    await page.focus('#tsuzuki-stay');
    await page.keyboard.press('Enter');
    await page.locator('dialog#tsuzuki-warning').waitFor({ state: 'hidden' });
  } finally {
    await b.dispose();
  }
});
