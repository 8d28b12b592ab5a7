//! Server-rendered pages: minijinja templates compiled into the binary, rendered per request in
//! the request's language. Every string comes from the message catalogues through `t(...)`.

use super::error::{AppError, messages};
use super::i18n::Lang;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, context};

pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("../../templates/base.html")),
            ("sign_in.html", include_str!("../../templates/sign_in.html")),
            ("account.html", include_str!("../../templates/account.html")),
            ("error.html", include_str!("../../templates/error.html")),
            ("privacy.html", include_str!("../../templates/privacy.html")),
            ("devices.html", include_str!("../../templates/devices.html")),
            (
                "password.html",
                include_str!("../../templates/password.html"),
            ),
            ("reauth.html", include_str!("../../templates/reauth.html")),
            ("flow.html", include_str!("../../templates/flow.html")),
            ("recover.html", include_str!("../../templates/recover.html")),
            (
                "register.html",
                include_str!("../../templates/register.html"),
            ),
            (
                "flow_ended.html",
                include_str!("../../templates/flow_ended.html"),
            ),
            (
                "security.html",
                include_str!("../../templates/security.html"),
            ),
            (
                "totp_enrol.html",
                include_str!("../../templates/totp_enrol.html"),
            ),
            (
                "recovery_codes.html",
                include_str!("../../templates/recovery_codes.html"),
            ),
            ("history.html", include_str!("../../templates/history.html")),
            ("not_me.html", include_str!("../../templates/not_me.html")),
            (
                "demo_inquiry.html",
                include_str!("../../templates/demo_inquiry.html"),
            ),
            (
                "demo_received.html",
                include_str!("../../templates/demo_received.html"),
            ),
        ] {
            env.add_template(name, source)
                .expect("built-in templates parse");
        }
        Templates { env }
    }

    /// Render `name` with `ctx`, adding the language, the translation function and the path
    /// (for the language switch's return).
    pub fn render(
        &self,
        name: &str,
        lang: Lang,
        path: &str,
        ctx: Value,
    ) -> Result<String, AppError> {
        let t = Value::from_function(move |key: &str, kwargs: Kwargs| -> String {
            let args: Vec<(&'static str, String)> = super::i18n::ARG_NAMES
                .into_iter()
                .filter_map(|k| {
                    kwargs
                        .get::<Option<Value>>(k)
                        .ok()
                        .flatten()
                        .map(|v| (k, v.to_string()))
                })
                .collect();
            if args.is_empty() {
                lang.t(key)
            } else {
                lang.t_args(key, &args)
            }
        });
        let full = context! {
            lang => lang.code(),
            other_lang => lang.other().code(),
            path => path,
            t => t,
            ..ctx
        };
        self.env
            .get_template(name)
            .and_then(|tpl| tpl.render(full))
            .map_err(|e| AppError::internal(format!("template {name}: {e}")))
    }

    /// The HTML error page; falls back to plain text if the template itself fails.
    pub fn error_page(
        &self,
        lang: Lang,
        error: &AppError,
        reference: &str,
        support: Option<&super::error::SupportDetails>,
    ) -> String {
        let (message, hint) = messages(lang, error);
        // The language switch comes back to the page that failed (its path only, no query).
        let path = support
            .map(|s| s.page.split('?').next().unwrap_or("/"))
            .unwrap_or("/")
            .to_string();
        let support = support.map(|s| {
            context! { device_kind => s.device_kind, device => &s.device, time => &s.time, page => &s.page }
        });
        let ctx = context! { message => &message, hint => &hint, reference => reference, code => error.code, support => support };
        self.render("error.html", lang, &path, ctx)
            .unwrap_or_else(|_| format!("{message}\n{hint}\n{reference}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_render_in_both_languages_and_escape_input() {
        let t = Templates::new();
        for (lang, title) in [(Lang::En, "Sign in"), (Lang::Ja, "ログイン")] {
            let html = t
                .render(
                    "sign_in.html",
                    lang,
                    "/sign-in",
                    context! { csrf => "tok", return_to => "/", email => "<script>x</script>" },
                )
                .unwrap();
            assert!(html.contains(&format!("<h1>{title}</h1>")), "{html}");
            assert!(html.contains(&format!("<html lang=\"{}\">", lang.code())));
            assert!(!html.contains("<script>x"), "user input is escaped");
        }
        let page = t.error_page(Lang::Ja, &AppError::not_found(), "REF123", None);
        assert!(page.contains("このページは存在しません") && page.contains("REF123"));
    }
}
