//! Reading and writing tsuzuki's cookies.
//!
//! Secret-bearing cookies are HttpOnly, SameSite, Path=/ with no Domain, and — whenever the
//! public URL is https — Secure with the `__Host-` prefix (SEC-17..19, R11). The session cookie
//! has no Max-Age: it ends with the browser, and the server decides expiry anyway (SEC-13, SEC-20).
//!
//! One exception, only when the operator sets `session.cookie_domain` for applications on
//! sibling subdomains behind forward-auth (issue #6): the session and remember-me cookies then
//! carry `Domain=` so that every subdomain's proxy sees them, and the `__Secure-` prefix instead
//! of `__Host-` (which forbids a Domain). The CSRF, browser and trusted-device cookies stay
//! host-only on tsuzuki's own host: only its own pages need them.

use axum::http::{HeaderMap, HeaderValue, header};

/// Longest cookie value the server will look at; longer values are treated as absent-or-invalid
/// without further work (SEC-6, ASVS 5.0 3.3.5).
pub const MAX_COOKIE_VALUE: usize = 4096;

#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub session: String,
    pub remember: String,
    pub csrf: String,
    /// A random per-browser value: binds sign-in flows to the browser that started them and
    /// recognises a browser seen before (S7, S10). Not a credential by itself.
    pub browser: String,
    /// "Trust this device" (S3): skips the second factor, never the password.
    pub trusted: String,
    secure: bool,
    /// `Domain=` of the session and remember-me cookies (`session.cookie_domain`).
    shared_domain: Option<String>,
}

/// The browser cookie lives a year: flows must survive a browser restart, and the login history
/// recognises the browser for as long.
pub const BROWSER_MAX_AGE: u64 = 365 * 86_400;

impl CookieSettings {
    pub fn new(
        base_name: &str,
        remember_name: &str,
        https: bool,
        shared_domain: Option<&str>,
    ) -> Self {
        let prefix = if https { "__Host-" } else { "" };
        let shared_prefix = match (https, shared_domain) {
            (false, _) => "",
            (true, None) => "__Host-",
            (true, Some(_)) => "__Secure-",
        };
        CookieSettings {
            session: format!("{shared_prefix}{base_name}"),
            remember: format!("{shared_prefix}{remember_name}"),
            csrf: format!("{prefix}tsuzuki_csrf"),
            browser: format!("{prefix}tsuzuki_browser"),
            trusted: format!("{prefix}tsuzuki_trusted"),
            secure: https,
            shared_domain: shared_domain.map(str::to_string),
        }
    }

    fn build(&self, name: &str, value: &str, same_site: &str, max_age: Option<u64>) -> HeaderValue {
        self.build_in(None, name, value, same_site, max_age)
    }

    /// A cookie every configured subdomain sees (the session and remember-me cookies).
    fn build_shared(
        &self,
        name: &str,
        value: &str,
        same_site: &str,
        max_age: Option<u64>,
    ) -> HeaderValue {
        self.build_in(
            self.shared_domain.as_deref(),
            name,
            value,
            same_site,
            max_age,
        )
    }

    fn build_in(
        &self,
        domain: Option<&str>,
        name: &str,
        value: &str,
        same_site: &str,
        max_age: Option<u64>,
    ) -> HeaderValue {
        let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
        if let Some(d) = domain {
            s.push_str(&format!("; Domain={d}"));
        }
        if let Some(age) = max_age {
            s.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            s.push_str("; Secure");
        }
        HeaderValue::from_str(&s).expect("cookie names and values are ASCII")
    }

    pub fn set_session(&self, token_text: &str) -> HeaderValue {
        self.build_shared(&self.session, token_text, "Lax", None)
    }

    pub fn clear_session(&self) -> HeaderValue {
        self.build_shared(&self.session, "", "Lax", Some(0))
    }

