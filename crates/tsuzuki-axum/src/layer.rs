//! The tower layer and service: check, then pass the request on with its [`Identity`], or answer
//! in its place.

use crate::Tsuzuki;
use crate::cache;
use crate::check::{Answer, Facts, check};
use crate::cookies::{apply_set_cookies, read_cookie};
use crate::respond;
use axum::extract::{ConnectInfo, OriginalUri};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// What a layer does with a request that has no valid session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Redirect browsers to sign in, 401 for the rest.
    Require,
    /// Pass the request on without an identity.
    Optional,
    /// Like `Require`, and also demand a recent real sign-in; never answered from the cache.
    StepUp,
}

/// Made by [`Tsuzuki::require`], [`Tsuzuki::optional`] or [`Tsuzuki::step_up`].
#[derive(Debug, Clone)]
pub struct TsuzukiLayer {
    tsuzuki: Tsuzuki,
    mode: Mode,
}

impl TsuzukiLayer {
    pub(crate) fn new(tsuzuki: Tsuzuki, mode: Mode) -> Self {
        TsuzukiLayer { tsuzuki, mode }
    }
}

impl<S> Layer<S> for TsuzukiLayer {
    type Service = TsuzukiService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TsuzukiService {
            inner,
            tsuzuki: self.tsuzuki.clone(),
            mode: self.mode,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TsuzukiService<S> {
    inner: S,
    tsuzuki: Tsuzuki,
    mode: Mode,
}

/// What happens to the request.
enum Outcome {
    Pass(Option<crate::Identity>),
    Refuse {
        code: String,
        error: Option<serde_json::Value>,
    },
    Unavailable,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<B>> for TsuzukiService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was not polled ready stays behind (tower's usual dance).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let tsuzuki = self.tsuzuki.clone();
        let mode = self.mode;
        Box::pin(handle(tsuzuki, mode, inner, request))
    }
}

async fn handle<S, B>(
    tsuzuki: Tsuzuki,
    mode: Mode,
    mut inner: S,
    mut request: Request<B>,
) -> Result<Response, S::Error>
where
    S: Service<Request<B>, Response = Response>,
{
    let shared = &tsuzuki.shared;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let answer = answer(&tsuzuki, mode, request.headers(), peer).await;
    let (outcome, set_cookies) = match answer {
        Answer::Valid {
            identity,
            set_cookies,
        } => {
            tracing::debug!(user = %identity.user_id, session = %identity.session, "tsuzuki session valid");
            (Outcome::Pass(Some(identity)), set_cookies)
        }
        Answer::Rejected {
            code,
            error,
            set_cookies,
        } => {
            tracing::debug!(%code, ?mode, "tsuzuki rejected the session");
            (Outcome::Refuse { code, error }, set_cookies)
        }
        Answer::Unavailable(reason) => {
            tracing::warn!(%reason, ?mode, "tsuzuki unavailable");
            (Outcome::Unavailable, Vec::new())
        }
    };
    let outcome = match (outcome, mode) {
        // An optional route goes on as for a guest, whatever the reason.
        (Outcome::Refuse { .. } | Outcome::Unavailable, Mode::Optional) => Outcome::Pass(None),
        (o, _) => o,
    };
    // A response made for one person (or carrying their cookies) must not be kept by a shared
    // cache; on an optional route that is the case only when someone is signed in.
    let personal = mode != Mode::Optional
        || matches!(outcome, Outcome::Pass(Some(_)))
        || !set_cookies.is_empty();
    let mut response = match outcome {
        Outcome::Pass(identity) => {
            if let Some(identity) = identity {
                request.extensions_mut().insert(identity);
            }
            // The handler, and any tsuzuki layer inside this one, must see the cookies the
            // browser is about to get: a step-up check that sent the remember-me cookie we just
            // had rotated would make tsuzuki restore again, and after its grace window that
            // looks like a stolen token.
            if !set_cookies.is_empty() {
                apply_set_cookies(request.headers_mut(), &set_cookies);
            }
            inner.call(request).await?
        }
        Outcome::Unavailable => respond::unavailable(),
        Outcome::Refuse { code, error } => {
            if respond::is_navigation(request.method(), request.headers()) {
                let page = if code == "step_up_required" {
                    "/account/reauth"
                } else {
                    "/sign-in"
                };
                respond::redirect(&respond::redirect_target(
                    &shared.public_url,
                    page,
                    &shared.app_url,
                    &original_path(&request),
                ))
            } else {
                respond::json_error(StatusCode::UNAUTHORIZED, &code, error)
            }
        }
    };
    // Relay every cookie tsuzuki set while checking — a restored session and its rotated
    // remember-me token, or the clearing of dead ones — whatever the answer to the browser is.
    for value in set_cookies {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    if personal {
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("private"));
    }
    Ok(response)
}

/// The check's answer: from the cache, from tsuzuki, or — without any tsuzuki cookie — a local
/// `not_signed_in` that spares tsuzuki the anonymous traffic.
async fn answer(
    tsuzuki: &Tsuzuki,
    mode: Mode,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Answer {
    let shared = &tsuzuki.shared;
    let first = |names: &[String]| names.iter().find_map(|n| read_cookie(headers, n));
    let session = first(&shared.session_cookies);
    let remember = first(&shared.remember_cookies);
    if session.is_none() && remember.is_none() {
        return Answer::Rejected {
            code: "not_signed_in".into(),
            error: None,
            set_cookies: Vec::new(),
        };
    }
    let facts = Facts::of(headers, peer);
    let step_up = mode == Mode::StepUp;
    // Only a request with a session cookie can be a cache hit: without one, tsuzuki may restore
    // from the remember-me cookie, which sets cookies and is never cached.
    let key = session
        .filter(|_| !step_up)
        .map(|s| cache::key(s, remember, facts.background));
    if let (Some(cache), Some(key)) = (&shared.cache, &key)
        && let Some(hit) = cache.get(key)
    {
        return Answer::Valid {
            identity: Arc::unwrap_or_clone(hit),
            set_cookies: Vec::new(),
        };
    }
    let answer = check(shared, &facts, step_up).await;
    if let (
        Some(cache),
        Some(key),
        Answer::Valid {
            identity,
            set_cookies,
        },
    ) = (&shared.cache, key, &answer)
        && set_cookies.is_empty()
    {
        cache.insert(key, Arc::new(identity.clone()));
    }
    answer
}

/// The path and query the browser asked for, before any `nest` stripped a prefix.
fn original_path<B>(request: &Request<B>) -> String {
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map(|o| &o.0)
        .unwrap_or(request.uri());
    // Only an origin-form target ("/…") is appended to app_url: anything else could change
    // the return address's authority.
    uri.path_and_query()
        .map(|p| p.as_str())
        .filter(|p| p.starts_with('/'))
        .unwrap_or("/")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(target: &str) -> String {
        let request = Request::get(target).body(()).unwrap();
        original_path(&request)
    }

    #[test]
    fn return_path_is_the_origin_form_target() {
        assert_eq!(path_of("/profile?tab=1"), "/profile?tab=1");
        // An absolute-form target keeps only its path: the host is always app_url's.
        assert_eq!(path_of("http://evil.example/x?y"), "/x?y");
        assert_eq!(path_of("*"), "/");
        let mut nested = Request::get("/inner").body(()).unwrap();
        nested
            .extensions_mut()
            .insert(OriginalUri("/app/inner".parse().unwrap()));
        assert_eq!(original_path(&nested), "/app/inner");
    }
}
