//! The browser client script (issue #5 item 2) as served — content type, size, a CSP that lets
//! it run and nothing inline — and the demo application of `serve --demo` (item 4). What the
//! script does in a browser is tested in Chromium (tests/e2e/).

use crate::both_backends;
use crate::harness::*;
use reqwest::StatusCode;
use std::sync::Arc;
use tsuzuki_core::clock::{Clock, ManualClock, Timestamp};
use tsuzuki_core::token::public_id;
use tsuzuki_server::app::Application;
use tsuzuki_server::config::load_from;
use tsuzuki_server::courier::{Courier, Outbox, SmsOutbox, SmsSender};
use tsuzuki_server::http::AppState;
use tsuzuki_server::secrets::SecretKey;
use tsuzuki_store::NewUser;
use tsuzuki_store::testing::{Kind, TempDir, TestDatabase};

const SCRIPT: &str = include_str!("../../static/tsuzuki-client.js");

both_backends!(
    the_client_script_is_served_small_and_cached,
    the_client_strings_come_from_the_catalogues,
    pages_allow_own_scripts_and_nothing_inline,
    the_demo_page_needs_a_session_and_autosaves,
    the_demo_is_off_without_demo_mode,
    the_demo_submission_checks_csrf_and_deletes_the_draft,
);

/// The gzip -9 size of `bytes`, or `None` when no `gzip` program is installed.
fn gzip_size(bytes: &[u8]) -> Option<usize> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = match Command::new("gzip")
        .arg("-9c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("TSUZUKI_REQUIRE_TOOLS").is_none(),
                "gzip is required: {e}"
            );
            eprintln!("NOTICE: gzip not found ({e}); the script's compressed size is not checked");
            return None;
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    Some(out.stdout.len())
}