    /// The remember-me cookie: persistent, with a Max-Age equal to the family's remaining
    /// server-side lifetime (R10, SEC-20). Lax, like the session cookie: it must reach tsuzuki on
    /// a top-level navigation from another site (a link in a mail, a bookmark).
    pub fn set_remember(&self, value: &str, max_age: u64) -> HeaderValue {
        self.build_shared(&self.remember, value, "Lax", Some(max_age))
    }

    pub fn clear_remember(&self) -> HeaderValue {
        self.build_shared(&self.remember, "", "Lax", Some(0))
    }

    /// The anonymous CSRF cookie behind the sign-in form. Strict: it is only ever needed on the
    /// auth host's own pages.
    pub fn set_csrf(&self, value: &str) -> HeaderValue {
        self.build(&self.csrf, value, "Strict", None)
    }

    /// The browser cookie. Lax: a flow's URL opened from a mail or a bookmark must find it.
    pub fn set_browser(&self, value: &str) -> HeaderValue {
        self.build(&self.browser, value, "Lax", Some(BROWSER_MAX_AGE))
    }

    /// The trusted-device cookie. Strict (SEC-19): only the auth host's own sign-in form needs it.
    pub fn set_trusted(&self, value: &str, max_age: u64) -> HeaderValue {
        self.build(&self.trusted, value, "Strict", Some(max_age))
    }

    pub fn clear_trusted(&self) -> HeaderValue {
        self.build(&self.trusted, "", "Strict", Some(0))
    }

    /// The language preference (not a secret; one year).
    pub fn set_lang(&self, code: &str) -> HeaderValue {
        let mut s = format!(
            "{}={code}; Path=/; SameSite=Lax; Max-Age=31536000",
            super::i18n::LANG_COOKIE
        );
        if self.secure {
            s.push_str("; Secure");
        }
        HeaderValue::from_str(&s).expect("ASCII")
    }
}

/// The value of cookie `name` (the first one), from every `Cookie` header of the request, without
/// surrounding quotes. A value that is not visible ASCII is not read; oversized values are
/// returned as they are and refused by the token parser in constant, small time.
///
/// Read from the header's bytes, pair by pair: on the session check's hot path, where splitting
/// a validated string cost a thousand instructions. And only the wanted pair must be ASCII, so
/// that another application's cookie with raw UTF-8 in it (browsers send what was set) cannot
/// hide the session cookie beside it, as it did when the whole header had to be ASCII.
pub fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| pairs(v.as_bytes()))
        .find_map(|pair| {
            pair.trim_ascii()
                .strip_prefix(name.as_bytes())?
                .strip_prefix(b"=")
        })
        // A header value holds no control characters but tab (`HeaderValue` refuses them), so
        // ASCII here is visible ASCII, as `to_str` would have asked.
        .filter(|v| v.is_ascii())
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(|v| v.trim_matches('"'))
        .filter(|v| v.len() <= MAX_COOKIE_VALUE)
}

