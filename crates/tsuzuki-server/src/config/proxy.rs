//! `[forward_auth]` and `session.cookie_domain`: what the session check demands per host and
//! path, where a sign-in may send the browser back to, and which domain shares the cookies.

use super::fields::Fields;
use tsuzuki_core::access::{
    AccessPolicy, AccessRule, Decoding, HostPattern, Policy, normalize_path,
};
use tsuzuki_core::return_to::ReturnPolicy;

/// What the configuration says about applications behind the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    pub access: AccessPolicy,
    pub returns: ReturnPolicy,
    /// The allowed return hosts as written, for `config check`.
    pub allowed_return_hosts: Vec<String>,
    /// `Domain` for the session and remember-me cookies, so that every subdomain's proxy sees
    /// them; `None` = host-only cookies (the default, and the safest).
    pub cookie_domain: Option<String>,
}

const POLICIES: &str = "\"public\", \"signed_in\", \"second_factor\" or \"recent_sign_in\"";

pub(super) fn proxy(f: &mut Fields, public_url: &str) -> ProxyConfig {
    let default = policy(f, "forward_auth.default_policy", "signed_in");
    let mut rules = Vec::new();
    for (i, mut rule) in f.table_array("forward_auth.rules").into_iter().enumerate() {
        let key = |name: &str| format!("forward_auth.rules[{i}].{name}");
        let host = match rule.remove("host") {
            None => None,
            Some(toml::Value::String(h)) => match HostPattern::parse(&h) {
                Some(p) => Some(p),
                None => {
                    f.issue(
                        &key("host"),
                        "must be a host name such as \"app.example.com\" or \".example.com\"",
                    );
                    continue;
                }
            },
            Some(_) => {
                f.issue(&key("host"), "must be a string");
                continue;
            }
        };
        let path = match rule.remove("path") {
            None => None,
            Some(toml::Value::String(p)) if p.starts_with('/') => {
                Some(normalize_path(&p, Decoding::All))
            }
            Some(_) => {
                f.issue(&key("path"), "must be a path prefix starting with '/'");
                continue;
            }
        };
        let policy = match rule.remove("policy") {
            Some(toml::Value::String(p)) => match Policy::from_code(&p) {
                Some(p) => p,
                None => {
                    f.issue(&key("policy"), &format!("must be {POLICIES}"));
                    continue;
                }
            },
            _ => {
                f.issue(&key("policy"), &format!("is required: {POLICIES}"));
                continue;
            }
        };
        for unknown in rule.keys() {
            f.issue(
                &key(unknown),
                "unknown key (a rule has host, path and policy)",
            );
        }
        rules.push(AccessRule { host, path, policy });
    }

    let allowed_return_hosts = f.string_list("forward_auth.allowed_return_hosts");
    let mut allowed = Vec::new();
    for h in &allowed_return_hosts {
        match HostPattern::parse(h) {
            Some(p) => allowed.push(p),
            None => f.issue(
                "forward_auth.allowed_return_hosts",
                &format!("{h:?} is not a host name or \".domain\" pattern"),
            ),
        }
    }

    let domain = f.string("session.cookie_domain", "");
    let cookie_domain = if domain.trim().is_empty() {
        None
    } else {
        let d = domain.trim().trim_start_matches('.').to_ascii_lowercase();
        f.check(
            "session.cookie_domain",
            validate_cookie_domain(&d, public_url),
        );
        Some(d)
    };

    ProxyConfig {
        access: AccessPolicy { rules, default },
        returns: ReturnPolicy::new(public_url, allowed),
        allowed_return_hosts,
        cookie_domain,
    }
}

fn policy(f: &mut Fields, key: &str, default: &str) -> Policy {
    let text = f.string(key, default);
    Policy::from_code(&text).unwrap_or_else(|| {
        f.issue(key, &format!("must be {POLICIES}"));
        Policy::from_code(default).expect("default is a policy")
    })
}

/// The cookie domain must be tsuzuki's own host or a parent of it — a browser ignores any other
/// `Domain` — and a name with at least one dot: never a bare top-level name or an address.
fn validate_cookie_domain(domain: &str, public_url: &str) -> Result<(), String> {
    let host = url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    if domain.parse::<std::net::IpAddr>().is_ok() || !domain.contains('.') {
        return Err("must be a domain name with a dot, such as \"example.com\"".into());
    }
    match HostPattern::parse(&format!(".{domain}")) {
        Some(p) if p.matches(&host) => Ok(()),
        Some(_) => Err(format!(
            "must be the public_url's host ({host}) or a parent domain of it"
        )),
        None => Err("must be a domain name such as \"example.com\"".into()),
    }
}

pub(super) fn render(out: &mut String, p: &ProxyConfig) {
    out.push_str(&format!(
        "\n[forward_auth]\ndefault_policy = {:?}\nallowed_return_hosts = {:?}\n",
        p.access.default.code(),
        p.allowed_return_hosts,
    ));
    for r in &p.access.rules {
        out.push_str("\n[[forward_auth.rules]]\n");
        if let Some(h) = &r.host {
            let text = match h {
                HostPattern::Exact(h) => h.clone(),
                HostPattern::Domain(d) => format!(".{d}"),
            };
            out.push_str(&format!("host = {text:?}\n"));
        }
        if let Some(path) = &r.path {
            out.push_str(&format!("path = {path:?}\n"));
        }
        out.push_str(&format!("policy = {:?}\n", r.policy.code()));
    }
}
