// Real headless Chromium: Debian's package at /usr/bin/chromium, driven by playwright-core.
// playwright-core never downloads a browser (the `playwright` package would); we point it at the
// system one. Every launch gets its own profile directory (--user-data-dir), fresh unless a test
// passes one back in to "restart the browser".
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.TSUZUKI_TEST_CHROMIUM || '/usr/bin/chromium';

/** The flags that work on the project's machines (issue #5). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Bounds for every wait in the tests: nothing waits forever. */
export const ACTION_TIMEOUT_MS = 10_000;

export function newProfileDir() {
  return mkdtempSync(join(tmpdir(), 'tsuzuki-e2e-profile-'));
}

/**
 * Launches Chromium with a profile directory (a fresh one unless `profileDir` is given) and
 * returns { context, page, profileDir, close, dispose }. `close()` ends the browser and keeps the
 * profile (for a restart); `dispose()` ends it and deletes the profile.
 *
 * `blockCookies: true` writes the profile's Preferences before launch with the content setting a
 * person gets from Settings → Privacy → Third-party cookies → "Block all cookies"
 * (`profile.default_content_setting_values.cookies = 2`): Chromium then neither stores nor sends
 * any cookie, exactly like a browser with cookies disabled (S12).
 *
 * `blockThirdPartyCookies: true` writes `profile.cookie_controls_mode = 1`, the setting behind
 * Settings → Privacy → Third-party cookies → "Block third-party cookies": cookies work for the
 * site in the address bar but not in frames of other sites (S12).
 *
 * `bypassCSP: true` lets a test inject a script into tsuzuki's pages despite their
 * `script-src 'self'` (the accessibility test's axe-core); no other test uses it, so every other
 * test runs under the real policy.
 */
export async function launch({
  profileDir,
  locale = 'en-US',
  blockCookies = false,
  blockThirdPartyCookies = false,
  bypassCSP = false,
} = {}) {
  const dir = profileDir ?? newProfileDir();
  if (blockCookies || blockThirdPartyCookies) {
    const prefs = join(dir, 'Default', 'Preferences');
    mkdirSync(dirname(prefs), { recursive: true });
    const profile = {};
    if (blockCookies) profile.default_content_setting_values = { cookies: 2 };
    if (blockThirdPartyCookies) profile.cookie_controls_mode = 1;
    writeFileSync(prefs, JSON.stringify({ profile }));
  }
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    locale,
    bypassCSP,
    viewport: { width: 1000, height: 800 },
    // Starting Chromium took over 30 s while other builds loaded the shared 2 cores.
    timeout: 60_000,
  });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  const page = context.pages()[0] ?? (await context.newPage());
  const close = async () => {
    await context.close().catch(() => {});
  };
  return {
    context,
    page,
    profileDir: dir,
    close,
    dispose: async () => {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const SCREENSHOTS =
  process.env.TSUZUKI_TEST_SCREENSHOTS ||
  join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');

/**
 * Writes a full-page PNG to tests/e2e/screenshots/<name>.png and returns its path. With a modal
 * dialog open, only the viewport: a dialog's backdrop is fixed to the viewport, and a full-page
 * capture left the rest of the page undimmed, which is not what a person sees.
 */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  const modal = await page.evaluate(() => !!document.querySelector('dialog:modal')).catch(() => false);
  await page.screenshot({ path, fullPage: !modal, timeout: ACTION_TIMEOUT_MS });
  return path;
}