/// The `;`-separated pairs of a Cookie header, found with memchr's vectorised search: a
/// byte-by-byte split was the costliest part of reading the cookie (docs/benchmarks.md).
fn pairs(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b';', bytes)
        .chain(std::iter::once(bytes.len()))
        .map(move |end| {
            let pair = &bytes[start..end];
            start = end + 1;
            pair
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_cookies_use_host_prefix_and_secure() {
        let c = CookieSettings::new("tsuzuki_session", "tsuzuki_remember", true, None);
        let v = c.set_session("abc").to_str().unwrap().to_string();
        assert_eq!(
            v,
            "__Host-tsuzuki_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(
            !v.contains("Max-Age") && !v.contains("Domain"),
            "session cookie is non-persistent, host-only"
        );
        let clear = c.clear_session().to_str().unwrap().to_string();
        assert!(clear.starts_with("__Host-tsuzuki_session=;") && clear.contains("Max-Age=0"));
    }

    #[test]
    fn localhost_cookies_have_no_prefix() {
        let c = CookieSettings::new("tsuzuki_session", "tsuzuki_remember", false, None);
        assert!(
            c.set_session("x")
                .to_str()
                .unwrap()
                .starts_with("tsuzuki_session=x;")
        );
        assert!(!c.set_session("x").to_str().unwrap().contains("Secure"));
    }

    /// Issue #6: with a cookie domain, the session and remember-me cookies reach every
    /// subdomain (`__Secure-`, Domain); the others stay `__Host-` on tsuzuki's own host (R11).
    #[test]
    fn shared_domain_cookies() {
        let c = CookieSettings::new(
            "tsuzuki_session",
            "tsuzuki_remember",
            true,
            Some("example.com"),
        );
        let session = c.set_session("abc").to_str().unwrap().to_string();
        assert_eq!(
            session,
            "__Secure-tsuzuki_session=abc; Path=/; HttpOnly; SameSite=Lax; Domain=example.com; Secure"
        );
        let remember = c.set_remember("r", 60).to_str().unwrap().to_string();
        assert!(
            remember.starts_with("__Secure-tsuzuki_remember=r;")
                && remember.contains("Domain=example.com")
        );
        assert!(
            c.clear_session()
                .to_str()
                .unwrap()
                .contains("Domain=example.com")
        );
        for host_only in [c.set_csrf("x"), c.set_browser("x"), c.set_trusted("x", 5)] {
            let v = host_only.to_str().unwrap();
            assert!(v.starts_with("__Host-") && !v.contains("Domain"), "{v}");
        }
    }

    #[test]
    fn reads_cookies_across_headers() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; tsuzuki_session=tok"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("q=\"quoted\";d=; e=3=4"),
        );
        assert_eq!(read_cookie(&h, "tsuzuki_session"), Some("tok"));
        assert_eq!(read_cookie(&h, "q"), Some("quoted"));
        assert_eq!(read_cookie(&h, "d"), Some(""));
        assert_eq!(read_cookie(&h, "e"), Some("3=4"));
        // A name is matched whole, not as a prefix of a longer one.
        assert_eq!(read_cookie(&h, "tsuzuki"), None);
        assert_eq!(read_cookie(&h, "tsuzuki_session="), None);
        assert_eq!(read_cookie(&h, "b"), Some("2"));
        assert_eq!(read_cookie(&h, "c"), None);
        let mut big = HeaderMap::new();
        big.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("s={}", "A".repeat(8192))).unwrap(),
        );
        assert_eq!(read_cookie(&big, "s"), None);
    }

    /// The pairs are exactly those of a plain split on `;`, empty ones and the ends included.
    #[test]
    fn pairs_are_those_of_a_split() {
        for text in [
            "",
            ";",
            ";;",
            "a",
            "a=1",
            "a=1;",
            ";a=1",
            "a=1; b=2",
            "a=1;;b=2; ",
            " ; c=\"x;y\"",
        ] {
            let b = text.as_bytes();
            let split: Vec<&[u8]> = b.split(|&c| c == b';').collect();
            assert_eq!(pairs(b).collect::<Vec<_>>(), split, "{text:?}");
        }
        let long = "k=v; ".repeat(300);
        assert_eq!(pairs(long.as_bytes()).count(), 301);
    }

    #[test]
    fn another_cookie_with_utf8_does_not_hide_ours() {
        // Browsers send cookie values as they were set, raw UTF-8 included.
        let mut h = HeaderMap::new();
        let raw = "theme=caf\u{e9}; tsuzuki_session=tok; name=\u{65e5}\u{672c}";
        h.insert(
            header::COOKIE,
            HeaderValue::from_bytes(raw.as_bytes()).unwrap(),
        );
        assert_eq!(read_cookie(&h, "tsuzuki_session"), Some("tok"));
        // Our own cookies are ASCII; a value that is not is not read.
        assert_eq!(read_cookie(&h, "theme"), None);
        assert_eq!(read_cookie(&h, "name"), None);
    }
}
