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
pub const ARG_NAMES: [&str; 16] = [
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
    // Mail and SMS (mail.ftl).
    "code",
    "until",
    "ip",
    "when",
    "link",
    // The browser client (client.ftl).
    "time",
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

    /// `key` with placeholders filled from `args`, every value as text: mail arguments are codes
    /// (whose leading zeros a number would drop), addresses and times, never counts to pluralise.
    pub fn t_str(self, key: &str, args: &[(&'static str, &str)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), FluentValue::from(*v)))
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

    /// Message ids of a catalogue file: lines `id =` (a value may start on the next line).
    fn ids(text: &str) -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
            .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_string()))
            .collect()
    }

    /// Every catalogue file of one language, by file name.
    fn catalogue(lang: &str) -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang);
        let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
            .expect("locales directory")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn both_catalogues_define_the_same_keys() {
        // P3: every message exists in Japanese and English, file by file.
        let (en, ja) = (catalogue("en"), catalogue("ja"));
        let names = |c: &[(String, String)]| c.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&en), names(&ja), "the same files in both languages");
        assert!(names(&en).len() >= 2, "main.ftl and mail.ftl at least");
        let mut all = Vec::new();
        for ((file, en), (_, ja)) in en.iter().zip(&ja) {
            let (mut en, mut ja) = (ids(en), ids(ja));
            en.sort();
            ja.sort();
            assert_eq!(en, ja, "{file}: the same keys in both languages");
            all.extend(en);
        }
        assert!(all.len() > 60, "{} keys: the parser found them", all.len());
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "no key defined in two files");
        for k in &all {
            assert!(Lang::Ja.has(k) && Lang::En.has(k), "{k} does not resolve");
        }
    }

    /// The string literals of Rust source, with their line numbers: a small tokenizer that
    /// skips comments and char literals and knows raw strings.
    fn literals(src: &str) -> Vec<(usize, String)> {
        let b = src.as_bytes();
        let line = |i: usize| src[..i].matches('\n').count() + 1;
        let (mut i, mut out) = (0, Vec::new());
        while i < b.len() {
            let rest = &src[i..];
            if rest.starts_with("//") {
                i += rest.find('\n').unwrap_or(rest.len());
            } else if rest.starts_with("/*") {
                i += rest.find("*/").map_or(rest.len(), |j| j + 2);
            } else if b[i] == b'\'' {
                // A char literal ('"', '\'', 'あ') or a lifetime ('a).
                let mut chars = rest[1..].char_indices();
                i += match (chars.next(), chars.next()) {
                    (Some((_, '\\')), _) => rest[3..].find('\'').map_or(rest.len(), |j| j + 4),
                    (Some(_), Some((j, '\''))) => j + 2,
                    _ => 1,
                };
            } else if (rest.starts_with("r\"") || rest.starts_with("r#"))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
            {
                let hashes = rest[1..].chars().take_while(|&c| c == '#').count();
                let open = 1 + hashes;
                if rest[open..].starts_with('"') {
                    let end = format!("\"{}", "#".repeat(hashes));
                    let body = &rest[open + 1..];
                    let len = body.find(&end).unwrap_or(body.len());
                    out.push((line(i), body[..len].to_string()));
                    i += open + 1 + len + end.len();
                } else {
                    i += 1;
                }
            } else if b[i] == b'"' {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                out.push((line(i), src[i + 1..j.min(b.len())].to_string()));
                i = j + 1;
            } else {
                i += rest.chars().next().map_or(1, char::len_utf8);
            }
        }
        out
    }

    fn is_japanese(c: char) -> bool {
        matches!(c, '\u{3000}'..='\u{30ff}' | '\u{3400}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}')
    }

    /// "Capitalised word, three more words, then . ? or !": a sentence someone would read.
    fn has_english_sentence(text: &str) -> bool {
        let words: Vec<&str> = text.split_whitespace().collect();
        words.windows(4).enumerate().any(|(n, w)| {
            let first = w[0].chars().next().is_some_and(|c| c.is_ascii_uppercase());
            let wordy = w.iter().all(|x| {
                x.chars()
                    .all(|c| c.is_ascii_alphabetic() || "'(),-.?!:".contains(c))
            });
            first && wordy && words[n + 3..].iter().any(|x| x.ends_with(['.', '?', '!']))
        })
    }

    #[test]
    fn the_scanner_finds_text_in_code() {
        let src = "let a = 'x'; let s = \"Your code is ready. Use it.\"; // 日本語\n\
                   let b = r#\"認証コード\"#; let c = \"connection refused\"; let d = '\"';\n\
                   format!(\"日時: {x}\\n\\\n   Time: {x}\");";
        let found: Vec<String> = literals(src).into_iter().map(|(_, t)| t).collect();
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(has_english_sentence(&found[0]) && !has_english_sentence(&found[2]));
        assert!(found[1].chars().any(is_japanese) && found[3].chars().any(is_japanese));
        assert!(
            !found.iter().any(|t| t.contains("日本語")),
            "comments are not literals"
        );
    }

    #[test]
    fn no_user_facing_text_in_code() {
        // Issue #5 item 1: every sentence a person reads is in locales/{en,ja}/*.ftl. Tests
        // (files named tests.rs, and each file from its `#[cfg(test)]` on) may hold any text,
        // and so may openapi.rs: the API document is for developers, in English like docs/.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![root.clone()];
        let (mut files, mut found) = (0, Vec::new());
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs")
                    || path.ends_with("tests.rs")
                    || path.ends_with("http/openapi.rs")
                {
                    continue;
                }
                files += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap();
                for (line, lit) in literals(code) {
                    if lit.chars().any(is_japanese) || has_english_sentence(&lit) {
                        let file = path.strip_prefix(&root).unwrap().display();
                        found.push(format!("src/{file}:{line}: {lit:.60}"));
                    }
                }
            }
        }
        assert!(files > 40, "scanned {files} files");
        assert!(
            found.is_empty(),
            "text belongs in the catalogues:\n{}",
            found.join("\n")
        );
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
