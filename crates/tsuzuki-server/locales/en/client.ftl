# tsuzuki — English text of the browser client (static/tsuzuki-client.js). The script reads it
# from GET /static/tsuzuki-client-messages.json?lang=en (ids without "client-"); a placeholder
# reaches the script as {name}. The same keys are in ../ja/client.ftl (a test checks).

client-warn = Your session is about to end. Save your work?
client-left = Time left: { $time }
client-stay = Stay signed in
client-save = Save now
client-save-failed = Could not save. Your text is still on this page.
client-ended = Sign in again
client-ended-text = Your session has ended. Sign in to continue: this page and what you typed stay as they are.
client-email = Email address
client-password = Password
client-sign-in = Sign in
client-later = Not now
client-code = Code
client-verify = Continue
client-resend = Send a new code
client-sent-to = A code was sent to { $target }.
client-totp = Enter the code from your authenticator app.
client-recovery = Enter one of your recovery codes.
client-other = Other ways to sign in
client-method-totp = Authenticator app
client-method-email = Code by email
client-method-sms = Code by text message
client-method-recovery = Recovery code
client-failed = Something went wrong. Check your connection and try again.
client-restored = A saved draft of this form was restored.
client-discard = Discard draft
client-cookies = Cookies are turned off for this site. Signing in needs them: allow cookies for this site in the browser settings, then reload the page.
client-cookies-lost = You were signed in, but the browser did not keep the sign-in cookie (blocked cookies, a private window or strict tracking protection). Allow cookies for this site and try again.
client-storage = This browser does not let the page keep data (private browsing or strict settings). Your drafts are still saved to your account; other tabs may show their own warnings.
client-framed = This page is shown inside another site, and the browser does not let it keep its sign-in cookies there, so you cannot stay signed in here. Open the page in its own tab to sign in and keep working.
client-framed-open = Open in a new tab
