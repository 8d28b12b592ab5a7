// What a person does on tsuzuki's server-rendered pages, as small steps the tests share.
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import { PASSWORD } from './server.js';

/** The path of the page's current URL. */
export function pathOf(page) {
  return new URL(page.url()).pathname;
}

/** The page's `<html lang>`: "en" or "ja". */
export function langOf(page) {
  return page.locator('html').getAttribute('lang');
}

/**
 * Fills the sign-in form (opening /sign-in first unless the page is already on it) and submits
 * it; resolves after the navigation the form caused.
 */
export async function submitSignIn(page, server, email, { password = PASSWORD, remember = false } = {}) {
  if (pathOf(page) !== '/sign-in' || !page.url().startsWith(server.url)) {
    await page.goto(`${server.url}/sign-in`);
  }
  await page.fill('#email', email);
  await page.fill('#password', password);
  if (remember) await page.check('#remember');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/sign-in"] button[type=submit]')]);
}

/** Signs in through the page and checks that the account page shows. */
export async function signIn(page, server, email, options = {}) {
  await submitSignIn(page, server, email, options);
  assert.equal(pathOf(page), '/account', `signed in, expected /account, got ${page.url()}`);
  await page.locator('h1').waitFor();
}

/**
 * Clicks the language switch in the page header (`/lang/{code}?return_to=…`) and checks that
 * the same page came back in that language.
 */
export async function switchLanguage(page, code) {
  const before = pathOf(page);
  const link = page.locator(`header nav a[hreflang="${code}"]`);
  await Promise.all([page.waitForNavigation(), link.click()]);
  assert.equal(pathOf(page), before, 'the switch returns to the same page');
  assert.equal(await langOf(page), code);
}

/**
 * Enrols an authenticator for the signed-in browser context through the JSON API (the
 * context's request client carries its cookies). Returns a code generator:
 * `codeAt(ms)` is the 6-digit code for the time step containing `ms`, and `confirmedAt` is the
 * time whose code confirmed the enrolment (that code cannot sign in: SEC-49).
 */
export async function enrolTotp(context, server, name = 'Phone') {
  const begin = await context.request.post(`${server.url}/api/factors/totp`, { data: { name } });
  assert.equal(begin.status(), 201, `POST /api/factors/totp: ${await begin.text()}`);
  const { factor_id: id, secret } = await begin.json();
  const totp = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
  });
  const codeAt = (timestamp) => totp.generate({ timestamp });
  const confirmedAt = Date.now();
  const confirm = await context.request.post(`${server.url}/api/factors/totp/${id}/confirm`, {
    data: { code: codeAt(confirmedAt) },
  });
  assert.equal(confirm.status(), 200, `confirm: ${await confirm.text()}`);
  return { codeAt, confirmedAt };
}

/** The text of the page's <main>, whitespace collapsed. */
export async function mainText(page) {
  return (await page.locator('main').innerText()).replace(/\s+/g, ' ').trim();
}
