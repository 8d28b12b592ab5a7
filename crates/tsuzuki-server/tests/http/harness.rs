//! The test harness: a real tsuzuki server on an ephemeral port, a fresh database of the chosen
//! kind, a manual clock, and a plain HTTP client (cookies handled explicitly, redirects off).

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use tsuzuki_core::clock::{ManualClock, Timestamp};
use tsuzuki_server::app::Application;
use tsuzuki_server::config::load_from;
use tsuzuki_server::courier::{Courier, Outbox, SmsOutbox, SmsSender};
use tsuzuki_server::http::AppState;
use tsuzuki_server::secrets::SecretKey;
use tsuzuki_store::testing::{Kind, TempDir, TestDatabase};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub http: reqwest::Client,
    /// Messages the server sent (security notifications).
    pub outbox: Outbox,
    /// Text messages the server sent (when no SMS webhook is configured).
    pub sms: SmsOutbox,
    db: Option<TestDatabase>,
    /// The full configuration text, kept for [`TestApp::restart`].
    toml: String,
    dir: TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Start a server on `kind` with extra TOML configuration. `None` when PostgreSQL is absent and
/// not required (the store's test helper has already said so loudly).
pub async fn spawn_app(kind: Kind, extra_toml: &str) -> Option<TestApp> {
    let db = TestDatabase::create(kind).await?;
    let dir = TempDir::new("app");
    // Top-level keys of `extra_toml` (those before its first table) must precede the tables.
    let split = extra_toml
        .lines()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(extra_toml.lines().count());
    let lines: Vec<&str> = extra_toml.lines().collect();
    let (top, mut tables) = (lines[..split].join("\n"), lines[split..].join("\n"));
    // A short revocation poll for every test, in the test's own `[cache]` table if it has one
    // (a table cannot be opened twice).
    const POLL: &str = "revocation_poll_interval = \"20ms\"";
    if tables.contains("[cache]") {
        tables = tables.replacen("[cache]", &format!("[cache]\n{POLL}"), 1);
    } else {
        tables = format!("[cache]\n{POLL}\n{tables}");
    }
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n{top}\n[database]\nurl = {:?}\n{tables}",
        dir.0.display().to_string(),
        db.url,
    );
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000)));
    let outbox = Outbox::default();
    let sms = SmsOutbox::default();
    let (state, base, stop, server) = start(&toml, &dir, &clock, &outbox, &sms).await;
    Some(TestApp {
        base,
        clock,
        state,
        http: client(),
        outbox,
        sms,
        db: Some(db),
        toml,
        dir,
        stop: Some(stop),
        server: Some(server),
    })
}

