//! Japanese and English: choosing the language of a request and looking up its messages.
//!
//! The language is per request, never process-global: a `tsuzuki_lang` cookie (the visible
//! switch) wins, then `Accept-Language`, then English.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};
use std::borrow::Cow;
use std::collections::HashMap;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Unicode isolation marks would end up inside HTML attributes and JSON messages.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// Name of the cookie that remembers the visible language switch.
pub const LANG_COOKIE: &str = "tsuzuki_lang";

/// Every placeholder name the catalogues use. Templates pass only these to `t`, and the
/// catalogue test resolves every message with all of them.
pub const ARG_NAMES: [&str; 10] = [
    "email",
    "seconds",
    "days",
    "device",
    "min",
    "max",
    "attempts",
    "count",
    "target",
    "identifier",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

static EN: LanguageIdentifier = langid!("en");
static JA: LanguageIdentifier = langid!("ja");

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ja,
            Lang::Ja => Lang::En,
        }
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }

    /// The message for `key`; the key itself if the catalogue lacks it (a test forbids that).
    pub fn t(self, key: &str) -> String {
        LOCALES
            .try_lookup(self.id(), key)
            .unwrap_or_else(|| key.to_string())
    }

    /// The message for `key` with named arguments.
    /// `key` with placeholders filled from `args`.
    pub fn t_args(self, key: &str, args: &[(&'static str, String)]) -> String {
        // Whole numbers go in as numbers, so that plural selectors (`[one]`) can match them.
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(k, v)| {
                let value = match v.parse::<i64>() {
                    Ok(n) => FluentValue::from(n),
                    Err(_) => FluentValue::from(v.clone()),
                };
                (Cow::Borrowed(*k), value)
            })
            .collect();
        LOCALES
            .try_lookup_with_args(self.id(), key, &map)
            .unwrap_or_else(|| key.to_string())
    }

    /// Whether the catalogue has `key` in this language.
    pub fn has(self, key: &str) -> bool {
        // Messages with placeholders only resolve with their arguments; offer every one in use.
        let args: HashMap<Cow<'static, str>, FluentValue<'_>> = ARG_NAMES
            .into_iter()
            .map(|k| (Cow::Borrowed(k), FluentValue::from("1")))
            .collect();
        LOCALES
            .try_lookup_with_args(self.id(), key, &args)
            .is_some()
    }
}

/// Choose the language from the switch cookie's value and the Accept-Language header.
pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
    if let Some(lang) = cookie.and_then(Lang::from_code) {
        return lang;
    }
    let Some(header) = accept_language else {
        return Lang::En;
    };
    let mut best: Option<(f32, Lang)> = None;
    for item in header.split(',').take(32) {
        let mut parts = item.trim().split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        let lang = match primary {
            "ja" => Lang::Ja,
            "en" => Lang::En,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l).unwrap_or(Lang::En)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(negotiate(None, Some("ja-JP,ja;q=0.9,en;q=0.8")), Lang::Ja);
        assert_eq!(negotiate(None, Some("fr-FR, en;q=0.5, ja;q=0.4")), Lang::En);
        assert_eq!(negotiate(None, Some("en;q=0.1, ja;q=0.9")), Lang::Ja);
        assert_eq!(negotiate(None, Some("de, fr")), Lang::En);
        assert_eq!(negotiate(None, Some("ja;q=0")), Lang::En);
        assert_eq!(negotiate(None, Some(";;;,q=,ja;q=abc")), Lang::Ja);
        assert_eq!(negotiate(None, None), Lang::En);
    }

    #[test]
    fn the_switch_cookie_wins() {
        assert_eq!(negotiate(Some("ja"), Some("en")), Lang::Ja);
        assert_eq!(negotiate(Some("xx"), Some("ja")), Lang::Ja);
    }

    #[test]
    fn both_catalogues_define_the_same_keys() {
        // P3: every message exists in Japanese and English.
        let keys = |text: &str| -> Vec<String> {
            let mut k: Vec<String> = text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains(" = "))
                .map(|l| l.split(" = ").next().unwrap().to_string())
                .collect();
            k.sort();
            k
        };
        let en = keys(include_str!("../../locales/en/main.ftl"));
        let ja = keys(include_str!("../../locales/ja/main.ftl"));
        assert!(en.len() > 40);
        assert_eq!(en, ja);
        for k in &en {
            assert!(Lang::Ja.has(k) && Lang::En.has(k), "{k} does not resolve");
        }
    }

    #[test]
    fn arguments_are_substituted() {
        assert_eq!(
            Lang::En.t_args("error-throttled-hint", &[("seconds", "7".into())]),
            "You can try again in 7 seconds."
        );
        assert!(
            Lang::Ja
                .t_args("account-signed-in-as", &[("email", "a@b.c".into())])
                .starts_with("a@b.c")
        );
    }
}
