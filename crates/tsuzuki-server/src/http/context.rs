//! The request's session, resolved once and lazily.
//!
//! [`with_context`] puts a [`RequestContext`] into every request. A handler that needs the
//! session calls [`RequestContext::session`] with the request's kind of activity; the first call
//! checks the session cookie and, if there is no live session but a remember-me cookie, restores
//! one from it in the same request (R4), queueing the cookies to set. Requests that never ask —
//! health checks, static files, the sign-in page — never touch the store (SEC-76). Whatever
//! cookies were queued are added to the response on the way out, whatever the handler returned.

use super::AppState;
use super::client::{PeerAddr, client_info};
use super::cookies::read_cookie;
use crate::audit::ClientInfo;
use crate::remember::RestoreError;
use crate::sessions::{ActiveSession, Rejection};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;
use tsuzuki_core::session::Activity;

#[derive(Clone)]
pub struct RequestContext {
    inner: Arc<Inner>,
}

struct Inner {
    state: AppState,
    session_cookie: Option<String>,
    remember_cookie: Option<String>,
    trusted_cookie: Option<String>,
    /// The browser cookie's value, existing or created for this response.
    browser: Mutex<Option<String>>,
    client: ClientInfo,
    resolved: OnceCell<Result<ActiveSession, Rejection>>,
    outgoing: Mutex<Vec<HeaderValue>>,
}

impl RequestContext {
    fn new(state: AppState, headers: &HeaderMap, peer: Option<std::net::IpAddr>) -> Self {
        let cookie = |name: &str| read_cookie(headers, name).map(str::to_string);
        let browser = cookie(&state.cookies.browser)
            .filter(|v| tsuzuki_core::token::SecretToken::parse(v).is_some());
        let mut client = client_info(headers, peer, &state.config.trusted_proxies);
        client.browser = browser
            .as_deref()
            .and_then(tsuzuki_core::token::SecretToken::parse)
            .map(|t| t.hash());
        let inner = Inner {
            session_cookie: cookie(&state.cookies.session),
            remember_cookie: cookie(&state.cookies.remember),
            trusted_cookie: cookie(&state.cookies.trusted),
            browser: Mutex::new(browser),
            client,
            state,
            resolved: OnceCell::new(),
            outgoing: Mutex::new(Vec::new()),
        };
        RequestContext {
            inner: Arc::new(inner),
        }
    }

    pub fn client(&self) -> &ClientInfo {
        &self.inner.client
    }

    /// The remember-me cookie this request carried, if any.
    pub fn remember_cookie(&self) -> Option<&str> {
        self.inner.remember_cookie.as_deref()
    }

    /// The trusted-device cookie this request carried, if any.
    pub fn trusted_cookie(&self) -> Option<&str> {
        self.inner.trusted_cookie.as_deref()
    }

    /// This browser's cookie value, creating it (and queueing its Set-Cookie) if the request
    /// had none. Used where a flow is started or a sign-in is recorded.
    pub fn ensure_browser(&self) -> String {
        let mut slot = self.inner.browser.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = slot.as_ref() {
            return v.clone();
        }
        let value = tsuzuki_core::token::SecretToken::generate().encode();
        self.set_cookie(self.inner.state.cookies.set_browser(&value));
        *slot = Some(value.clone());
        value
    }

    /// This browser's cookie value as the request carried it.
    pub fn browser_cookie(&self) -> Option<String> {
        self.inner
            .browser
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The client, with the browser cookie's hash (which may have been created since the
    /// request arrived).
    pub fn client_with_browser(&self) -> ClientInfo {
        let mut client = self.inner.client.clone();
        client.browser = self
            .browser_cookie()
            .as_deref()
            .and_then(tsuzuki_core::token::SecretToken::parse)
            .map(|t| t.hash());
        client
    }

    /// The session cookie this request carried, if any.
    pub fn session_cookie(&self) -> Option<&str> {
        self.inner.session_cookie.as_deref()
    }

    /// Queue a Set-Cookie for the response.
    pub fn set_cookie(&self, value: HeaderValue) {
        self.inner
            .outgoing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(value);
    }

    /// The cookies queued for the response so far (forward-auth relays copies of them).
    pub fn queued_cookies(&self) -> Vec<HeaderValue> {
        self.inner
            .outgoing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The request's session (resolved at the first call; `activity` of that call counts).
    pub async fn session(&self, activity: Activity) -> Result<ActiveSession, Rejection> {
        self.inner
            .resolved
            .get_or_init(|| self.resolve(activity))
            .await
            .clone()
    }

    async fn resolve(&self, activity: Activity) -> Result<ActiveSession, Rejection> {
        let i = &self.inner;
        let state = &i.state;
        let first = match &i.session_cookie {
            Some(value) => {
                state
                    .sessions
                    .authenticate(value, activity, &i.client.ip)
                    .await
            }
            None => Err(Rejection::Missing),
        };
        let rejection = match first {
            Ok(session) => return Ok(session),
            Err(Rejection::Unavailable) => return Err(Rejection::Unavailable),
            Err(r) => r,
        };
        let Some(remember) = &i.remember_cookie else {
            if rejection != Rejection::Missing {
                self.set_cookie(state.cookies.clear_session());
            }
            return Err(rejection);
        };
        match state.remember.restore(remember, &i.client).await {
            Ok(restored) => {
                self.set_cookie(state.cookies.set_session(&restored.session_token.encode()));
                self.set_cookie(
                    state
                        .cookies
                        .set_remember(&restored.cookie, restored.max_age),
                );
                Ok(restored.session)
            }
            Err(RestoreError::Unavailable) => Err(Rejection::Unavailable),
            Err(RestoreError::Refused) => {
                // R4: whatever was wrong with it, the remember cookie is cleared the same way.
                self.set_cookie(state.cookies.clear_remember());
                if rejection != Rejection::Missing {
                    self.set_cookie(state.cookies.clear_session());
                }
                Err(rejection)
            }
        }
    }
}

/// Middleware: attach a context to the request, and its cookies to the response.
pub async fn with_context(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    let ctx = RequestContext::new(state, request.headers(), peer);
    request.extensions_mut().insert(ctx.clone());
    let mut response = next.run(request).await;
    let outgoing =
        std::mem::take(&mut *ctx.inner.outgoing.lock().unwrap_or_else(|p| p.into_inner()));
    for value in outgoing {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Extractor for handlers.
pub struct Ctx(pub RequestContext);

impl FromRequestParts<AppState> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ctx = match parts.extensions.get::<RequestContext>() {
            Some(ctx) => ctx.clone(),
            // Not behind the middleware (should not happen): a context that resolves on its own.
            None => {
                let peer = parts.extensions.get::<PeerAddr>().map(|p| p.0.ip());
                RequestContext::new(state.clone(), &parts.headers, peer)
            }
        };
        Ok(Ctx(ctx))
    }
}
