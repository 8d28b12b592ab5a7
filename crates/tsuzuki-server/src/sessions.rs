//! Sessions as a service: create, check (the hot path), revoke, and the cache in front of it.
//!
//! A check is: parse the cookie → SHA-256 → cache (or one indexed read) → `core::session::check`.
//! Activity is kept in memory and written at most once per `touch_interval` per session (S2).
//!
//! The cache can never answer for a session that this process signed out or revoked: every
//! revocation deletes the row first, then bumps `epoch`, then invalidates. A loader re-checks
//! `epoch` after inserting, and drops what it inserted if a revocation ran meanwhile, so a read
//! that raced a revocation cannot leave a stale entry behind. Revocations made by other processes
//! (the CLI, other nodes) arrive through the store's revocation feed, polled every
//! `revocation_poll_interval` ([`Sessions::apply_revocation_feed`]). Expiry needs no
//! invalidation: it is decided from the times at every check.

use crate::audit::{Audit, ClientInfo};
use crate::metrics::{Metrics, Outcome};
use axum::http::HeaderValue;
use quick_cache::sync::Cache;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tsuzuki_core::clock::{Clock, Timestamp};
use tsuzuki_core::events::EventKind;
use tsuzuki_core::session::{
    self, Activity, AuthMethod, Deadlines, ExpiryCause, SessionPolicy, SessionTimes,
};
use tsuzuki_core::token::{SecretToken, TokenHash, public_id};
use tsuzuki_store::{SessionRecord, SessionTouch, SessionView, Store, StoreError, User};

/// Why a request has no valid session. `code` is the stable reason sent to clients (SEC-14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No session cookie at all.
    Missing,
    /// A cookie that is not a token we could have issued, or one we do not know.
    Invalid,
    /// Signed out, revoked, or the account was disabled.
    Revoked,
    Expired(ExpiryCause),
    /// The database did not answer: the client must retry, not treat itself as signed out (SEC-75).
    Unavailable,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Rejection::Missing => "not_signed_in",
            Rejection::Invalid => "session_invalid",
            Rejection::Revoked => "session_revoked",
            Rejection::Expired(c) => c.code(),
            Rejection::Unavailable => "service_unavailable",
        }
    }
}

/// A session that passed its check, as handlers and identity headers need it.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub id_hash: TokenHash,
    /// Who and how: shared with the cache entry, so a check copies no strings.
    pub identity: Arc<Identity>,
    pub deadlines: Deadlines,
}

impl std::ops::Deref for ActiveSession {
    type Target = Identity;
    fn deref(&self) -> &Identity {
        &self.identity
    }
}

/// The unchanging facts of a session.
#[derive(Debug)]
pub struct Identity {
    pub handle: String,
    pub user_id: String,
    pub email: String,
    pub auth_time: Timestamp,
    pub methods: Vec<AuthMethod>,
    /// `methods` as their codes joined by commas (`pwd,totp`), as the identity headers of a
    /// forward-auth answer carry them: joined once per session, not once per check.
    pub method_codes: String,
    pub remembered: bool,
    /// The remember-me family this session was restored from.
    pub remember_handle: Option<String>,
    /// The identity headers of a forward-auth answer for this session, built by the first such
    /// answer and cloned (a reference count each) by the next ones, which are the hot path.
    /// Empty for sessions that never pass through forward-auth.
    pub answer_headers: std::sync::OnceLock<AnswerHeaders>,
}

/// The values of a forward-auth answer's identity headers (`http::forward_auth`), as `Identity`
/// keeps them once built: slices of one buffer, so cloning them for an answer touches one
/// reference count.
#[derive(Debug, Clone)]
pub struct AnswerHeaders {
    pub user_id: HeaderValue,
    pub session: HeaderValue,
    pub methods: HeaderValue,
    pub auth_time: HeaderValue,
    pub email: HeaderValue,
}

