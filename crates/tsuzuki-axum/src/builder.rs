//! Configuration: the builder, validated once, and the shared state every layer uses.

use crate::cache::IdentityCache;
use crate::layer::{Mode, TsuzukiLayer};
use axum::http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

/// Default cache TTL: the revocation bound. Two seconds keeps a page with a burst of asset and
/// API requests to one check, while a signed-out session stops working almost at once.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(2);
/// Default number of cached sessions. An entry is a few hundred bytes.
pub const DEFAULT_CACHE_CAPACITY: u64 = 10_000;
/// Default timeout of one check, connection included. A check is a cache hit on tsuzuki's side
/// in the common case (well under a millisecond); seconds mean it is down or overloaded, and
/// the request is better answered 503 than left hanging.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// A client of one tsuzuki server, shared by every layer made from it (cheap to clone).
#[derive(Clone)]
pub struct Tsuzuki {
    pub(crate) shared: Arc<Shared>,
}

/// What a check needs, built once.
pub(crate) struct Shared {
    /// `{tsuzuki_url}/auth/check`.
    pub check_url: Uri,
    /// tsuzuki's public base URL without a trailing slash (redirect targets).
    pub public_url: String,
    /// The host application's public base URL without a trailing slash (return_to).
    pub app_url: String,
    /// The names tsuzuki's session cookie may have (the first present is used).
    pub session_cookies: Vec<String>,
    /// Likewise for the remember-me cookie.
    pub remember_cookies: Vec<String>,
    pub http: Client<HttpConnector, axum::body::Body>,
    pub timeout: Duration,
    pub cache: Option<IdentityCache>,
    pub cache_ttl: Duration,
}

