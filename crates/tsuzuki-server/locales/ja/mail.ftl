# tsuzuki — メールとSMSの日本語の文面。同じキーが ../en/mail.ftl にあります(テストで確認)。
# メッセージは日本語を先に、両方の言語で送ります(ブラウザの外では相手の言語がわからないため)。

mail-code-subject = 認証コード
mail-code-body =
    認証コード: { $code }
    有効期限: { $until } まで
    要求した端末: { $device }({ $ip })
    心当たりがない場合は、このメールを無視し、パスワードを変更してください。

sms-code = tsuzuki 認証コード: { $code }({ $until } まで)

mail-otp-replay-subject = 使用済みの認証コードが再び使われました
mail-otp-replay-body =
    認証アプリのコードが、すでに使われたあとに再び入力されました({ $device }、{ $ip })。
    心当たりがない場合は、パスワードを変更してください。

mail-recovery-used-subject = リカバリーコードが使われました
mail-recovery-used-body =
    リカバリーコードでログインしました({ $device }、{ $ip })。残りのコード: { $count } 個。
    心当たりがない場合は、パスワードを変更し、リカバリーコードを再発行してください。

mail-second-factor-failed-subject = 2段階認証に失敗したログインがありました
mail-second-factor-failed-body =
    正しいパスワードでのログインが、2段階目の認証で失敗しました({ $device }、{ $ip })。
    心当たりがない場合、パスワードが知られている可能性があります。すぐに変更してください。

mail-reset-code-subject = パスワード再設定のコード
mail-reset-code-body =
    パスワード再設定のコード: { $code }
    有効期限: { $until } まで
    要求した端末: { $device }({ $ip })
    心当たりがない場合は、このメールを無視してください。パスワードは変わりません。

mail-registration-code-subject = メールアドレスの確認コード
mail-registration-code-body =
    アカウント登録の確認コード: { $code }
    有効期限: { $until } まで
    要求した端末: { $device }({ $ip })
    心当たりがない場合は、このメールを無視してください。アカウントは作成されません。

mail-no-account-subject = パスワード再設定のご依頼について
mail-no-account-body =
    このメールアドレスのパスワード再設定が依頼されました({ $device }、{ $ip })が、このアドレスで利用できるアカウントはありません。
    別のアドレスで登録した可能性があります。心当たりがない場合は、このメールを無視してください。

mail-already-registered-subject = このアドレスはすでに登録されています
mail-already-registered-body =
    このメールアドレスで新しいアカウントの登録が試みられました({ $device }、{ $ip })。このアドレスにはすでにアカウントがあります。
    ご本人の場合は、そのままログインするか、ログイン画面の「パスワードをお忘れですか?」からパスワードを再設定してください。心当たりがない場合は、このメールを無視してください。

mail-password-reset-subject = パスワードが再設定されました
mail-password-reset-body =
    { $when } に { $device }({ $ip })からパスワードが再設定されました。すべての端末のログインと「ログインしたままにする」を終了しました。
    心当たりがない場合は、すぐにもう一度パスワードを再設定し、管理者に連絡してください。

mail-password-changed-subject = パスワードが変更されました
mail-password-changed-body =
    { $when } に { $device } からパスワードが変更されました。ほかの端末のログインは終了しました。
    心当たりがない場合は、すぐにパスワードを再設定してください。

mail-new-device-subject = 新しい端末からのログイン
mail-new-device-body =
    新しい端末・ネットワークからログインがありました。
    日時: { $when }
    端末: { $device }
    IPアドレス: { $ip }
mail-new-device-suspicious = 失敗が続いたあとのログインだったため、ログイン保持と信頼済みの端末を解除しました。
mail-new-device-link =
    心当たりがない場合は、次のリンクからすべての端末をログアウトし、パスワードを再設定してください:
    { $link }

mail-remember-theft-subject = ログイン保持の不正利用を検知しました
mail-remember-theft-body =
    「この端末でログイン状態を保持する」のトークンが、すでに使われたあとに再び提示されました。コピーされた可能性があるため、この端末({ $device })のログイン保持とセッションを終了しました。
    心当たりがない場合は、パスワードを変更してください。