impl Identity {
    fn of(record: &SessionRecord, email: &str) -> Self {
        // Parsed and written again, not copied: unknown codes in the stored text are dropped
        // from both alike.
        let methods = session::methods_from_str(&record.methods);
        Identity {
            handle: record.handle.clone(),
            user_id: record.user_id.clone(),
            email: email.to_string(),
            auth_time: record.auth_time,
            method_codes: session::methods_to_string(&methods),
            methods,
            remembered: record.remembered,
            remember_handle: record.remember_handle.clone(),
            answer_headers: std::sync::OnceLock::new(),
        }
    }
}

struct Cached {
    view: SessionView,
    identity: Arc<Identity>,
    /// Latest activity seen by this process (may be ahead of the database).
    last_active: AtomicI64,
    /// Activity as last written to the database.
    stored_active: AtomicI64,
    last_ip: Mutex<Address>,
    /// Whether this process already recorded the session's expiry (one event, not one per request).
    expiry_recorded: AtomicBool,
}

/// A client address as the session check compares it: parsed, so that the hot path compares two
/// addresses without formatting either; written out as text only when it is recorded. An address
/// that is not an IP address (`"unknown"`: no peer, an untrusted forwarding header) is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address(pub Option<std::net::IpAddr>);

impl Address {
    pub fn parse(text: &str) -> Address {
        Address(text.parse().ok())
    }

    fn text(self) -> String {
        match self.0 {
            Some(ip) => ip.to_string(),
            None => "unknown".into(),
        }
    }
}

impl Cached {
    fn new(view: SessionView) -> Self {
        let active = view.session.times.last_active_at.0;
        Cached {
            identity: Arc::new(Identity::of(&view.session, &view.email)),
            last_ip: Mutex::new(Address::parse(&view.session.last_ip)),
            view,
            last_active: AtomicI64::new(active),
            stored_active: AtomicI64::new(active),
            expiry_recorded: AtomicBool::new(false),
        }
    }
}

#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
    cache: Cache<TokenHash, Arc<Cached>>,
    epoch: AtomicU64,
    feed_seq: AtomicI64,
    audit: Audit,
    metrics: Arc<Metrics>,
    /// Activity waiting to be written, and whether a flush is already scheduled.
    pending_touches: Mutex<Vec<SessionTouch>>,
    flush_scheduled: AtomicBool,
    /// `session_checks{outcome="valid"}`, resolved once: the hot path increments it directly
    /// instead of looking the label set up on every check.
    valid_checks: prometheus_client::metrics::counter::Counter,
}

/// How long activity writes gather before one batch writes them all. Measured: writing each
/// session's touch on its own (a task, a connection, a commit each) stalled the single worker of
/// a one-core server for tens of milliseconds at a time under load (docs/benchmarks.md); a batch
/// every half second costs a statement per 100 sessions. A crash loses at most this much activity, on
/// top of what `touch_interval` coalesces anyway.
const TOUCH_FLUSH_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

