//! A tiny application behind tsuzuki: a public page, a protected page and a sensitive page.
//!
//! ```sh
//! # tsuzuki on http://127.0.0.1:8470; its cookies must be for the app's host (127.0.0.1).
//! TSUZUKI_PUBLIC_URL=http://127.0.0.1:8470 TSUZUKI_HTTP__TRUSTED_PROXIES=127.0.0.1/32 \
//!   cargo run -p tsuzuki -- serve --demo
//! cargo run -p tsuzuki-axum --example app -- --tsuzuki http://127.0.0.1:8470 --listen 127.0.0.1:3000
//! ```
//!
//! Then open http://127.0.0.1:3000/profile. Options: `--tsuzuki URL` (where the app reaches
//! tsuzuki), `--tsuzuki-public URL` (where browsers do; default: the same), `--listen ADDR`,
//! `--public-url URL` (where browsers reach this app; default `http://ADDR`), `--cache-ttl-ms N`.

// Not `mod site;`: a crate root looks beside itself, and this file sits in `examples/`.
#[path = "app/site.rs"]
mod site;

use std::net::SocketAddr;
use std::time::Duration;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tsuzuki_axum=debug".into()),
        )
        .init();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "{e}\nusage: app --tsuzuki URL [--tsuzuki-public URL] [--listen ADDR] [--public-url URL] [--cache-ttl-ms N]"
            );
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {}: {e}", args.listen));
    let addr = listener.local_addr().expect("local address");
    let mut builder = tsuzuki_axum::Tsuzuki::builder()
        .tsuzuki_url(&args.tsuzuki)
        .public_url(args.tsuzuki_public.as_deref().unwrap_or(&args.tsuzuki))
        .app_url(args.public_url.unwrap_or_else(|| format!("http://{addr}")));
    if let Some(ttl) = args.cache_ttl {
        builder = builder.cache_ttl(ttl);
    }
    let tsuzuki = builder.build().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    tracing::info!(%addr, ?tsuzuki, "example app listening");
    // Connect info: the middleware sends the client's address to tsuzuki.
    axum::serve(
        listener,
        site::router(&tsuzuki).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .expect("server");
}

struct Args {
    tsuzuki: String,
    tsuzuki_public: Option<String>,
    listen: SocketAddr,
    public_url: Option<String>,
    cache_ttl: Option<Duration>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut a = Args {
            tsuzuki: "http://127.0.0.1:8470".into(),
            tsuzuki_public: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: None,
            cache_ttl: None,
        };
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--tsuzuki" => a.tsuzuki = value()?,
                "--tsuzuki-public" => a.tsuzuki_public = Some(value()?),
                "--listen" => a.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
                "--public-url" => a.public_url = Some(value()?),
                "--cache-ttl-ms" => {
                    let ms: u64 = value()?
                        .parse()
                        .map_err(|e| format!("--cache-ttl-ms: {e}"))?;
                    a.cache_ttl = Some(Duration::from_millis(ms));
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(a)
    }
}
