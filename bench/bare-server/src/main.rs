//! The baseline of the load benchmark (`bench/run.sh`): a bare hyper 1 server that answers every
//! request `200 ok`, and nothing else.
//!
//! It is built to cost what tsuzuki's own connection handling costs and no more, so that the ratio
//! between the two is the price of tsuzuki's work (routing, middleware, the session check):
//! the same Tokio multi-thread runtime with the default worker count (one worker per core the
//! process may run on, so one under `taskset -c 0`), the same hyper HTTP/1 connection builder
//! with keep-alive, `TCP_NODELAY` and one spawned task per connection.
//!
//! Usage: `bare-server PORT [--empty]` (listens on 127.0.0.1:PORT). With `--empty` the answer
//! has no body, as tsuzuki's forward-auth yes: bench/proxy.sh's "auth server that answers at
//! once" needs that, because nginx keeps an `auth_request`'s upstream connection open only when
//! the answer has no body (it does not read one), and a body would make it reconnect every time.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

async fn answer(body: &'static [u8]) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(body))))
}

fn main() -> std::process::ExitCode {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: bare-server PORT [--empty]");
            return std::process::ExitCode::from(2);
        }
    };
    // As in `tsuzuki serve`: a multi-thread runtime with Tokio's default worker count.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let body: &'static [u8] = if std::env::args().nth(2).as_deref() == Some("--empty") {
        b""
    } else {
        b"ok"
    };
    match runtime.block_on(serve(SocketAddr::from(([127, 0, 0, 1], port)), body)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(addr: SocketAddr, body: &'static [u8]) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!(
        "bare-server listening on {} ({} worker thread(s) available)",
        listener.local_addr()?,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            // The same builder settings as tsuzuki's connection loop (src/app.rs `serve`).
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(
                    TokioIo::new(stream),
                    hyper::service::service_fn(move |_request: Request<Incoming>| answer(body)),
                )
                .await;
        });
    }
}
