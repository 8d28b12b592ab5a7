//! Who may reach what behind the proxy (forward-auth, issue #6): a policy per host and path, and
//! the verdict for one request's session under it.
//!
//! The rules see only what the proxy reported of the original request (host and path) and the
//! session's facts. Paths are normalised before matching — backslashes, `//`, `.` and `..` — and
//! matched under every reading an application might give the escapes in them (none decoded, all
//! but `%2F` decoded, all decoded); the strictest policy of those readings applies. So neither
//! `/public/%2e%2e/admin` nor `/admin/..%2Fpublic` can borrow the policy of `/public` while the
//! application serves `/admin`, whichever way it decodes.

use crate::clock::Timestamp;
use crate::session::{AuthMethod, recent_enough};
use std::time::Duration;

/// What a route demands of the person asking for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Anyone; identity headers are sent when there is a session.
    Public,
    /// A live session.
    SignedIn,
    /// A live session whose sign-in included a real second factor (authenticator, emailed or
    /// texted code, recovery code). A remember-me restore or a trusted-device skip is not one
    /// (SEC-31): the person proves the factor once, by step-up.
    SecondFactor,
    /// A real sign-in within the re-authentication window (R12).
    RecentSignIn,
}

impl Policy {
    pub const ALL: [Policy; 4] = [
        Policy::Public,
        Policy::SignedIn,
        Policy::SecondFactor,
        Policy::RecentSignIn,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Policy::Public => "public",
            Policy::SignedIn => "signed_in",
            Policy::SecondFactor => "second_factor",
            Policy::RecentSignIn => "recent_sign_in",
        }
    }

    pub fn from_code(code: &str) -> Option<Policy> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    /// The stricter of two policies (a route marked sensitive by the proxy stays at least as
    /// strict as its configured policy).
    pub fn max(self, other: Policy) -> Policy {
        let rank = |p: Policy| match p {
            Policy::Public => 0,
            Policy::SignedIn => 1,
            Policy::SecondFactor => 2,
            Policy::RecentSignIn => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// A host name to match: exactly (`app.example.com`) or any subdomain of a domain
/// (`.example.com` or `*.example.com`, which also matches `example.com` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    Domain(String),
}

impl HostPattern {
    /// Parse a pattern from configuration; `None` for an empty or malformed one.
    pub fn parse(text: &str) -> Option<HostPattern> {
        let t = text.trim().to_ascii_lowercase();
        let (domain, name) = match t.strip_prefix("*.").or_else(|| t.strip_prefix('.')) {
            Some(rest) => (true, rest.to_string()),
            None => (false, t),
        };
        let name = name.trim_end_matches('.').to_string();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .split('.')
                .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(is_host_byte));
        match (valid, domain) {
            (false, _) => None,
            (true, true) => Some(HostPattern::Domain(name)),
            (true, false) => Some(HostPattern::Exact(name)),
        }
    }

    /// Whether `host` (already normalised by [`normalize_host`]) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => host == h,
            HostPattern::Domain(d) => {
                host == d
                    || (host.len() > d.len()
                        && host.ends_with(d.as_str())
                        && host.as_bytes()[host.len() - d.len() - 1] == b'.')
            }
        }
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A host as a proxy reports it (`App.Example.com:8443`, `[::1]:80`, `example.com.`), lowercased
/// and without port or trailing dot.
pub fn normalize_host(raw: &str) -> String {
    let raw = raw.trim();
    let host = if let Some(rest) = raw.strip_prefix('[') {
        // An IPv6 literal keeps its brackets' content.
        rest.split(']').next().unwrap_or("")
    } else {
        raw.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map(|(h, _)| h)
            .unwrap_or(raw)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// How much of a path's percent-escapes an application decodes before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    None,
    /// Everything but an escaped slash (`%2F`), which stays inside its segment.
    KeepSlashes,
    All,
}

/// A request path as an application decoding it by `decoding` sees it: the query dropped,
/// backslashes read as slashes, empty, `.` and `..` segments resolved. The result always starts
/// with `/`.
pub fn normalize_path(raw: &str, decoding: Decoding) -> String {
    let path = raw.split(['?', '#']).next().unwrap_or("");
    let decoded = match decoding {
        Decoding::None => path.to_string(),
        Decoding::KeepSlashes => percent_decode(path, true),
        Decoding::All => percent_decode(path, false),
    }
    .replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    // Keep a trailing slash: `/admin/` and `/admin` are both "under /admin".
    if out.is_empty() || decoded.ends_with('/') {
        out.push('/');
    }
    out
}

/// Decode `%XX` escapes, repeatedly (so that `%252e` cannot hide a `.` from the matcher); with
/// `keep_slashes`, an escaped `/` or `\\` stays escaped. Bytes that are not UTF-8 afterwards are
/// replaced, never passed on.
fn percent_decode(input: &str, keep_slashes: bool) -> String {
    let mut current = input.to_string();
    // Bounded: each round that changes anything removes at least one escape.
    for _ in 0..4 {
        let bytes = current.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            {
                let byte = h * 16 + l;
                if !(keep_slashes && (byte == b'/' || byte == b'\\')) {
                    out.push(byte);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        let next = String::from_utf8_lossy(&out).into_owned();
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One configured rule: a host (any when `None`) and a path prefix (any when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub host: Option<HostPattern>,
    /// A normalised prefix; `/admin` covers `/admin`, `/admin/` and `/admin/x`, not `/administrator`.
    pub path: Option<String>,
    pub policy: Policy,
}

impl AccessRule {
    fn matches(&self, host: Option<&str>, path: &str) -> bool {
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(p), Some(h)) => p.matches(h),
            (Some(_), None) => false,
        };
        host_ok
            && self
                .path
                .as_deref()
                .is_none_or(|prefix| under(path, prefix))
    }
}

fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// The rules in configuration order, and the policy when none matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    pub rules: Vec<AccessRule>,
    pub default: Policy,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy {
            rules: Vec::new(),
            default: Policy::SignedIn,
        }
    }
}

impl AccessPolicy {
    /// The first rule that matches wins (as in the file, so that an operator reads the order
    /// they wrote), under each reading of the path's escapes; the strictest of those applies.
    /// `host` and `path` are what the proxy reported, raw; `None` when it did not.
    pub fn policy_for(&self, host: Option<&str>, path: Option<&str>) -> Policy {
        let host = host.map(normalize_host);
        let raw = path.unwrap_or("/");
        [Decoding::None, Decoding::KeepSlashes, Decoding::All]
            .into_iter()
            .map(|d| {
                let path = normalize_path(raw, d);
                self.rules
                    .iter()
                    .find(|r| r.matches(host.as_deref(), &path))
                    .map(|r| r.policy)
                    .unwrap_or(self.default)
            })
            .fold(Policy::Public, Policy::max)
    }
}

/// What the session shows of how the person authenticated.
#[derive(Debug, Clone, Copy)]
pub struct SessionFacts<'a> {
    pub methods: &'a [AuthMethod],
    pub remembered: bool,
    pub auth_time: Timestamp,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// No live session: sign in.
    SignInRequired,
    /// Signed in, but without a real second factor in this session: step up.
    SecondFactorRequired,
    /// Signed in, but not recently enough with a real sign-in: re-authenticate.
    StepUpRequired,
}

