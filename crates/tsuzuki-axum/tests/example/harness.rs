//! A real tsuzuki server in-process on an ephemeral port (SQLite, manual clock; the spawn logic
//! of crates/tsuzuki-server/tests/http/harness.rs, trimmed), the example app on another, and
//! browsers: reqwest clients with a readable cookie jar and redirects off.

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Response, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tsuzuki_axum::Tsuzuki;
use tsuzuki_core::clock::{Clock, ManualClock, Timestamp};
use tsuzuki_server::app::Application;
use tsuzuki_server::config::load_from;
use tsuzuki_server::courier::{Courier, Outbox};
use tsuzuki_server::http::AppState;
use tsuzuki_server::secrets::SecretKey;
use tsuzuki_store::testing::{Kind, TempDir, TestDatabase};

pub const PASSWORD: &str = "correct horse battery staple";
pub const OPERATOR_TOKEN: &str = "test-operator-token-5a1f0e2b9c7d4e3f";
pub const SESSION_COOKIE: &str = "tsuzuki_session";
pub const REMEMBER_COOKIE: &str = "tsuzuki_remember";
pub const HTML: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";

pub struct Tsz {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _db: TestDatabase,
    _dir: TempDir,
}

/// tsuzuki with its defaults (30 min idle timeout, 10 min re-auth window), the admin API on, and
/// 127.0.0.1 trusted as a proxy (the example app forwards the client's address from there). Its
/// public URL is on 127.0.0.1 like the app's, so that sign-in may return to the app (tsuzuki
/// allows absolute return URLs on its own host; the port is not part of that).
pub async fn spawn_tsuzuki() -> Tsz {
    let db = TestDatabase::create(Kind::Sqlite)
        .await
        .expect("SQLite is always there");
    let dir = TempDir::new("axum");
    let toml = format!(
        "listen = \"127.0.0.1:0\"\npublic_url = \"http://127.0.0.1\"\ndata_dir = {:?}\n[database]\nurl = {:?}\n\
         [cache]\nrevocation_poll_interval = \"20ms\"\n\
         [http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n\
         [admin]\ntoken_sha256 = {:?}\n",
        dir.0.display().to_string(),
        db.url,
        tsuzuki_server::http::admin::token_digest(OPERATOR_TOKEN),
    );
    let config = load_from(Some(&toml), std::iter::empty())
        .unwrap_or_else(|e| panic!("test config invalid: {e:?}"));
    let key = SecretKey::load_or_create(&dir.0).expect("secret key");
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000)));
    let courier: Arc<dyn Courier> = Arc::new(Outbox::default());
    let app = Application::build_with(config, clock.clone(), key, courier)
        .await
        .expect("build tsuzuki");
    let base = format!("http://{}", app.addr());
    let state = app.state.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    Tsz {
        base,
        clock,
        state,
        stop: Some(stop),
        server: Some(server),
        _db: db,
        _dir: dir,
    }
}

impl Tsz {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An account with [`PASSWORD`], made as `tsuzuki user add` and the admin API make one.
    pub async fn create_user(&self, email: &str) -> String {
        self.state
            .create_user(email, PASSWORD.into(), self.clock.now())
            .await
            .unwrap_or_else(|e| panic!("create {email}: {e}"))
            .id
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// Stop the server (tsuzuki is down from now on).
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(30), server)
                .await
                .expect("tsuzuki stops")
                .unwrap();
        }
    }

    /// POST /api/admin/revoke as the operator.
    pub async fn operator_revoke(&self, body: serde_json::Value) -> Response {
        client()
            .post(self.url("/api/admin/revoke"))
            .bearer_auth(OPERATOR_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// The example app, serving [`crate::site::router`] with connect info as `examples/app.rs` does.
pub struct App {
    pub base: String,
    pub tsuzuki: Tsuzuki,
    task: tokio::task::JoinHandle<()>,
}

pub async fn spawn_example(tsz: &Tsz, cache_ttl: Duration) -> App {
    spawn_example_with(&tsz.base, cache_ttl).await
}

pub async fn spawn_example_with(tsuzuki_url: &str, cache_ttl: Duration) -> App {
    spawn_example_timing(tsuzuki_url, cache_ttl, Duration::from_secs(2)).await
}

pub async fn spawn_example_timing(
    tsuzuki_url: &str,
    cache_ttl: Duration,
    timeout: Duration,
) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tsuzuki = Tsuzuki::builder()
        .tsuzuki_url(tsuzuki_url)
        .app_url(format!("http://{addr}"))
        .cache_ttl(cache_ttl)
        .timeout(timeout)
        .build()
        .unwrap();
    let router = crate::site::router(&tsuzuki);
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    App {
        base: format!("http://{addr}"),
        tsuzuki,
        task,
    }
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A plain client: no cookie jar, no redirects.
pub fn client() -> reqwest::Client {
    // The workspace's reqwest has `rustls-no-provider` (for the server's SMS webhook).
    tsuzuki_server::courier::sms::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A browser: a cookie jar the test can read, no redirects followed. tsuzuki and the app are
/// both on 127.0.0.1, and cookies do not isolate by port, so the jar sends tsuzuki's cookies to
/// the app as a browser would on a shared domain.
pub struct Browser {
    pub http: reqwest::Client,
    jar: Arc<Jar>,
}

impl Browser {
    pub fn new() -> Browser {
        tsuzuki_server::courier::sms::install_crypto_provider();
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { http, jar }
    }

    /// Sign in on tsuzuki with the password (the account has no second factor).
    pub async fn sign_in(tsz: &Tsz, email: &str, remember: bool) -> Browser {
        let b = Browser::new();
        let r = b
            .post_json(
                &tsz.url("/api/sign-in"),
                serde_json::json!({"email": email, "password": PASSWORD, "remember": remember}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "signed in");
        assert!(b.cookie(tsz, SESSION_COOKIE).is_some());
        b
    }

    pub async fn post_json(&self, url: &str, body: serde_json::Value) -> Response {
        self.http.post(url).json(&body).send().await.unwrap()
    }

    /// A page navigation (Accept: text/html).
    pub async fn navigate(&self, url: &str) -> Response {
        self.http
            .get(url)
            .header("accept", HTML)
            .send()
            .await
            .unwrap()
    }

    /// A script's request (Accept: application/json).
    pub async fn fetch(&self, url: &str) -> Response {
        self.http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap()
    }

    /// The value of cookie `name` the jar would send to tsuzuki.
    pub fn cookie(&self, tsz: &Tsz, name: &str) -> Option<String> {
        let header = self.jar.cookies(&tsz.base.parse().unwrap())?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .filter_map(|p| p.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }
}

/// GET `url` with exactly this Cookie header, as a script would (a copied cookie, another tab).
pub async fn fetch_with_cookie(url: &str, cookie: &str) -> Response {
    client()
        .get(url)
        .header("accept", "application/json")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The `error.code` of a JSON error answer.
pub async fn error_code(r: Response) -> String {
    let body: serde_json::Value = r.json().await.expect("a JSON error");
    body["error"]["code"].as_str().unwrap_or("").to_string()
}

/// Poll `f` every 10 ms until it returns true, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
