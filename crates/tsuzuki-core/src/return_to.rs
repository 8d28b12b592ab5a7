//! Where a browser may be sent after signing in (SEC-16, ASVS 5.0 3.7.2): a local path of
//! tsuzuki's own, or — for applications behind forward-auth — an absolute URL on tsuzuki's own
//! host or on a host the operator allowed. Nothing else: no open redirect.

use crate::access::{HostPattern, normalize_host};

/// The longest return target accepted; longer ones fall back.
pub const MAX_LEN: usize = 2048;

/// The hosts absolute return URLs may point at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnPolicy {
    /// tsuzuki's own public host (always allowed).
    own_host: String,
    allowed: Vec<HostPattern>,
}

impl ReturnPolicy {
    pub fn new(public_url: &str, allowed: Vec<HostPattern>) -> Self {
        let own_host = url::Url::parse(public_url)
            .ok()
            .and_then(|u| u.host_str().map(normalize_host))
            .unwrap_or_default();
        ReturnPolicy { own_host, allowed }
    }

    /// `candidate` if it is a safe place to send the browser, otherwise `fallback`.
    pub fn check(&self, candidate: Option<&str>, fallback: &str) -> String {
        candidate
            .and_then(|c| self.validate(c))
            .unwrap_or_else(|| fallback.to_string())
    }

    /// The candidate, normalised, when it is allowed.
    pub fn validate(&self, candidate: &str) -> Option<String> {
        if let Some(local) = local_path(candidate) {
            return Some(local.to_string());
        }
        if candidate.len() > MAX_LEN || candidate.chars().any(|c| c.is_control() || c == '\\') {
            return None;
        }
        let url = url::Url::parse(candidate).ok()?;
        let host = url.host_str().map(normalize_host)?;
        let scheme_ok = match url.scheme() {
            "https" => true,
            // Plain http only to the local machine, where browsers treat it as secure anyway.
            "http" => is_loopback_host(&host),
            _ => false,
        };
        let host_ok = host == self.own_host || self.allowed.iter().any(|p| p.matches(&host));
        let no_userinfo = url.username().is_empty() && url.password().is_none();
        (scheme_ok && host_ok && no_userinfo).then(|| url.to_string())
    }
}

/// A local absolute path of tsuzuki's own (`/account?x=1`), never a scheme-relative `//host` or
/// anything a browser might read as another host.
pub fn local_path(candidate: &str) -> Option<&str> {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.starts_with("/\\")
        && candidate.len() <= MAX_LEN
        && !candidate.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(candidate)
}

/// `localhost`, any `*.localhost` name (RFC 6761), or a loopback address.
pub fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReturnPolicy {
        ReturnPolicy::new(
            "https://auth.example.com",
            vec![
                HostPattern::parse("app.example.com").unwrap(),
                HostPattern::parse("*.apps.example.org").unwrap(),
            ],
        )
    }

    #[test]
    fn local_paths_stay_local() {
        let p = policy();
        assert_eq!(p.check(Some("/account?x=1"), "/"), "/account?x=1");
        for bad in ["//evil.example", "/\\evil.example", "evil", "/a\nb", ""] {
            assert_eq!(p.check(Some(bad), "/account"), "/account", "{bad:?}");
        }
        assert_eq!(p.check(None, "/account"), "/account");
    }

    /// SEC-16: absolute targets only on the own or allowed hosts, never elsewhere.
    #[test]
    fn absolute_urls_only_on_allowed_hosts() {
        let p = policy();
        for ok in [
            "https://app.example.com/inbox?id=3",
            "https://APP.example.com:8443/x",
            "https://auth.example.com/account",
            "https://a.apps.example.org/",
            "https://apps.example.org/",
        ] {
            assert!(p.validate(ok).is_some(), "{ok}");
        }
        for bad in [
            "https://evil.example/",
            "https://app.example.com.evil.example/",
            "https://evilapp.example.com/",
            "https://user:pw@app.example.com/",
            "https://app.example.com@evil.example/",
            "http://app.example.com/",
            "javascript://app.example.com/%0aalert(1)",
            "ftp://app.example.com/",
            "https:\\\\evil.example",
            "https://evil.example\\@app.example.com/",
            "data:text/html,hi",
        ] {
            assert_eq!(p.validate(bad), None, "{bad}");
        }
        let long = format!("https://app.example.com/{}", "a".repeat(MAX_LEN));
        assert_eq!(p.validate(&long), None);
    }

    #[test]
    fn plain_http_only_to_the_local_machine() {
        let p = ReturnPolicy::new(
            "http://auth.tsuzuki.localhost:8470",
            vec![HostPattern::parse(".tsuzuki.localhost").unwrap()],
        );
        assert!(p.validate("http://app.tsuzuki.localhost:9000/x").is_some());
        assert!(
            p.validate("http://auth.tsuzuki.localhost:8470/account")
                .is_some()
        );
        assert!(p.validate("http://other.localhost/").is_none());
        assert!(is_loopback_host("127.0.0.1") && is_loopback_host("::1"));
        assert!(!is_loopback_host("localhost.example.com"));
    }
}