impl Verdict {
    /// The stable error code a refusal carries.
    pub fn code(self) -> Option<&'static str> {
        match self {
            Verdict::Allow => None,
            Verdict::SignInRequired => Some("not_signed_in"),
            Verdict::SecondFactorRequired => Some("second_factor_required"),
            Verdict::StepUpRequired => Some("step_up_required"),
        }
    }
}

/// Whether a session method is a second factor proven in this session.
pub fn is_second_factor(m: AuthMethod) -> bool {
    matches!(
        m,
        AuthMethod::Totp | AuthMethod::EmailCode | AuthMethod::SmsCode | AuthMethod::RecoveryCode
    )
}

/// The verdict for `policy` given the request's session (`None`: no live session).
pub fn decide(
    policy: Policy,
    session: Option<SessionFacts<'_>>,
    reauth_window: Duration,
    now: Timestamp,
) -> Verdict {
    let Some(s) = session else {
        return match policy {
            Policy::Public => Verdict::Allow,
            _ => Verdict::SignInRequired,
        };
    };
    match policy {
        Policy::Public | Policy::SignedIn => Verdict::Allow,
        Policy::SecondFactor if s.methods.iter().any(|m| is_second_factor(*m)) => Verdict::Allow,
        Policy::SecondFactor => Verdict::SecondFactorRequired,
        Policy::RecentSignIn
            if recent_enough(s.methods, s.remembered, s.auth_time, reauth_window, now) =>
        {
            Verdict::Allow
        }
        Policy::RecentSignIn => Verdict::StepUpRequired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(host: Option<&str>, path: Option<&str>, policy: Policy) -> AccessRule {
        AccessRule {
            host: host.map(|h| HostPattern::parse(h).unwrap()),
            path: path.map(|p| normalize_path(p, Decoding::All)),
            policy,
        }
    }

    #[test]
    fn host_patterns() {
        let exact = HostPattern::parse("App.Example.com").unwrap();
        assert!(exact.matches("app.example.com"));
        assert!(!exact.matches("x.app.example.com"));
        let domain = HostPattern::parse("*.example.com").unwrap();
        assert_eq!(domain, HostPattern::parse(".example.com").unwrap());
        for ok in ["example.com", "app.example.com", "a.b.example.com"] {
            assert!(domain.matches(ok), "{ok}");
        }
        for bad in ["badexample.com", "example.com.evil", "example.org", ""] {
            assert!(!domain.matches(bad), "{bad}");
        }
        for invalid in ["", "*.", "a..b", "a b", "evil.com/x", "a@b"] {
            assert!(HostPattern::parse(invalid).is_none(), "{invalid}");
        }
    }

    #[test]
    fn hosts_lose_port_case_and_trailing_dot() {
        assert_eq!(normalize_host("App.Example.COM:8443"), "app.example.com");
        assert_eq!(normalize_host("example.com."), "example.com");
        assert_eq!(normalize_host("[::1]:80"), "::1");
        assert_eq!(normalize_host("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn paths_are_normalised_before_matching() {
        for (raw, want) in [
            ("/", "/"),
            ("/a%2Fb", "/a/b"),
            ("", "/"),
            ("/admin", "/admin"),
            ("/admin/", "/admin/"),
            ("/admin?x=/public", "/admin"),
            ("//admin//x", "/admin/x"),
            ("/public/../admin", "/admin"),
            ("/public/%2e%2e/admin", "/admin"),
            ("/public%2F..%2Fadmin", "/admin"),
            ("/public/%252e%252e/admin", "/admin"),
            ("/public\\..\\admin", "/admin"),
            ("/../../etc", "/etc"),
            ("/./a/./b", "/a/b"),
        ] {
            assert_eq!(normalize_path(raw, Decoding::All), want, "{raw}");
        }
        assert_eq!(
            normalize_path("/public/%2e%2e/admin", Decoding::None),
            "/public/%2e%2e/admin"
        );
        assert_eq!(
            normalize_path("/admin/..%2Fpublic", Decoding::KeepSlashes),
            "/admin/..%2Fpublic"
        );
        assert_eq!(
            normalize_path("/admin/..%252Fpublic", Decoding::KeepSlashes),
            "/admin/..%2Fpublic"
        );
        assert_eq!(
            normalize_path("/admin/..%2Fpublic", Decoding::All),
            "/public"
        );
    }

    #[test]
    fn first_matching_rule_wins_else_default() {
        let p = AccessPolicy {
            rules: vec![
                rule(Some("app.example.com"), Some("/public"), Policy::Public),
                rule(None, Some("/admin"), Policy::RecentSignIn),
                rule(Some(".example.com"), Some("/finance"), Policy::SecondFactor),
                rule(Some("www.example.com"), None, Policy::Public),
            ],
            default: Policy::SignedIn,
        };
        let at = |h: &str, path: &str| p.policy_for(Some(h), Some(path));
        assert_eq!(at("app.example.com", "/public/x"), Policy::Public);
        assert_eq!(at("app.example.com", "/publicity"), Policy::SignedIn);
        assert_eq!(at("other.example.com", "/public/x"), Policy::SignedIn);
        assert_eq!(
            at("app.example.com", "/public/../admin"),
            Policy::RecentSignIn
        );
        assert_eq!(
            at("app.example.com", "/public%2F..%2Fadmin/"),
            Policy::RecentSignIn
        );
        assert_eq!(at("APP.example.com:443", "/admin"), Policy::RecentSignIn);
        assert_eq!(at("app.example.com", "/administrator"), Policy::SignedIn);
        // An application that keeps `%2F` inside a segment routes this under /admin: the
        // strictest reading applies, never the public one.
        assert_eq!(
            at("app.example.com", "/admin/..%2Fpublic/x"),
            Policy::RecentSignIn
        );
        assert_eq!(at("x.example.com", "/finance/q"), Policy::SecondFactor);
        assert_eq!(at("www.example.com", "/anything"), Policy::Public);
        // A proxy that reports nothing gets the default, except for host-less rules.
        assert_eq!(p.policy_for(None, None), Policy::SignedIn);
        assert_eq!(p.policy_for(None, Some("/admin")), Policy::RecentSignIn);
    }

    #[test]
    fn verdicts_by_policy() {
        let w = Duration::from_secs(600);
        let now = Timestamp(10_000);
        let fresh_pwd = SessionFacts {
            methods: &[AuthMethod::Password],
            remembered: false,
            auth_time: Timestamp(9_900),
        };
        let old_2fa = SessionFacts {
            methods: &[AuthMethod::Password, AuthMethod::Totp],
            remembered: false,
            auth_time: Timestamp(1_000),
        };
        let remembered = SessionFacts {
            methods: &[AuthMethod::Remember],
            remembered: true,
            auth_time: Timestamp(9_990),
        };
        let trusted = SessionFacts {
            methods: &[AuthMethod::Password, AuthMethod::TrustedDevice],
            remembered: false,
            auth_time: Timestamp(9_990),
        };
        use Verdict::*;
        assert_eq!(decide(Policy::Public, None, w, now), Allow);
        assert_eq!(decide(Policy::SignedIn, None, w, now), SignInRequired);
        assert_eq!(decide(Policy::SecondFactor, None, w, now), SignInRequired);
        assert_eq!(decide(Policy::RecentSignIn, None, w, now), SignInRequired);
        assert_eq!(decide(Policy::SignedIn, Some(remembered), w, now), Allow);
        assert_eq!(decide(Policy::SecondFactor, Some(old_2fa), w, now), Allow);
        assert_eq!(
            decide(Policy::SecondFactor, Some(fresh_pwd), w, now),
            SecondFactorRequired
        );
        // SEC-31: neither a trusted device nor a remember-me restore proves a second factor.
        assert_eq!(
            decide(Policy::SecondFactor, Some(trusted), w, now),
            SecondFactorRequired
        );
        assert_eq!(
            decide(Policy::SecondFactor, Some(remembered), w, now),
            SecondFactorRequired
        );
        assert_eq!(decide(Policy::RecentSignIn, Some(fresh_pwd), w, now), Allow);
        assert_eq!(
            decide(Policy::RecentSignIn, Some(old_2fa), w, now),
            StepUpRequired
        );
        assert_eq!(
            decide(Policy::RecentSignIn, Some(remembered), w, now),
            StepUpRequired
        );
    }

    #[test]
    fn stricter_policy() {
        assert_eq!(
            Policy::Public.max(Policy::RecentSignIn),
            Policy::RecentSignIn
        );
        assert_eq!(
            Policy::SecondFactor.max(Policy::SignedIn),
            Policy::SecondFactor
        );
        for p in Policy::ALL {
            assert_eq!(Policy::from_code(p.code()), Some(p));
        }
    }
}