impl Sessions {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
        cache_capacity: u64,
        audit: Audit,
        metrics: Arc<Metrics>,
    ) -> Self {
        // quick_cache rather than moka (the workspace's other cache, which needs a TTL): a hit is
        // a shard read lock and an atomic bit, where moka records each read for its eviction
        // bookkeeping. Measured (docs/benchmarks.md): 860 instructions less per cached check,
        // 4 MiB less resident with the cache full, a third more checks per second when most miss.
        // Its `retain` also removes a user's sessions at once, where moka's
        // `invalidate_entries_if` only filters them on read until a background scan.
        let cache = Cache::new(usize::try_from(cache_capacity).unwrap_or(usize::MAX));
        let valid_checks = metrics
            .session_checks
            .get_or_create(&Outcome { outcome: "valid" })
            .clone();
        Sessions {
            inner: Arc::new(Inner {
                store,
                clock,
                policy,
                cache,
                epoch: AtomicU64::new(0),
                feed_seq: AtomicI64::new(0),
                audit,
                pending_touches: Mutex::new(Vec::new()),
                flush_scheduled: AtomicBool::new(false),
                valid_checks,
                metrics,
            }),
        }
    }

    pub fn policy(&self) -> &SessionPolicy {
        &self.inner.policy
    }

    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Start a session for `user` (a fresh random id every time: no fixation, SEC-4/SEC-5).
    pub async fn create(
        &self,
        user: &User,
        methods: &[AuthMethod],
        client: &ClientInfo,
    ) -> Result<(SecretToken, ActiveSession), StoreError> {
        let token = SecretToken::generate();
        let now = self.inner.clock.now();
        let record = self.record(&token, &user.id, methods, now, None, client);
        self.inner.store.insert_session(&record).await?;
        Ok((token, self.started(&record, &user.email)))
    }

    /// The row for a new session with `token`, not yet stored: remember-me restores store it in
    /// the same transaction as the rotation. `auth_time` is when the person last authenticated;
    /// `remember_handle` marks a session restored from that family (SEC-30).
    pub fn record(
        &self,
        token: &SecretToken,
        user_id: &str,
        methods: &[AuthMethod],
        auth_time: Timestamp,
        remember_handle: Option<&str>,
        client: &ClientInfo,
    ) -> SessionRecord {
        let now = self.inner.clock.now();
        SessionRecord {
            id_hash: token.hash(),
            handle: public_id("ses"),
            user_id: user_id.to_string(),
            times: SessionTimes::begin(&self.inner.policy, now),
            auth_time,
            methods: session::methods_to_string(methods),
            remembered: remember_handle.is_some(),
            ip: client.ip.clone(),
            last_ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            remember_handle: remember_handle.map(str::to_string),
        }
    }

    /// Count a stored session as started and describe it.
    pub fn started(&self, record: &SessionRecord, email: &str) -> ActiveSession {
        let i = &self.inner;
        i.metrics.sessions_created.inc();
        let now = i.clock.now();
        // A session that begins now is valid now: its deadlines are in the future.
        let deadlines = session::check(&i.policy, &record.times, now).unwrap_or(Deadlines {
            idle_expires_at: now,
            expires_at: now,
        });
        ActiveSession {
            id_hash: record.id_hash,
            identity: Arc::new(Identity::of(record, email)),
            deadlines,
        }
    }

    /// The hot path: is the presented cookie value a live session?
    pub async fn authenticate(
        &self,
        cookie: &str,
        activity: Activity,
        ip: &str,
    ) -> Result<ActiveSession, Rejection> {
        let result = self
            .authenticate_inner(cookie, activity, Address::parse(ip))
            .await;
        let outcome = match &result {
            Ok(_) => "valid",
            Err(r) => r.code(),
        };
        self.inner
            .metrics
            .session_checks
            .get_or_create(&Outcome { outcome })
            .inc();
        result
    }

    async fn authenticate_inner(
        &self,
        cookie: &str,
        activity: Activity,
        ip: Address,
    ) -> Result<ActiveSession, Rejection> {
        let i = &self.inner;
        let token = SecretToken::parse(cookie).ok_or(Rejection::Invalid)?;
        let hash = token.hash();
        let entry = match i.cache.get(&hash) {
            Some(e) => e,
            None => self.load(hash).await?,
        };
        if entry.view.user_disabled {
            return Err(Rejection::Revoked);
        }
        let now = i.clock.now();
        if let Err(cause) = self.validity(&entry, now) {
            self.record_expiry(&entry, cause, now).await;
            return Err(Rejection::Expired(cause));
        }
        self.admit(hash, &entry, activity, ip, now).await
    }

    /// The fast path's check: answers only for a session that is in the cache, enabled and
    /// valid, with exactly the effects of [`Sessions::authenticate`] (activity, address, coalesced
    /// write, count). Anything else — a miss, an expiry, a malformed cookie — returns `None`
    /// without side effects, and the caller takes the full path, which records it. Returns the
    /// time the check was made at too, for the caller's policy decision: one clock read a check.
    pub async fn authenticate_cached(
        &self,
        cookie: &str,
        activity: Activity,
        ip: Option<std::net::IpAddr>,
    ) -> Option<(ActiveSession, Timestamp)> {
        let i = &self.inner;
        let hash = SecretToken::parse(cookie)?.hash();
        let entry = i.cache.get(&hash)?;
        let now = i.clock.now();
        if entry.view.user_disabled || self.validity(&entry, now).is_err() {
            return None;
        }
        let session = self
            .admit(hash, &entry, activity, Address(ip), now)
            .await
            .ok()?;
        i.valid_checks.inc();
        Some((session, now))
    }

    /// Is the cached session valid at `now`, given its latest activity in this process?
    fn validity(&self, entry: &Cached, now: Timestamp) -> Result<Deadlines, ExpiryCause> {
        let mut times = entry.view.session.times;
        times.last_active_at = Timestamp(entry.last_active.load(Ordering::Acquire));
        session::check(&self.inner.policy, &times, now)
    }

    /// Count the request's activity on a valid session and describe it.
    async fn admit(
        &self,
        hash: TokenHash,
        entry: &Cached,
        activity: Activity,
        ip: Address,
        now: Timestamp,
    ) -> Result<ActiveSession, Rejection> {
        let i = &self.inner;
        let mut times = entry.view.session.times;
        times.last_active_at = Timestamp(entry.last_active.load(Ordering::Acquire));
        let active = session::after_request(&times, activity, now);
        entry.last_active.fetch_max(active.0, Ordering::AcqRel);
        times.last_active_at = active;
        let deadlines = session::check(&i.policy, &times, now).map_err(Rejection::Expired)?;
        let moved = self.note_address(entry, ip, now).await;
        self.touch_if_due(hash, entry, active, ip, moved);
        Ok(ActiveSession {
            id_hash: hash,
            identity: entry.identity.clone(),
            deadlines,
        })
    }

    async fn load(&self, hash: TokenHash) -> Result<Arc<Cached>, Rejection> {
        let i = &self.inner;
        i.metrics.session_cache_misses.inc();
        let epoch = i.epoch.load(Ordering::SeqCst);
        let view = match i.store.session_by_hash(&hash).await {
            Ok(Some(view)) => view,
            Ok(None) => {
                return Err(match i.store.is_revoked(&hash).await {
                    Ok(true) => Rejection::Revoked,
                    Ok(false) => Rejection::Invalid,
                    Err(_) => Rejection::Unavailable,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "session lookup failed");
                return Err(Rejection::Unavailable);
            }
        };
        let entry = Arc::new(Cached::new(view));
        i.cache.insert(hash, entry.clone());
        if i.epoch.load(Ordering::SeqCst) != epoch {
            // A revocation ran while we read: what we inserted may be stale. This request may
            // still be answered (it began before the revocation finished); the next will re-read.
            i.cache.remove(&hash);
        }
        Ok(entry)
    }

    async fn record_expiry(&self, entry: &Cached, cause: ExpiryCause, now: Timestamp) {
        if entry.expiry_recorded.swap(true, Ordering::AcqRel) {
            return;
        }
        let i = &self.inner;
        i.metrics
            .sessions_expired
            .get_or_create(&Outcome {
                outcome: cause.code(),
            })
            .inc();
        let s = &entry.view.session;
        i.audit
            .record(
                EventKind::SessionExpired,
                now,
                Some(&s.user_id),
                Some(&s.handle),
                None,
                cause.code(),
            )
            .await;
    }

    /// Record a change of client address (never a sign-out: mobile and IPv6 users move).
    /// Returns whether the address changed.
    async fn note_address(&self, entry: &Cached, ip: Address, now: Timestamp) -> bool {
        let previous = {
            let mut last = entry.last_ip.lock().unwrap_or_else(|p| p.into_inner());
            if *last == ip {
                return false;
            }
            std::mem::replace(&mut *last, ip)
        };
        let previous = previous.text();
        let s = &entry.view.session;
        let client = ClientInfo {
            ip: ip.text(),
            user_agent: String::new(),
            browser: None,
        };
        let detail = format!("from {previous}");
        self.inner
            .audit
            .record(
                EventKind::AddressChanged,
                now,
                Some(&s.user_id),
                Some(&s.handle),
                Some(&client),
                &detail,
            )
            .await;
        true
    }

    /// Write activity if the last write is at least `touch_interval` old. Exactly one of the
    /// concurrent requests that find it due wins the compare-and-swap and writes.
    fn touch_if_due(
        &self,
        hash: TokenHash,
        entry: &Cached,
        active: Timestamp,
        ip: Address,
        force: bool,
    ) {
        let i = &self.inner;
        let stored = entry.stored_active.load(Ordering::Acquire);
        let due = session::touch_due(&i.policy, Timestamp(stored), active);
        if !(due || force) {
            return;
        }
        if entry
            .stored_active
            .compare_exchange(stored, active.0, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        i.metrics.session_touch_writes.inc();
        i.pending_touches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(SessionTouch {
                id_hash: hash,
                last_active_at: active,
                ip: ip.text(),
            });
        if !i.flush_scheduled.swap(true, Ordering::AcqRel) {
            let me = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(TOUCH_FLUSH_DELAY).await;
                me.flush_touches().await;
            });
        }
    }

    /// Write the gathered activity as one batch.
    pub async fn flush_touches(&self) {
        let i = &self.inner;
        // Cleared before draining: a touch that arrives meanwhile schedules the next flush.
        i.flush_scheduled.store(false, Ordering::Release);
        let batch =
            std::mem::take(&mut *i.pending_touches.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return;
        }
        if let Err(e) = i.store.touch_sessions(&batch).await {
            tracing::warn!(error = %e, sessions = batch.len(), "session activity not written");
        }
    }

    /// End one session (sign-out). Idempotent.
    pub async fn revoke(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let i = &self.inner;
        let existed = i.store.revoke_session(hash, i.clock.now()).await?;
        i.epoch.fetch_add(1, Ordering::SeqCst);
        i.cache.remove(hash);
        Ok(existed)
    }

    /// Sign-out: end the session on the server (R6), count it and record it.
    pub async fn sign_out(
        &self,
        session: &ActiveSession,
        client: &ClientInfo,
    ) -> Result<(), StoreError> {
        self.revoke(&session.id_hash).await?;
        let i = &self.inner;
        i.metrics.sessions_signed_out.inc();
        i.audit
            .record(
                EventKind::SignedOut,
                i.clock.now(),
                Some(&session.user_id),
                Some(&session.handle),
                Some(client),
                "",
            )
            .await;
        Ok(())
    }

    /// End every session of a user, optionally keeping one.
    pub async fn revoke_user(
        &self,
        user_id: &str,
        keep: Option<&TokenHash>,
    ) -> Result<u64, StoreError> {
        let i = &self.inner;
        let n = i
            .store
            .revoke_user_sessions(user_id, keep, i.clock.now())
            .await?;
        self.invalidate_user(user_id);
        Ok(n)
    }

    fn invalidate_user(&self, user_id: &str) {
        let i = &self.inner;
        i.epoch.fetch_add(1, Ordering::SeqCst);
        i.cache.retain(|_, v| v.view.session.user_id != user_id);
    }

    /// Start the revocation feed at its current end (called once at start).
    pub async fn init_feed(&self) -> Result<(), StoreError> {
        let seq = self.inner.store.last_revocation_seq().await?;
        self.inner.feed_seq.store(seq, Ordering::SeqCst);
        Ok(())
    }

    /// Apply revocations made since the last call, by any process. Returns how many.
    pub async fn apply_revocation_feed(&self) -> Result<usize, StoreError> {
        let i = &self.inner;
        let mut applied = 0;
        loop {
            let after = i.feed_seq.load(Ordering::SeqCst);
            let batch = i.store.revocations_after(after, 500).await?;
            let Some(last) = batch.last().map(|r| r.seq) else {
                break;
            };
            for r in &batch {
                if r.id_hash.is_none() && r.user_id.is_none() {
                    // "Everything" (operator revoke-all).
                    i.epoch.fetch_add(1, Ordering::SeqCst);
                    i.cache.clear();
                }
                if let Some(h) = &r.id_hash {
                    i.epoch.fetch_add(1, Ordering::SeqCst);
                    i.cache.remove(h);
                }
                if let Some(u) = &r.user_id {
                    self.invalidate_user(u);
                }
            }
            applied += batch.len();
            i.metrics.revocations_applied.inc_by(batch.len() as u64);
            i.feed_seq.store(last, Ordering::SeqCst);
            if batch.len() < 500 {
                break;
            }
        }
        Ok(applied)
    }

    /// Number of sessions held in the cache, for tests and diagnostics.
    pub fn cached_entries(&self) -> usize {
        self.inner.cache.len()
    }
}