async fn the_client_script_is_served_small_and_cached(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let r = app
        .http
        .get(app.url("/static/tsuzuki-client.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(h["cache-control"], "public, max-age=3600");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let body = r.text().await.unwrap();
    assert_eq!(body, SCRIPT, "the file in static/ is what is served");
    // Issue #5: under 15 KB gzipped.
    if let Some(size) = gzip_size(body.as_bytes()) {
        assert!(
            size < 15 * 1024,
            "tsuzuki-client.js is {size} bytes gzipped"
        );
    }
    // Nothing the CSP would refuse: no eval, no inline styles or handlers, no HTML strings.
    for banned in [
        "eval(",
        "new Function",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        ".style.",
        "setAttribute('style'",
        "'onclick'",
    ] {
        assert!(!body.contains(banned), "the script uses {banned}");
    }
    // The endpoints it relies on (its strings come from the catalogues: the next test).
    for needle in [
        "/static/tsuzuki-client-messages.json?lang=",
        "BroadcastChannel('tsuzuki')",
        "/api/session/extend",
        "X-Tsuzuki-Background",
        "/api/drafts/",
        "/api/flows/",
    ] {
        assert!(body.contains(needle), "{needle} missing");
    }
    app.finish().await;
}

/// Issue #5 item 1: the script carries no text of its own; it reads it, per language, from
/// `/static/tsuzuki-client-messages.json`, built from `locales/*/client.ftl`.
async fn the_client_strings_come_from_the_catalogues(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    let get = |lang: &'static str| {
        let url = app.url(&format!("/static/tsuzuki-client-messages.json?lang={lang}"));
        let http = app.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(
                r.headers()["content-type"],
                "application/json; charset=utf-8"
            );
            assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let (ja, en, other) = (get("ja").await, get("en").await, get("xx").await);
    assert_eq!(ja["lang"], "ja");
    assert_eq!(other, en, "an unknown language gets English");
    assert_eq!(
        ja["messages"]["warn"],
        "もうすぐセッションが切れます。保存しますか?"
    );
    assert_eq!(
        en["messages"]["warn"],
        "Your session is about to end. Save your work?"
    );
    assert_eq!(
        en["messages"]["left"], "Time left: {time}",
        "placeholders for the script"
    );
    let (ja, en) = (
        ja["messages"].as_object().unwrap(),
        en["messages"].as_object().unwrap(),
    );
    assert_eq!(ja.keys().collect::<Vec<_>>(), en.keys().collect::<Vec<_>>());
    // Every key the script asks for, `t('key')` or `L('key')`, is there.
    let mut asked = Vec::new();
    for call in ["t('", "L('"] {
        for (i, _) in SCRIPT.match_indices(call) {
            // A call of t or L itself, not opt('…') or the like.
            if SCRIPT[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let rest = &SCRIPT[i + call.len()..];
            asked.push(rest.split('\'').next().unwrap().to_string());
        }
    }
    assert!(asked.len() > 20, "{asked:?}");
    for key in &asked {
        if key.ends_with('-') {
            // t('method-' + x): one per method.
            for m in ["totp", "email", "sms", "recovery"] {
                assert!(en.contains_key(&format!("{key}{m}")), "{key}{m}");
            }
        } else {
            assert!(en.contains_key(key.as_str()), "the script asks for {key}");
        }
    }
    for (key, text) in ja {
        assert!(
            !text.as_str().unwrap().is_empty() && text != &en[key],
            "{key}"
        );
    }
    // And holds no sentence of its own: nothing Japanese, no English sentence in a literal.
    assert!(
        !SCRIPT
            .chars()
            .any(|c| ('\u{3040}'..='\u{9fff}').contains(&c)),
        "Japanese text in tsuzuki-client.js"
    );
    // Comments first (they hold apostrophes): /* … */ blocks, and // after a space or at a
    // line's start (not the // inside 'a://b', which the script does not have anyway).
    let mut code = String::new();
    for (n, block) in SCRIPT.split("/*").enumerate() {
        code.push_str(if n == 0 {
            block
        } else {
            block.split_once("*/").map_or("", |b| b.1)
        });
    }
    let code: String = code
        .lines()
        .map(|l| {
            match l
                .find(" //")
                .or(l.trim_start().starts_with("//").then_some(0))
            {
                Some(i) => &l[..i],
                None => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let literals: Vec<&str> = code.split('\'').skip(1).step_by(2).collect();
    assert!(
        literals.len() > 200,
        "{} literals: the split found them",
        literals.len()
    );
    assert!(literals.contains(&"tsuzuki:msg"), "the split stays in step");
    for literal in literals {
        let words = literal.split_whitespace().count();
        assert!(
            words < 4 || !literal.ends_with(['.', '?', '!']),
            "an English sentence in tsuzuki-client.js: {literal}"
        );
    }
    app.finish().await;
}

async fn pages_allow_own_scripts_and_nothing_inline(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    for path in ["/sign-in", "/static/tsuzuki-client.js", "/no-such-page"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
        for expected in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
        ] {
            assert!(
                directives.contains(&expected),
                "{path}: {expected} in {csp}"
            );
        }
        for banned in ["'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:"] {
            assert!(!csp.contains(banned), "{path}: {banned} in {csp}");
        }
    }
    app.finish().await;
}

/// A server like the harness's, in demo mode (`serve --demo` sets `Config::demo`).
struct DemoApp {
    base: String,
    state: AppState,
    clock: Arc<ManualClock>,
    http: reqwest::Client,
    db: Option<TestDatabase>,
    _dir: TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl DemoApp {
    async fn spawn(kind: Kind) -> Option<DemoApp> {
        let db = TestDatabase::create(kind).await?;
        let dir = TempDir::new("demo");
        let toml = format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n[database]\nurl = {:?}\n",
            dir.0.display().to_string(),
            db.url,
        );
        let mut config = load_from(Some(&toml), std::iter::empty()).unwrap();
        config.demo = true;
        let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000)));
        let key = SecretKey::load_or_create(&dir.0).unwrap();
        let courier: Arc<dyn Courier> = Arc::new(Outbox::default());
        let sms: Arc<dyn SmsSender> = Arc::new(SmsOutbox::default());
        let app = Application::build_with_senders(config, clock.clone(), key, courier, sms)
            .await
            .expect("build app");
        let base = format!("http://{}", app.addr());
        let state = app.state.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        Some(DemoApp {
            base,
            state,
            clock,
            http: client(),
            db: Some(db),
            _dir: dir,
            stop: Some(stop),
            server: Some(server),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn cookie(&self, value: &str) -> String {
        format!("{}={value}", self.state.cookies.session)
    }

    /// A new account, signed in; returns the session cookie value.
    async fn signed_in(&self, email: &str) -> String {
        let hash = self
            .state
            .signin
            .hasher
            .hash(PASSWORD.into())
            .await
            .unwrap();
        self.state
            .store
            .create_user(&NewUser {
                id: public_id("usr"),
                email: email.into(),
                password_hash: hash,
                now: self.clock.now(),
            })
            .await
            .unwrap();
        let r = self
            .http
            .post(self.url("/api/sign-in"))
            .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        set_cookie_value(r.headers(), &self.state.cookies.session).expect("a session cookie")
    }

    async fn get(&self, path: &str, session: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(s) = session {
            req = req.header("cookie", self.cookie(s));
        }
        req.send().await.unwrap()
    }

    async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(db) = self.db.take() {
            db.drop_database().await;
        }
    }
}

async fn the_demo_page_needs_a_session_and_autosaves(kind: Kind) {
    let Some(app) = DemoApp::spawn(kind).await else {
        return;
    };
    // Signed out: to the sign-in page, which comes back here.
    let r = app.get("/demo/inquiry", None).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, "/sign-in?return_to=/demo/inquiry");

    let session = app.signed_in("demo@example.com").await;
    for (lang, title) in [("en", "Inquiry (demo)"), ("ja", "お問い合わせ(デモ)")] {
        let r = app
            .http
            .get(app.url("/demo/inquiry"))
            .header("cookie", app.cookie(&session))
            .header("accept-language", lang)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!("<h1>{title}</h1>")), "{lang}");
        for needle in [
            "data-tsuzuki-autosave=\"demo-inquiry\"",
            "<script src=\"/static/tsuzuki-client.js\" defer></script>",
            "action=\"/demo/inquiry\"",
            "name=\"name\"",
            "name=\"email\"",
            "name=\"order\"",
            "<select id=\"demo-category\" name=\"category\"",
            "<textarea id=\"demo-message\" name=\"message\"",
            "name=\"consent\" type=\"checkbox\"",
        ] {
            assert!(html.contains(needle), "{lang}: {needle} missing");
        }
        assert!(!html.contains(" style="), "no inline styles");
        assert!(!csrf_of(&html).is_empty());
    }
    // The account page links the demo in demo mode.
    let html = app
        .get("/account", Some(&session))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("href=\"/demo/inquiry\""), "{html}");
    app.finish().await;
}

