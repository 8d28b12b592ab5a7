//! Building and running the server: configuration in, a listening application out.
//!
//! [`Application::build`] opens the store, applies migrations, binds the listener (port 0 in
//! tests) and wires the services; [`Application::run`] serves until `shutdown` resolves, then
//! stops accepting, lets in-flight requests finish, and stops the background jobs.

use crate::account::Account;
use crate::audit::Audit;
use crate::config::Config;
use crate::courier::{
    Courier, CourierError, LogCourier, LogSms, SmsSender, SmtpCourier, WebhookSms,
};
use crate::http::client::PeerAddr;
use crate::http::cookies::CookieSettings;
use crate::http::csrf::CsrfTokens;
use crate::http::templates::Templates;
use crate::http::{self, AppState, Services};
use crate::metrics::Metrics;
use crate::passwords::{HashError, PasswordHasher};
use crate::remember::RememberMe;
use crate::secrets::SecretKey;
use crate::sessions::Sessions;
use crate::signin::SignIn;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;
use tsuzuki_core::clock::Clock;
use tsuzuki_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("password hashing: {0}")]
    Hash(#[from] HashError),
    #[error("messaging: {0}")]
    Messaging(#[from] CourierError),
}

pub struct Application {
    pub state: AppState,
    listener: TcpListener,
    addr: SocketAddr,
}

/// Create the data directory (0700) if needed.
pub fn ensure_data_dir(config: &Config) -> Result<(), StartError> {
    let path = &config.data_dir;
    let err = |source| StartError::DataDir {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(path).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

/// Open the store the configuration names (creating the data directory for SQLite).
pub async fn open_store(config: &Config) -> Result<Arc<dyn tsuzuki_store::Store>, StartError> {
    ensure_data_dir(config)?;
    Ok(tsuzuki_store::connect(&config.database_url, config.database_max_connections).await?)
}

/// The password hasher the configuration describes.
pub fn hasher(config: &Config) -> Result<PasswordHasher, HashError> {
    PasswordHasher::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
        config.hash_concurrency,
        config.hash_queue_timeout,
    )
}

impl Application {
    /// Build with the senders the configuration names: SMTP for `[mail]`, the webhook for
    /// `[sms]`, log lines for what is not configured.
    pub async fn build(
        config: Config,
        clock: Arc<dyn Clock>,
        key: SecretKey,
    ) -> Result<Application, StartError> {
        let courier: Arc<dyn Courier> = match &config.mail {
            Some(mail) => Arc::new(SmtpCourier::new(mail)?),
            None => Arc::new(LogCourier),
        };
        Self::build_with(config, clock, key, courier).await
    }

    /// Build with this courier, and the SMS sender the configuration names.
    pub async fn build_with(
        config: Config,
        clock: Arc<dyn Clock>,
        key: SecretKey,
        courier: Arc<dyn Courier>,
    ) -> Result<Application, StartError> {
        let sms: Arc<dyn SmsSender> = match &config.sms {
            Some(sms) => Arc::new(WebhookSms::new(sms)?),
            None => Arc::new(LogSms),
        };
        Self::build_with_senders(config, clock, key, courier, sms).await
    }

    /// Build with these senders (tests pass an [`crate::courier::Outbox`] and an
    /// [`crate::courier::SmsOutbox`]).
    pub async fn build_with_senders(
        config: Config,
        clock: Arc<dyn Clock>,
        key: SecretKey,
        courier: Arc<dyn Courier>,
        sms: Arc<dyn SmsSender>,
    ) -> Result<Application, StartError> {
        let store = open_store(&config).await?;
        let hasher = hasher(&config)?;
        let metrics = Arc::new(Metrics::new(hasher.in_flight_gauge()));
        let audit = Audit::new(store.clone());
        let sessions = Sessions::new(
            store.clone(),
            clock.clone(),
            config.session,
            config.cache_capacity,
            audit.clone(),
            metrics.clone(),
        );
        sessions.init_feed().await?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let mut config = config;
        if config.listen.port() == 0 && config.public_url == "http://localhost:0" {
            // The default public URL follows the port; with port 0 only the bound port is real.
            config.public_url = format!("http://localhost:{}", addr.port());
        }
        let history = crate::history::LoginHistory {
            store: store.clone(),
            clock: clock.clone(),
            audit: Audit::new(store.clone()),
            courier: courier.clone(),
            rules: config.flows.alerts,
            retention: config.flows.history_retention,
            public_url: config.public_url.clone(),
            not_me: crate::not_me::NotMeLinks::new(key.derive("not-me")),
        };
        let signin = SignIn {
            history: history.clone(),
            store: store.clone(),
            hasher,
            sessions: sessions.clone(),
            audit: audit.clone(),
            metrics: metrics.clone(),
            throttle_account: config.throttle_account,
            throttle_ip: config.throttle_ip,
            throttle_second_factor: config.throttle_second_factor,
        };
        let remember = RememberMe {
            store: store.clone(),
            sessions: sessions.clone(),
            clock,
            policy: config.remember,
            revocation: config.revocation.clone(),
            seal_key: key.derive("remember-seal"),
            audit,
            metrics: metrics.clone(),
            courier,
        };
        let account = Account {
            store: store.clone(),
            sessions: sessions.clone(),
            signin: signin.clone(),
            remember: remember.clone(),
            audit: Audit::new(store.clone()),
            courier: remember.courier.clone(),
            password_policy: config.password,
        };
        let flows = crate::flows::Flows {
            store: store.clone(),
            clock: remember.clock.clone(),
            config: Arc::new(config.flows.clone()),
            signin: signin.clone(),
            audit: Audit::new(store.clone()),
            metrics: metrics.clone(),
            courier: remember.courier.clone(),
            sms: sms.clone(),
            code_key: key.derive("otp-code"),
            recovery_key: key.derive("recovery-code"),
            seal_key: key.derive("factor-seal"),
        };
        let factors = crate::factors::Factors {
            store: store.clone(),
            flows: flows.clone(),
            remember: remember.clone(),
            audit: Audit::new(store.clone()),
        };
        let state = AppState::new(Services {
            flows,
            factors,
            history,
            drafts: crate::drafts::Drafts {
                store: store.clone(),
                clock: remember.clock.clone(),
                policy: config.drafts,
            },
            account,
            cookies: Arc::new(CookieSettings::new(
                &config.session_cookie_name,
                &config.remember_cookie_name,
                config.is_https(),
                config.proxy.cookie_domain.as_deref(),
            )),
            remember,
            csrf: CsrfTokens::new(key.derive("csrf")),
            templates: Arc::new(Templates::new()),
            config: Arc::new(config),
            store,
            sessions,
            signin,
            metrics,
            sms,
        });
        Ok(Application {
            state,
            listener,
            addr,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until `shutdown` resolves; then drain in-flight requests and return.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let jobs = spawn_jobs(&self.state, stop_rx);
        let router = http::router(self.state.clone());
        serve(
            self.listener,
            self.state.clone(),
            router,
            self.state.config.max_header_bytes,
            shutdown,
        )
        .await;
        let _ = stop_tx.send(true);
        for job in jobs {
            let _ = job.await;
        }
        // Activity gathered for the next batch is written before the process ends.
        self.state.sessions.flush_touches().await;
    }
}

/// The background jobs: the revocation feed (cache honesty across processes) and cleanup of
/// expired sessions, stale throttle counters and old feed entries (R9, SEC-81).
fn spawn_jobs(state: &AppState, stop: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    let feed = {
        let sessions = state.sessions.clone();
        let every = state.config.revocation_poll_interval;
        every_until_stopped(every, stop.clone(), move || {
            let sessions = sessions.clone();
            async move {
                if let Err(e) = sessions.apply_revocation_feed().await {
                    tracing::warn!(error = %e, "revocation feed not read");
                }
            }
        })
    };
    let cleanup = {
        let state = state.clone();
        let every = state.config.cleanup_interval;
        every_until_stopped(every, stop, move || {
            let state = state.clone();
            async move { cleanup_once(&state).await }
        })
    };
    vec![feed, cleanup]
}

/// One pass of the cleanup job.
pub async fn cleanup_once(state: &AppState) {
    let c = &state.config;
    let now = state.sessions.now();
    match crate::operator::cleanup(
        &*state.store,
        &c.session,
        c.expired_retention,
        &c.remember,
        now,
    )
    .await
    {
        Ok(ended) => {
            state
                .metrics
                .cleanup_deleted
                .inc_by(ended.sessions + ended.remembered);
            if ended.sessions + ended.remembered > 0 {
                tracing::info!(
                    sessions = ended.sessions,
                    remembered = ended.remembered,
                    "expired credentials deleted"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cleanup failed"),
    }

    // Sign-in records (S3, S7, S10): flows past their hard limit plus `flows.ended_retention`,
    // expired trusted devices, and login history older than `history.retention`.
    match crate::operator::cleanup_flows_and_trusted(&*state.store, c.flows.ended_retention, now)
        .await
    {
        Ok(done) => {
            state
                .metrics
                .cleanup_deleted
                .inc_by(done.flows + done.trusted_devices);
            if done.flows + done.trusted_devices > 0 {
                tracing::info!(
                    flows = done.flows,
                    trusted_devices = done.trusted_devices,
                    "ended flows and expired trusted devices deleted"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "flow and trusted-device cleanup failed"),
    }
    match state.history.prune().await {
        Ok(n) => {
            state.metrics.cleanup_deleted.inc_by(n);
            if n > 0 {
                tracing::info!(sign_ins = n, "old login history deleted");
            }
        }
        Err(e) => tracing::warn!(error = %e, "login history cleanup failed"),
    }
    // Drafts not saved again within `drafts.retention` (S5).
    match state.drafts.cleanup().await {
        Ok(n) => {
            state.metrics.cleanup_deleted.inc_by(n);
            if n > 0 {
                tracing::info!(drafts = n, "expired drafts deleted");
            }
        }
        Err(e) => tracing::warn!(error = %e, "draft cleanup failed"),
    }

    // The feed must outlive the slowest poller by far; an hour is ample for a sub-second poll.
    let _ = state
        .store
        .prune_revocations(
            now.minus(Duration::from_secs(3600))
                .min(now.minus(c.expired_retention)),
        )
        .await;
    let longest = c
        .throttle_account
        .window
        .max(c.throttle_ip.window)
        .max(c.throttle_account.max_delay)
        .max(c.throttle_ip.max_delay);
    let _ = state.store.prune_throttle(now.minus(longest)).await;
}

fn every_until_stopped<F, Fut>(
    every: Duration,
    mut stop: watch::Receiver<bool>,
    mut f: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => f().await,
                _ = stop.changed() => break,
            }
        }
    })
}

/// The connection loop: HTTP/1.1 with a cap on header size (hyper answers 431 beyond it) and a
/// header read timeout; graceful shutdown waits for in-flight requests, up to 30 s.
async fn serve(
    listener: TcpListener,
    state: AppState,
    router: Router,
    max_header_bytes: usize,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let state = state.clone();
                let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    let (router, state) = (router.clone(), state.clone());
                    async move {
                        // The hot path first: a cached, valid session on /auth/check (issue #2
                        // item 7); anything else goes through the router and its middleware.
                        if let Some(response) = http::forward_auth::fast_check(&state, &request, Some(peer.ip())).await {
                            return Ok(response);
                        }
                        request.extensions_mut().insert(PeerAddr(peer));
                        router.oneshot(request.map(axum::body::Body::new)).await
                    }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .max_buf_size(max_header_bytes.max(8192))
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                let watched = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = watched.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within 30 s");
    }
}
