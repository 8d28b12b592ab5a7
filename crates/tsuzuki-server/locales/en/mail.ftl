# tsuzuki — English text of emails and SMS. The same keys are in ../ja/mail.ftl (a test checks).
# A message is sent in both languages, Japanese first: the person's language is not known
# outside a browser. Subjects get "[tsuzuki] " and the other language's subject around them.
# No message carries a password or a session token; a code message carries only its code.

mail-code-subject = Your sign-in code: { $code }
mail-code-body =
    Your sign-in code: { $code }
    It works until { $until }.
    Requested from: { $device } ({ $ip })
    If this was not you, ignore this message and change your password.

# One SMS segment with the Japanese half: keep it short.
sms-code = code: { $code } (until { $until })

mail-otp-replay-subject = A used code was presented again
mail-otp-replay-body =
    An authenticator code was entered again after it had been used ({ $device }, { $ip }).
    If this was not you, change your password.

mail-recovery-used-subject = A recovery code was used
mail-recovery-used-body =
    A recovery code was used to sign in ({ $device }, { $ip }). Codes left: { $count }.
    If this was not you, change your password and generate new recovery codes.

mail-second-factor-failed-subject = A sign-in failed at the second step
mail-second-factor-failed-body =
    Someone entered your correct password but failed the second step ({ $device }, { $ip }).
    If this was not you, your password may be known to someone else: change it now.

mail-reset-code-subject = Your password reset code: { $code }
mail-reset-code-body =
    Your password reset code: { $code }
    It works until { $until }.
    Requested from: { $device } ({ $ip })
    If this was not you, ignore this message: your password stays as it is.

mail-registration-code-subject = Your confirmation code: { $code }
mail-registration-code-body =
    Your confirmation code: { $code }
    It works until { $until }.
    Requested from: { $device } ({ $ip })
    If this was not you, ignore this message: no account will be created.

mail-no-account-subject = About your password reset request
mail-no-account-body =
    Someone asked to reset the password for this address ({ $device }, { $ip }), but no active account uses it.
    You may have signed up with another address. If this was not you, ignore this message.

mail-already-registered-subject = This address already has an account
mail-already-registered-body =
    Someone tried to register a new account with this address ({ $device }, { $ip }). This address already has an account.
    If it was you, sign in, or reset your password with "Forgot your password?" on the sign-in page. If it was not, ignore this message: nothing has changed.

mail-password-reset-subject = Your password was reset
mail-password-reset-body =
    Your password was reset at { $when } from { $device } ({ $ip }). Every device was signed out and every "keep me signed in" ended.
    If this was not you, reset your password again now and contact your administrator.

mail-password-changed-subject = Your password was changed
mail-password-changed-body =
    Your password was changed at { $when } from { $device }. Your other devices were signed out.
    If this was not you, reset your password now.

mail-new-device-subject = Sign-in from a new device
mail-new-device-body =
    Your account was signed in to from a device and network not seen before.
    Time: { $when }
    Device: { $device }
    IP address: { $ip }
mail-new-device-suspicious = It followed many failed attempts, so kept sign-ins and trusted devices were ended.
mail-new-device-link =
    If this wasn't you, sign out every device and reset your password here:
    { $link }

mail-remember-theft-subject = A kept sign-in was misused
mail-remember-theft-body =
    A "keep me signed in" token was presented again after it had been used. It may have been copied, so the kept sign-in of this device ({ $device }) and its sessions were ended.
    If this was not you, change your password.