async fn the_demo_is_off_without_demo_mode(kind: Kind) {
    let Some(app) = spawn_app(kind, "").await else {
        return;
    };
    app.create_user("a@example.com").await;
    let session = app.signed_in("a@example.com").await;
    let r = app.get_with_cookie("/demo/inquiry", &session).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let html = app
        .get_with_cookie("/account", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("/demo/inquiry"));
    app.finish().await;
}

async fn the_demo_submission_checks_csrf_and_deletes_the_draft(kind: Kind) {
    let Some(app) = DemoApp::spawn(kind).await else {
        return;
    };
    let session = app.signed_in("demo@example.com").await;
    let html = app
        .get("/demo/inquiry", Some(&session))
        .await
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&html);
    // What the browser client autosaves.
    let r = app
        .http
        .put(app.url("/api/drafts/demo-inquiry"))
        .header("cookie", app.cookie(&session))
        .json(&serde_json::json!({
            "content": {"fields": {"name": "Aiko", "message": "My parcel…"}},
            "page": "/demo/inquiry",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let post = |fields: Vec<(&'static str, String)>| {
        app.http
            .post(app.url("/demo/inquiry"))
            .header("cookie", app.cookie(&session))
            .form(&fields)
            .send()
    };
    let full = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("name", "Aiko Tanaka".to_string()),
            ("email", "aiko@example.com".to_string()),
            ("order", "2026-11-000123".to_string()),
            ("category", "delivery".to_string()),
            ("message", "My parcel has not arrived.".to_string()),
            ("consent", "1".to_string()),
        ]
    };
    // A wrong or missing token: 403, and the draft is kept.
    let r = post(full("not-the-token")).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(full("")).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Incomplete (no consent): 400, the draft is kept.
    let mut incomplete = full(&csrf);
    incomplete.retain(|(k, _)| *k != "consent");
    let r = post(incomplete).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app.get("/api/drafts/demo-inquiry", Some(&session)).await;
    assert_eq!(r.status(), StatusCode::OK, "kept after refused submissions");

    let r = post(full(&csrf)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Aiko Tanaka") && html.contains("2026-11-000123"));
    assert!(html.contains("data-tsuzuki-saved=\"demo-inquiry\""));
    let r = app.get("/api/drafts/demo-inquiry", Some(&session)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "draft_not_found");

    // Signed out: the submission goes to the sign-in page, not through.
    let r = app
        .http
        .post(app.url("/demo/inquiry"))
        .form(&full(&csrf))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    app.finish().await;
}
