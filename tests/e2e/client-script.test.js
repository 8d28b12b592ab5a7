// The browser client's scenarios (issue #5 item 2: crates/tsuzuki-server/static/tsuzuki-client.js,
// being written separately). Each is a `todo` until the script and the demo page land; write
// them with the same helpers (lib/server.js, lib/browser.js, lib/pages.js) and short lifetimes,
// e.g. startServer({ env: { TSUZUKI_SESSION__IDLE_TIMEOUT: '20s' } }). Screenshots to add:
// warning-dialog.{en,ja}, inline-sign-in.{en,ja}.
import { test } from 'node:test';

test('expiry warning appears before the idle limit and "Stay signed in" extends the server session (S4)', {
  todo: 'needs tsuzuki-client.js',
});
test('two tabs: activity in one keeps the other alive and the warning shows once (S4)', {
  todo: 'needs tsuzuki-client.js (BroadcastChannel)',
});
test('session expires mid-form: inline sign-in with a TOTP code, the form keeps its text, submit goes through (S6, S7)', {
  todo: 'needs tsuzuki-client.js and the demo form',
});
test('browser closed mid-form: a new profile signs in and the draft is restored (S5)', {
  todo: 'needs tsuzuki-client.js autosave (drafts API exists)',
});
test('cookies disabled: the client script explains what to do before the form is sent (S12)', {
  todo: 'needs tsuzuki-client.js; launch({ blockCookies: true }) makes such a browser',
});
