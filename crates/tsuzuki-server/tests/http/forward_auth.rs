//! Forward-auth made complete for proxies (issue #6 item 1, P2): policies per host and path,
//! browsers sent to the sign-in and back to the original URL (allowed hosts only, SEC-16), 401
//! for API clients, remember-me restored only when the proxy relays cookies, and cookies shared
//! across subdomains when configured (R11).

use crate::both_backends;
use crate::harness::*;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tsuzuki_store::testing::Kind;

pub const POLICIES: &str = r#"
[forward_auth]
allowed_return_hosts = [".apps.example.com"]

[[forward_auth.rules]]
host = "app.apps.example.com"
path = "/public"
policy = "public"

[[forward_auth.rules]]
path = "/admin"
policy = "recent_sign_in"

[[forward_auth.rules]]
path = "/finance"
policy = "second_factor"
"#;

const REMEMBER: &str = "tsuzuki_remember";

/// The headers a proxy sends for the original request: those Caddy and Traefik send (read at
/// /auth/check) and those the nginx recipe sends (read at /auth/request), saying the same.
pub fn forwarded(host: &str, uri: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-forwarded-proto", "https".parse().unwrap());
    h.insert("x-forwarded-host", host.parse().unwrap());
    h.insert("x-forwarded-uri", uri.parse().unwrap());
    h.insert("x-forwarded-method", "GET".parse().unwrap());
    h.insert(
        "x-original-url",
        format!("https://{host}{uri}").parse().unwrap(),
    );
    h.insert("x-original-method", "GET".parse().unwrap());
    h
}

pub fn browser_page(mut h: HeaderMap) -> HeaderMap {
    h.insert("accept", "text/html,application/xhtml+xml".parse().unwrap());
    h.insert("sec-fetch-mode", "navigate".parse().unwrap());
    h
}