impl std::fmt::Debug for Tsuzuki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.shared;
        f.debug_struct("Tsuzuki")
            .field("check_url", &s.check_url.to_string())
            .field("public_url", &s.public_url)
            .field("app_url", &s.app_url)
            .field("cache_ttl", &s.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl Tsuzuki {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A layer for routes that need a session.
    pub fn require(&self) -> TsuzukiLayer {
        TsuzukiLayer::new(self.clone(), Mode::Require)
    }

    /// A layer for routes that work signed out: never rejects, and puts an [`crate::Identity`]
    /// into the request only when there is a valid session (so handlers take
    /// `Option<Identity>`). When tsuzuki is unreachable the request goes on without one.
    pub fn optional(&self) -> TsuzukiLayer {
        TsuzukiLayer::new(self.clone(), Mode::Optional)
    }

    /// A layer for sensitive routes: needs a session *and* a recent real sign-in (tsuzuki's
    /// `session.reauth_window`; a remember-me restore or a trusted device does not count). Asks
    /// tsuzuki on every request, never from the cache. Works on its own or inside
    /// [`Tsuzuki::require`].
    pub fn step_up(&self) -> TsuzukiLayer {
        TsuzukiLayer::new(self.clone(), Mode::StepUp)
    }

    /// The cache TTL in force: the bound within which a revocation is honoured here.
    pub fn revocation_bound(&self) -> Duration {
        self.shared.cache_ttl
    }
}

/// Builds a [`Tsuzuki`]. Only [`Builder::tsuzuki_url`] and [`Builder::app_url`] are required.
#[derive(Debug, Clone)]
pub struct Builder {
    tsuzuki_url: Option<String>,
    public_url: Option<String>,
    app_url: Option<String>,
    cache_ttl: Duration,
    cache_capacity: u64,
    timeout: Duration,
    cookie_names: Option<(String, String)>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            tsuzuki_url: None,
            public_url: None,
            app_url: None,
            cache_ttl: DEFAULT_CACHE_TTL,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            timeout: DEFAULT_TIMEOUT,
            cookie_names: None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{key} is not an http(s) URL without query or fragment: {value:?}")]
    BadUrl { key: &'static str, value: String },
}

impl Builder {
    /// Where this application reaches tsuzuki for checks (an internal address is fine, e.g.
    /// `http://127.0.0.1:8470` or `http://tsuzuki:8470`).
    pub fn tsuzuki_url(mut self, url: impl Into<String>) -> Self {
        self.tsuzuki_url = Some(url.into());
        self
    }

    /// Where browsers reach tsuzuki (sign-in and re-authentication redirects). Defaults to
    /// [`Builder::tsuzuki_url`]. Its scheme also decides the default cookie names: https means
    /// tsuzuki's `__Host-` prefixed cookies.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Where browsers reach this application, up to the path axum sees (e.g.
    /// `https://app.example.com`). The return address after sign-in is this plus the request's
    /// path and query. Configured rather than read from `Host`: a request cannot choose where
    /// the person is sent back to.
    pub fn app_url(mut self, url: impl Into<String>) -> Self {
        self.app_url = Some(url.into());
        self
    }

    /// How long a valid answer is reused for the same session cookie. This is the revocation
    /// bound: a session signed out or revoked elsewhere is refused here at most this long after
    /// tsuzuki last confirmed it. `Duration::ZERO` turns the cache off.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How many sessions the cache holds at most (least recently used go first). 0 turns the
    /// cache off.
    pub fn cache_capacity(mut self, capacity: u64) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Timeout of one check against tsuzuki, connection included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// tsuzuki's session and remember-me cookie names (`session.cookie_name`,
    /// `remember.cookie_name`), with their `__Host-` or `__Secure-` prefix if tsuzuki uses one.
    /// Only needed when tsuzuki's configuration changes the default names.
    pub fn cookie_names(mut self, session: impl Into<String>, remember: impl Into<String>) -> Self {
        self.cookie_names = Some((session.into(), remember.into()));
        self
    }

    pub fn build(self) -> Result<Tsuzuki, BuildError> {
        let tsuzuki_url = self.tsuzuki_url.ok_or(BuildError::Missing("tsuzuki_url"))?;
        let tsuzuki_url = base_url("tsuzuki_url", &tsuzuki_url)?;
        let public_url = match self.public_url {
            Some(u) => base_url("public_url", &u)?,
            None => tsuzuki_url.clone(),
        };
        let app_url = base_url(
            "app_url",
            &self.app_url.ok_or(BuildError::Missing("app_url"))?,
        )?;
        if !tsuzuki_url.starts_with("http:") {
            // The check client speaks plain HTTP: tsuzuki's internal address. A TLS client
            // would be a dependency every embedder pays for; put tsuzuki on a private address.
            return Err(BuildError::BadUrl {
                key: "tsuzuki_url",
                value: tsuzuki_url,
            });
        }
        let check_url: Uri =
            format!("{tsuzuki_url}/auth/check")
                .parse()
                .map_err(|_| BuildError::BadUrl {
                    key: "tsuzuki_url",
                    value: tsuzuki_url.clone(),
                })?;
        // tsuzuki prefixes its cookies exactly when its public URL is https: `__Host-`, or
        // `__Secure-` when `session.cookie_domain` shares them with subdomains
        // (crates/tsuzuki-server/src/http/cookies.rs). Both are looked for: which one applies is
        // tsuzuki's configuration, and a browser holds only one.
        let (session_cookies, remember_cookies) = match self.cookie_names {
            Some((session, remember)) => (vec![session], vec![remember]),
            None if public_url.starts_with("https:") => (
                vec![
                    "__Host-tsuzuki_session".to_string(),
                    "__Secure-tsuzuki_session".to_string(),
                ],
                vec![
                    "__Host-tsuzuki_remember".to_string(),
                    "__Secure-tsuzuki_remember".to_string(),
                ],
            ),
            None => (
                vec!["tsuzuki_session".to_string()],
                vec!["tsuzuki_remember".to_string()],
            ),
        };
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(self.timeout));
        connector.set_nodelay(true);
        // hyper's client follows no redirects and reads no proxy variables: a check goes to
        // tsuzuki and nowhere else, with the browser's cookies.
        let http = Client::builder(TokioExecutor::new()).build(connector);
        let cache = (!self.cache_ttl.is_zero() && self.cache_capacity > 0)
            .then(|| IdentityCache::new(self.cache_ttl, self.cache_capacity));
        Ok(Tsuzuki {
            shared: Arc::new(Shared {
                check_url,
                public_url,
                app_url,
                session_cookies,
                remember_cookies,
                http,
                timeout: self.timeout,
                cache,
                cache_ttl: if self.cache_capacity == 0 {
                    Duration::ZERO
                } else {
                    self.cache_ttl
                },
            }),
        })
    }
}

/// An http(s) base URL, without a trailing slash, query or fragment.
fn base_url(key: &'static str, value: &str) -> Result<String, BuildError> {
    let bad = || BuildError::BadUrl {
        key,
        value: value.to_string(),
    };
    // `Uri` takes no fragment; one is refused here rather than silently kept in a prefix.
    let uri: Uri = value.parse().map_err(|_| bad())?;
    if !matches!(uri.scheme_str(), Some("http" | "https"))
        || uri.host().is_none_or(str::is_empty)
        || uri.query().is_some()
        || value.contains('#')
    {
        return Err(bad());
    }
    Ok(value.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_addresses_are_required() {
        assert_eq!(
            Tsuzuki::builder().app_url("http://a").build().unwrap_err(),
            BuildError::Missing("tsuzuki_url")
        );
        assert_eq!(
            Tsuzuki::builder()
                .tsuzuki_url("http://t")
                .build()
                .unwrap_err(),
            BuildError::Missing("app_url")
        );
    }

    #[test]
    fn urls_are_validated_and_normalised() {
        for bad in [
            "ftp://x",
            "not a url",
            "http://x/?a=1",
            "http://x/#f",
            "/relative",
            // Checks are plain HTTP (see build).
            "https://auth.example.com",
        ] {
            let e = Tsuzuki::builder()
                .tsuzuki_url(bad)
                .app_url("http://a")
                .build()
                .unwrap_err();
            assert!(matches!(e, BuildError::BadUrl { .. }), "{bad}");
        }
        let t = Tsuzuki::builder()
            .tsuzuki_url("http://127.0.0.1:8470/")
            .public_url("https://auth.example.com/prefix/")
            .app_url("https://app.example.com")
            .build()
            .unwrap();
        assert_eq!(
            t.shared.check_url.to_string(),
            "http://127.0.0.1:8470/auth/check"
        );
        assert_eq!(t.shared.public_url, "https://auth.example.com/prefix");
        assert_eq!(t.shared.app_url, "https://app.example.com");
        // https public URL: tsuzuki's cookies carry the __Host- prefix.
        assert_eq!(
            t.shared.session_cookies,
            ["__Host-tsuzuki_session", "__Secure-tsuzuki_session"]
        );
        assert_eq!(
            t.shared.remember_cookies,
            ["__Host-tsuzuki_remember", "__Secure-tsuzuki_remember"]
        );
        assert_eq!(t.revocation_bound(), DEFAULT_CACHE_TTL);
    }

    #[test]
    fn plain_http_tsuzuki_uses_unprefixed_cookies_and_zero_ttl_disables_the_cache() {
        let t = Tsuzuki::builder()
            .tsuzuki_url("http://127.0.0.1:8470")
            .app_url("http://127.0.0.1:3000")
            .cache_ttl(Duration::ZERO)
            .build()
            .unwrap();
        assert_eq!(t.shared.session_cookies, ["tsuzuki_session"]);
        assert!(t.shared.cache.is_none());
        assert_eq!(t.revocation_bound(), Duration::ZERO);
    }
}