/// A client like the harness's: no redirects followed, no cookie store.
pub fn client() -> reqwest::Client {
    tsuzuki_server::courier::sms::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A client with a cookie jar: a browser, for tests that follow what a person's browser keeps.
pub fn browser() -> reqwest::Client {
    tsuzuki_server::courier::sms::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

type Started = (
    AppState,
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
);

/// Build and run a server. The key lives in the data directory (as in production), so a
/// restarted server can still check the codes and flows of the one before.
async fn start(
    toml: &str,
    dir: &TempDir,
    clock: &Arc<ManualClock>,
    outbox: &Outbox,
    sms: &SmsOutbox,
) -> Started {
    let config = load_from(Some(toml), std::iter::empty())
        .unwrap_or_else(|e| panic!("test config invalid: {e:?}"));
    let key = SecretKey::load_or_create(&dir.0).expect("secret key");
    let courier: Arc<dyn Courier> = Arc::new(outbox.clone());
    let app = if config.sms.is_some() || config.mail.is_some() {
        // Real senders as configured (SMTP, webhook); the outboxes stay empty.
        let courier = match &config.mail {
            Some(mail) => Arc::new(tsuzuki_server::courier::SmtpCourier::new(mail).unwrap()),
            None => courier,
        };
        Application::build_with(config, clock.clone(), key, courier).await
    } else {
        let sms: Arc<dyn SmsSender> = Arc::new(sms.clone());
        Application::build_with_senders(config, clock.clone(), key, courier, sms).await
    }
    .expect("build app");
    let base = format!("http://{}", app.addr());
    let state = app.state.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    (state, base, stop, server)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The PostgreSQL database name of this test, if it runs on PostgreSQL.
    pub fn database_name(&self) -> Option<String> {
        let db = self.db.as_ref()?;
        db.url
            .starts_with("postgres")
            .then(|| db.url.rsplit('/').next().unwrap().to_string())
    }

    pub fn cookie_name(&self) -> String {
        self.state.cookies.session.clone()
    }

    /// An account with [`PASSWORD`], made as `tsuzuki user add` and the admin API make one.
    pub async fn create_user(&self, email: &str) -> String {
        self.state
            .create_user(email, PASSWORD.into(), self.clock.now_ts())
            .await
            .unwrap_or_else(|e| panic!("create {email}: {e}"))
            .id
    }

    /// POST /api/sign-in; returns the response and the session cookie value it set, if any.
    pub async fn api_sign_in(&self, email: &str, password: &str) -> (Response, Option<String>) {
        let r = self
            .http
            .post(self.url("/api/sign-in"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        let cookie = set_cookie_value(r.headers(), &self.cookie_name());
        (r, cookie)
    }

    /// Sign in and return the session cookie value (panics if sign-in fails).
    pub async fn signed_in(&self, email: &str) -> String {
        let (r, cookie) = self.api_sign_in(email, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK);
        cookie.expect("a session cookie")
    }

    /// POST an HTML form with the given Cookie header.
    pub async fn post_form(
        &self,
        path: &str,
        cookie: impl AsRef<str>,
        fields: &[(&str, &str)],
    ) -> Response {
        self.http
            .post(self.url(path))
            .header("cookie", cookie.as_ref())
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> Response {
        self.http
            .get(self.url(path))
            .header("cookie", format!("{}={cookie}", self.cookie_name()))
            .send()
            .await
            .unwrap()
    }

    pub async fn check(&self, cookie: &str) -> Response {
        self.get_with_cookie("/auth/check", cookie).await
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// Stop the server and start a new one on the same database, key and clock (a restart).
    /// The address changes: clients must use [`TestApp::url`] afresh.
    pub async fn restart(&mut self) {
        self.stop_server().await;
        let (state, base, stop, server) =
            start(&self.toml, &self.dir, &self.clock, &self.outbox, &self.sms).await;
        self.state = state;
        self.base = base;
        self.stop = Some(stop);
        self.server = Some(server);
    }

    async fn stop_server(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
        }
    }

    /// Stop the server and drop the database.
    pub async fn finish(mut self) {
        self.stop_server().await;
        if let Some(db) = self.db.take() {
            db.drop_database().await;
        }
    }
}

trait NowTs {
    fn now_ts(&self) -> Timestamp;
}

impl NowTs for ManualClock {
    fn now_ts(&self) -> Timestamp {
        tsuzuki_core::clock::Clock::now(self)
    }
}

/// The value a response's Set-Cookie gives cookie `name` (empty string for a deletion).
pub fn set_cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    set_cookie_line(headers, name).map(|line| {
        line.split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string()
    })
}

/// The whole Set-Cookie line for cookie `name`.
pub fn set_cookie_line(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v: &HeaderValue| v.to_str().ok())
        .find(|l| l.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// The `error` object of a JSON error body, checked for the fields every error must carry.
pub async fn error_body(r: Response) -> serde_json::Value {
    let body: serde_json::Value = r.json().await.expect("error bodies are JSON");
    let e = body["error"].clone();
    assert!(e["code"].is_string(), "{body}");
    assert!(
        e["messages"]["en"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        e["messages"]["ja"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        e["reference_id"].as_str().is_some_and(|m| m.len() >= 8),
        "{body}"
    );
    e
}

/// Poll `f` until it returns true, for at most `limit`.
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

/// POST JSON from `client` (a browser keeps its own cookies).
pub async fn post_json(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    body: serde_json::Value,
) -> Response {
    client.post(app.url(path)).json(&body).send().await.unwrap()
}

/// The stable `error.code` of a JSON error answer ("" if there is none).
pub async fn error_code(r: Response) -> String {
    let body: serde_json::Value = r.json().await.unwrap();
    body["error"]["code"].as_str().unwrap_or("").to_string()
}

/// The `csrf` field of a page's first form.
/// The page at `url` as `client` gets it (a GET, its body as text).
pub async fn page_html(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// A form field's value as the browser would send it (the template's HTML escapes decoded).
pub fn form_field(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field")
        .to_string()
}

/// The authenticator code of `secret` at the app's clock, `offset` time steps away.
pub fn totp_now(app: &TestApp, secret: &tsuzuki_core::totp::TotpSecret, offset: i64) -> String {
    use tsuzuki_core::totp;
    let p = totp::TotpPolicy::default();
    let step = totp::step_of(tsuzuki_core::clock::Clock::now(&*app.clock), &p);
    totp::code_at(secret, step + offset, &p)
}

/// A browser (cookie jar) signed in with the password; the account must need no second factor.
pub async fn signed_in_browser(app: &TestApp, email: &str, remember: bool) -> reqwest::Client {
    let b = browser();
    let r = post_json(
        app,
        &b,
        "/api/sign-in",
        serde_json::json!({"email": email, "password": PASSWORD, "remember": remember}),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "signed in with the password alone"
    );
    b
}