async fn ask(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    headers: HeaderMap,
) -> reqwest::Response {
    let mut r = app.http.get(app.url(path)).headers(headers);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.send().await.unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// A browser with no session is sent to the sign-in page with the original URL to return to: a
/// 302 at /auth/check (Caddy, Traefik), a 401 carrying Location at /auth/request (nginx). An API
/// client gets the 401 and the reason, never a redirect.
async fn browsers_are_sent_to_sign_in_and_api_clients_get_401(kind: Kind) {
    let Some(app) = spawn_app(kind, POLICIES).await else {
        return;
    };
    let original = "https://app.apps.example.com/inbox?id=3&x=%2F";
    let r = ask(
        &app,
        "/auth/check",
        None,
        browser_page(forwarded("app.apps.example.com", "/inbox?id=3&x=%2F")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = location(&r);
    let (page, query) = to.split_once('?').unwrap();
    assert_eq!(page, format!("{}/sign-in", app.state.config.public_url));
    let back = query.strip_prefix("return_to=").unwrap();
    assert_eq!(percent_decode(back), original);

    let r = ask(
        &app,
        "/auth/request",
        None,
        browser_page(forwarded("app.apps.example.com", "/inbox?id=3&x=%2F")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(location(&r), to, "nginx gets the same target, on a 401");
    assert_eq!(error_body(r).await["code"], "not_signed_in");

    // A script's request, or a JSON client: 401 with the reason, no Location.
    let mut api = forwarded("app.apps.example.com", "/api/items");
    api.insert("accept", "application/json".parse().unwrap());
    for path in ["/auth/check", "/auth/request"] {
        let r = ask(&app, path, None, api.clone()).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(r.headers().get("location").is_none());
        assert_eq!(error_body(r).await["code"], "not_signed_in");
    }
    // A form post is not sent away either: the redirect would lose what it carries.
    let mut post = browser_page(forwarded("app.apps.example.com", "/inbox"));
    post.insert("x-forwarded-method", "POST".parse().unwrap());
    assert_eq!(
        ask(&app, "/auth/check", None, post).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.finish().await;
}

/// SEC-16: the return URL is kept only for allowed hosts; a proxy reporting any other host gets
/// the sign-in page without it, and the sign-in page itself refuses foreign targets.
async fn return_urls_only_to_allowed_hosts(kind: Kind) {
    let Some(app) = spawn_app(kind, POLICIES).await else {
        return;
    };
    let r = ask(
        &app,
        "/auth/check",
        None,
        browser_page(forwarded("evil.example", "/x")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        location(&r),
        format!("{}/sign-in", app.state.config.public_url)
    );

    app.create_user("a@example.com").await;
    for (target, expected) in [
        (
            "https://app.apps.example.com/inbox?id=3",
            "https://app.apps.example.com/inbox?id=3",
        ),
        ("https://evil.example/steal", "/account"),
        ("//evil.example/steal", "/account"),
        ("https://app.apps.example.com.evil.example/", "/account"),
    ] {
        let r = app
            .http
            .post(app.url("/api/sign-in"))
            .json(&serde_json::json!({"email": "a@example.com", "password": PASSWORD, "return_to": target}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{target}");
        // The page form: the same rule decides where the browser goes.
        let browser = browser();
        let html = page_html(
            &browser,
            &app.url(&format!("/sign-in?return_to={}", encode(target))),
        )
        .await;
        let r = browser
            .post(app.url("/sign-in"))
            .form(&[
                ("csrf", csrf_of(&html).as_str()),
                ("email", "a@example.com"),
                ("password", PASSWORD),
                ("return_to", target),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{target}");
        assert_eq!(location(&r), expected, "{target}");
    }
    app.finish().await;
}

/// Policies per host and path: public routes pass without a session (and carry the identity
/// when there is one); `recent_sign_in` sends a stale session to re-authenticate, `second_factor`
/// a password-only session to step up; a traversal cannot borrow the public rule.
async fn policies_per_host_and_path(kind: Kind) {
    let Some(app) = spawn_app(kind, POLICIES).await else {
        return;
    };
    let user = app.create_user("a@example.com").await;
    let public = || browser_page(forwarded("app.apps.example.com", "/public/about"));
    let r = ask(&app, "/auth/check", None, public()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("x-tsuzuki-user-id").is_none());
    // Same path on another host: signed_in, the default.
    let r = ask(
        &app,
        "/auth/check",
        None,
        browser_page(forwarded("other.apps.example.com", "/public/about")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    for sneaky in [
        "/public/../admin",
        "/public/%2e%2e/inbox",
        "/public%2F..%2Finbox",
    ] {
        let r = ask(
            &app,
            "/auth/check",
            None,
            browser_page(forwarded("app.apps.example.com", sneaky)),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FOUND, "{sneaky}");
    }

    let session = app.signed_in("a@example.com").await;
    let jar = format!("{}={session}", app.cookie_name());
    let r = ask(&app, "/auth/check", Some(&jar), public()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-tsuzuki-user-id"], user.as_str());

    let admin = || browser_page(forwarded("app.apps.example.com", "/admin/users"));
    assert_eq!(
        ask(&app, "/auth/check", Some(&jar), admin()).await.status(),
        StatusCode::OK
    );
    // Past the re-authentication window, the cached session still passes signed_in routes
    // (the fast path) but not /admin: the fast path must not answer for it.
    app.advance(601);
    let inbox = || browser_page(forwarded("app.apps.example.com", "/inbox"));
    let r = ask(&app, "/auth/check", Some(&jar), inbox()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = ask(&app, "/auth/check", Some(&jar), admin()).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = location(&r);
    assert!(
        to.starts_with(&format!(
            "{}/account/reauth?return_to=",
            app.state.config.public_url
        )),
        "{to}"
    );
    let mut api = forwarded("app.apps.example.com", "/admin/users");
    api.insert("accept", "application/json".parse().unwrap());
    let r = ask(&app, "/auth/request", Some(&jar), api).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_body(r).await["code"], "step_up_required");

    // second_factor: a password-only session is sent to step up with a factor…
    let r = ask(
        &app,
        "/auth/check",
        Some(&jar),
        browser_page(forwarded("app.apps.example.com", "/finance")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = location(&r);
    assert!(
        to.contains("/account/reauth?require=second-factor&return_to="),
        "{to}"
    );
    // …and an account without any factor is told to set one up instead of looping.
    let path = to.split_once(&app.state.config.public_url).unwrap().1;
    let r = app
        .http
        .get(app.url(path))
        .header("cookie", &jar)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        error_body(r).await["code"],
        "second_factor_enrolment_required"
    );
    app.finish().await;
}

/// R5 through a proxy: a remember-me cookie becomes a session at the check only when the proxy
/// says it relays the cookies of the answer; then every cookie also comes as a numbered header
/// for nginx, whose recipe can take only one Set-Cookie per name.
async fn remember_me_restored_only_when_the_proxy_relays_cookies(kind: Kind) {
    let Some(app) = spawn_app(kind, POLICIES).await else {
        return;
    };
    app.create_user("a@example.com").await;
    let r = sign_in_remembered(&app).await;
    let remember = set_cookie_value(r.headers(), REMEMBER).unwrap();
    let jar = format!("{REMEMBER}={remember}");
    let page = || browser_page(forwarded("app.apps.example.com", "/inbox"));

    // Not relayed: nothing is rotated, the browser goes to the sign-in page (which restores).
    let r = ask(&app, "/auth/request", Some(&jar), page()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(location(&r).contains("/sign-in?return_to="));

    let mut relayed = page();
    relayed.insert("x-tsuzuki-relay-cookies", "1".parse().unwrap());
    let r = ask(&app, "/auth/request", Some(&jar), relayed.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-tsuzuki-remembered"], "true");
    let session = set_cookie_value(r.headers(), &app.cookie_name()).unwrap();
    let rotated = set_cookie_value(r.headers(), REMEMBER).unwrap();
    assert_ne!(rotated, remember, "rotated on use");
    let copies: Vec<String> = (1..=3)
        .filter_map(|n| r.headers().get(format!("x-tsuzuki-set-cookie-{n}")))
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let originals: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(copies, originals);
    assert!(
        copies
            .iter()
            .any(|c| c.starts_with(&format!("{}=", app.cookie_name())))
    );
    assert!(
        copies
            .iter()
            .any(|c| c.starts_with(&format!("{REMEMBER}=")))
    );
    // A route a restored session could not pass anyway is not worth a rotation whose cookies a
    // refusal would not carry to the browser: nothing is restored there.
    let mut stricter = browser_page(forwarded("app.apps.example.com", "/admin"));
    stricter.insert("x-tsuzuki-relay-cookies", "1".parse().unwrap());
    let r = ask(
        &app,
        "/auth/request",
        Some(&format!("{REMEMBER}={rotated}")),
        stricter,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        set_cookie_value(r.headers(), REMEMBER).is_none(),
        "rotated on a refusal"
    );
    assert!(location(&r).contains("/sign-in?return_to="));
    // The restored session is a session like any other.
    let jar = format!("{}={session}", app.cookie_name());
    assert_eq!(
        ask(&app, "/auth/check", Some(&jar), page()).await.status(),
        StatusCode::OK
    );
    app.finish().await;
}

/// The `second_factor` policy end to end: a password-only session is sent to
/// /account/reauth?require=second-factor, which asks for the password and then the
/// authenticator code, and lands back on the application's URL with a session that passes.
async fn second_factor_policy_steps_up_and_returns(kind: Kind) {
    let Some(app) = spawn_app(kind, POLICIES).await else {
        return;
    };
    app.create_user("a@example.com").await;
    let b = signed_in_browser(&app, "a@example.com", false).await;
    let (secret, _) = crate::second_factors::enrol_totp(&app, &b).await;
    let finance = browser_page(forwarded("app.apps.example.com", "/finance/q?y=1"));
    let r = b
        .get(app.url("/auth/check"))
        .headers(finance.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = location(&r);
    let path = to
        .split_once(&app.state.config.public_url)
        .unwrap()
        .1
        .to_string();
    let html = page_html(&b, &app.url(&path)).await;
    let r = b
        .post(app.url("/account/reauth"))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("then", form_field(&html, "then").as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let flow_page = location(&r);
    assert!(
        flow_page.starts_with("/sign-in/flow/"),
        "the factor is asked for: {flow_page}"
    );
    let html = page_html(&b, &app.url(&flow_page)).await;
    app.advance(30);
    let r = b
        .post(app.url(&format!("{flow_page}/verify")))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("code", totp_now(&app, &secret, 0).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "https://app.apps.example.com/finance/q?y=1");
    let r = b
        .get(app.url("/auth/check"))
        .headers(finance)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["x-tsuzuki-methods"]
            .to_str()
            .unwrap()
            .contains("totp")
    );
    app.finish().await;
}

/// Each endpoint reads only its own proxy's headers for the original URL: a client's
/// X-Original-URL passed through by Caddy cannot pick a policy at /auth/check, nor a client's
/// X-Forwarded-Uri passed through by nginx at /auth/request.
async fn a_client_cannot_steer_the_policy_with_the_other_proxys_headers(kind: Kind) {
    let Some(app) = spawn_app(kind, POLICIES).await else {
        return;
    };
    let mut caddy = forwarded("app.apps.example.com", "/inbox");
    caddy.insert(
        "x-original-url",
        "https://app.apps.example.com/public/x".parse().unwrap(),
    );
    assert_eq!(
        ask(&app, "/auth/check", None, caddy).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut nginx = forwarded("app.apps.example.com", "/public/x");
    nginx.insert(
        "x-original-url",
        "https://app.apps.example.com/inbox".parse().unwrap(),
    );
    assert_eq!(
        ask(&app, "/auth/request", None, nginx).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The honest headers of each proxy do reach the public rule.
    for path in ["/auth/check", "/auth/request"] {
        let public = forwarded("app.apps.example.com", "/public/x");
        assert_eq!(
            ask(&app, path, None, public).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    app.finish().await;
}

/// R11 with `session.cookie_domain`: session and remember-me cookies carry the Domain so every
/// subdomain's proxy sees them; the rest stays host-only.
#[tokio::test]
async fn cookies_shared_across_subdomains_when_configured() {
    let Some(app) = spawn_app(
        Kind::Sqlite,
        "public_url = \"http://auth.tsuzuki.localhost:8470\"\n[session]\ncookie_domain = \"tsuzuki.localhost\"\n",
    )
    .await
    else {
        return;
    };
    app.create_user("a@example.com").await;
    let r = sign_in_remembered(&app).await;
    assert_eq!(r.status(), StatusCode::OK);
    let session = set_cookie_line(r.headers(), &app.cookie_name()).unwrap();
    let remember = set_cookie_line(r.headers(), REMEMBER).unwrap();
    assert!(session.contains("; Domain=tsuzuki.localhost"), "{session}");
    assert!(
        remember.contains("; Domain=tsuzuki.localhost"),
        "{remember}"
    );
    let browser = set_cookie_line(r.headers(), "tsuzuki_browser");
    assert!(browser.is_none_or(|b| !b.contains("Domain")));
    app.finish().await;
}

/// `POST /api/sign-in` for a@example.com with "keep me signed in".
/// A yes has the same headers whichever path answers it — the full path (a HEAD, which the
/// fast path leaves to the router) and the fast path (a GET of a cached session): identity, and
/// the security headers that mean something for an answer without a body: no-store (SEC-23),
/// nosniff, no referrer, a CSP that allows nothing (SEC-63).
/// With an https public URL (TLS ended at the proxy), both also carry HSTS (SEC-24).
async fn a_yes_has_the_same_headers_on_both_paths(kind: Kind) {
    for public_url in [None, Some("https://auth.example.com")] {
        let toml = match public_url {
            Some(url) => format!("public_url = {url:?}\n{POLICIES}"),
            None => POLICIES.to_string(),
        };
        let Some(app) = spawn_app(kind, &toml).await else {
            return;
        };
        same_headers_on_both_paths(app, public_url.is_some()).await;
    }
}

async fn same_headers_on_both_paths(app: TestApp, https: bool) {
    app.create_user("a@example.com").await;
    let session = app.signed_in("a@example.com").await;
    let jar = format!("{}={session}", app.cookie_name());
    for endpoint in ["/auth/check", "/auth/request"] {
        let mut seen = Vec::new();
        for method in [
            reqwest::Method::HEAD,
            reqwest::Method::GET,
            reqwest::Method::GET,
        ] {
            let r = app
                .http
                .request(method.clone(), app.url(endpoint))
                .headers(browser_page(forwarded("app.apps.example.com", "/inbox")))
                .header("cookie", &jar)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{method} {endpoint}");
            let h = r.headers();
            assert_eq!(h["cache-control"], "no-store");
            assert_eq!(h["x-content-type-options"], "nosniff");
            assert_eq!(h["referrer-policy"], "no-referrer");
            assert_eq!(
                h.get("strict-transport-security")
                    .map(|v| v.to_str().unwrap()),
                https.then_some("max-age=31536000; includeSubDomains"),
                "{method} {endpoint}"
            );
            let csp = h["content-security-policy"].to_str().unwrap();
            for directive in [
                "default-src 'none'",
                "frame-ancestors 'none'",
                "base-uri 'none'",
            ] {
                assert!(csp.contains(directive), "{csp}");
            }
            let mut names: Vec<(String, String)> = h
                .iter()
                .filter(|(n, _)| n.as_str() != "date")
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
                .collect();
            names.sort();
            seen.push(names);
        }
        assert_eq!(
            seen[0], seen[2],
            "{endpoint}: full path and fast path differ"
        );
    }
    app.finish().await;
}

async fn sign_in_remembered(app: &TestApp) -> reqwest::Response {
    app.http
        .post(app.url("/api/sign-in"))
        .json(
            &serde_json::json!({"email": "a@example.com", "password": PASSWORD, "remember": true}),
        )
        .send()
        .await
        .unwrap()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

both_backends!(
    browsers_are_sent_to_sign_in_and_api_clients_get_401,
    return_urls_only_to_allowed_hosts,
    policies_per_host_and_path,
    remember_me_restored_only_when_the_proxy_relays_cookies,
    second_factor_policy_steps_up_and_returns,
    a_client_cannot_steer_the_policy_with_the_other_proxys_headers,
    a_yes_has_the_same_headers_on_both_paths,
);
