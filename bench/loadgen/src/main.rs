//! A fixed-rate (open-loop) HTTP/1.1 load generator for the latency figures of `bench/run.sh`.
//!
//! Why not wrk: wrk is closed-loop (each connection sends its next request when the previous one
//! is answered), so "p99 at half the maximum rate" cannot be asked of it, and a server stall
//! silences the very requests that would have seen it (coordinated omission). Debian has no wrk2.
//! oha has a fixed-rate mode but sends one fixed Cookie header and cannot check a response
//! header, and the benchmark must rotate over many sessions and check that every response is a
//! 200 for the right user.
//!
//! How it works: `--connections` keep-alive connections share the schedule; request `n` is due
//! at `start + n / rate` and goes out on connection `n mod connections`. Latency is measured from
//! the moment the request was *due*, not from when it was sent, so a request that had to wait for
//! its connection (because the server was slow to answer the previous one) is charged for the
//! wait, as wrk2 does. Tokio's timer has millisecond resolution; to send on time, each connection
//! sleeps until a millisecond before its next request and then spins (yielding to the runtime) to
//! the exact instant. The generator's own lateness — the delay between the moment a request
//! could have been sent (due and its connection free) and the moment it was — is reported as
//! `lag`: if its p99 is small against the latencies, they are the server's.
//!
//! Every response is read whole and checked: status 200 and, with `--expect-user`, the
//! `x-tsuzuki-user-id` header. Any other response, or any connection error, makes the exit status
//! non-zero. Requests due during `--warmup` are sent but not counted.
//!
//! `--closed-loop` (instead of `--rate`) measures the maximum rate: every connection sends its
//! next request as soon as the previous one is answered, until the end; latency is then counted
//! from the moment the request was sent (as wrk does), and the achieved rate is the figure. (The
//! fixed-rate mode cannot measure a maximum: past capacity it falls behind and keeps sending the
//! requests that were due, so it would report its target.)
//!
//! `--remember-file` measures remember-me restores: connection `k` carries line `k` of the file
//! as its `tsuzuki_remember` cookie (`selector:validator`, one family per connection, so that no
//! two requests ever present the same family at once), and no session cookie. Every response must
//! then also carry a `Set-Cookie` for the remember cookie with a new, non-empty value — the
//! rotated validator — which the connection presents on its next request, as a browser would
//! (presenting the old one after the server's grace window would be taken for theft). A response
//! without it counts as `no_rotation`, an error. At the end the file is rewritten with each
//! connection's latest cookie, so that a later run continues the same families.

use anyhow::{Context, Result, bail};
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{COOKIE, HOST, HeaderValue, SET_COOKIE};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// http://HOST:PORT/PATH
    #[arg(long)]
    url: String,
    /// Requests per second, all connections together (fixed rate, open loop).
    #[arg(
        long,
        required_unless_present = "closed_loop",
        conflicts_with = "closed_loop"
    )]
    rate: Option<f64>,
    /// Closed loop instead of a fixed rate: each connection sends its next request as soon as
    /// the previous one is answered (to measure the maximum rate).
    #[arg(long)]
    closed_loop: bool,
    /// Seconds of measured load (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// File of session tokens, one per line: the requests rotate over them as the session cookie.
    #[arg(long)]
    tokens: Option<PathBuf>,
    #[arg(long, default_value = "tsuzuki_session")]
    cookie_name: String,
    /// File of remember-me cookie values (`selector:validator`), at least one per connection:
    /// connection k restores from line k, with no session cookie, and must get a rotated cookie
    /// back in every response. Rewritten at the end with the latest cookies.
    #[arg(long, conflicts_with = "tokens")]
    remember_file: Option<PathBuf>,
    #[arg(long, default_value = "tsuzuki_remember")]
    remember_cookie_name: String,
    /// Every response must carry this `x-tsuzuki-user-id`.
    #[arg(long)]
    expect_user: Option<String>,
    /// Name printed with the results.
    #[arg(long, default_value = "run")]
    label: String,
    /// Also print, for every second of the measured run, its request count, p99 and maximum
    /// latency (to see when a slow moment happened).
    #[arg(long)]
    timeline: bool,
}

struct Shared {
    host: HeaderValue,
    path: String,
    cookies: Vec<HeaderValue>,
    expect_user: Option<Vec<u8>>,
    /// `None`: closed loop.
    rate: Option<f64>,
    /// `Some(name)`: remember-me mode, cookies per connection.
    remember_name: Option<String>,
    connections: usize,
    start: Instant,
    measure_from: Instant,
    end: Instant,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    /// (second of the measured run, latency) for the timeline.
    by_second: Vec<(u32, u32)>,
    lags_us: Vec<u32>,
    ok: u64,
    bad_status: u64,
    wrong_user: u64,
    /// Remember-me mode: a 200 without a rotated remember cookie.
    no_rotation: u64,
    first_problem: Option<String>,
}

/// What a connection hands back: its tally and, in remember-me mode, its latest cookie value.
struct Finished {
    tally: Tally,
    remember: Option<String>,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // One thread: the generator is pinned to one core, and one event loop uses it best.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(run(args)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn parse_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok((authority.to_string(), path.to_string()))
}

async fn run(args: Args) -> Result<bool> {
    if args.rate.is_some_and(|r| r.is_nan() || r <= 0.0) || args.connections == 0 {
        bail!("--rate and --connections must be positive");
    }
    let remember_lines = match &args.remember_file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let v: Vec<String> = text
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            if v.len() < args.connections {
                bail!(
                    "{} has {} remember-me cookies; --connections {} needs one each",
                    file.display(),
                    v.len(),
                    args.connections
                );
            }
            v
        }
        None => Vec::new(),
    };
    let (authority, path) = parse_url(&args.url)?;
    let cookies = match &args.tokens {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let v: Vec<HeaderValue> = text
                .lines()
                .filter(|l| !l.is_empty())
                .map(|t| HeaderValue::from_str(&format!("{}={t}", args.cookie_name)))
                .collect::<Result<_, _>>()?;
            if v.is_empty() {
                bail!("no tokens in {}", file.display());
            }
            v
        }
        None => Vec::new(),
    };
    // Connect everything before the clock starts.
    let mut senders = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let stream = TcpStream::connect(&authority)
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        senders.push(sender);
    }
    let start = Instant::now() + Duration::from_millis(20);
    let shared = Arc::new(Shared {
        host: HeaderValue::from_str(&authority)?,
        path,
        cookies,
        expect_user: args.expect_user.clone().map(String::into_bytes),
        rate: args.rate,
        remember_name: args
            .remember_file
            .as_ref()
            .map(|_| args.remember_cookie_name.clone()),
        connections: args.connections,
        start,
        measure_from: start + Duration::from_secs_f64(args.warmup),
        end: start + Duration::from_secs_f64(args.warmup + args.duration),
    });
    let mut tasks = Vec::new();
    for (i, sender) in senders.into_iter().enumerate() {
        let remember = remember_lines.get(i).cloned();
        tasks.push(tokio::spawn(connection(
            i,
            sender,
            shared.clone(),
            remember,
        )));
    }
    let mut all = Tally::default();
    let mut errors = Vec::new();
    let mut latest = remember_lines.clone();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await? {
            Ok(Finished { tally: t, remember }) => {
                if let Some(cookie) = remember {
                    latest[i] = cookie;
                }
                all.latencies_us.extend(t.latencies_us);
                all.by_second.extend(t.by_second);
                all.lags_us.extend(t.lags_us);
                all.ok += t.ok;
                all.bad_status += t.bad_status;
                all.wrong_user += t.wrong_user;
                all.no_rotation += t.no_rotation;
                if all.first_problem.is_none() {
                    all.first_problem = t.first_problem;
                }
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if let Some(file) = &args.remember_file {
        let mut text = latest.join("\n");
        text.push('\n');
        std::fs::write(file, text).with_context(|| format!("rewriting {}", file.display()))?;
    }
    let counted = all.latencies_us.len();
    all.latencies_us.sort_unstable();
    all.lags_us.sort_unstable();
    let p = |v: &[u32], q: f64| -> u32 {
        if v.is_empty() {
            return 0;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    };
    let l = &all.latencies_us;
    println!(
        "LOADGEN label={} mode={} target_rps={:.0} achieved_rps={:.0} requests={} ok={} \
         bad_status={} wrong_user={} no_rotation={} errors={} p50_us={} p90_us={} p99_us={} \
         p999_us={} max_us={} lag_p50_us={} lag_p99_us={}",
        args.label,
        match (args.rate.is_some(), args.remember_file.is_some()) {
            (true, false) => "fixed",
            (false, false) => "closed",
            (true, true) => "fixed-remember",
            (false, true) => "closed-remember",
        },
        args.rate.unwrap_or(0.0),
        counted as f64 / args.duration,
        counted,
        all.ok,
        all.bad_status,
        all.wrong_user,
        all.no_rotation,
        errors.len(),
        p(l, 0.50),
        p(l, 0.90),
        p(l, 0.99),
        p(l, 0.999),
        l.last().copied().unwrap_or(0),
        p(&all.lags_us, 0.50),
        p(&all.lags_us, 0.99),
    );
    if args.timeline {
        let seconds = all
            .by_second
            .iter()
            .map(|&(s, _)| s)
            .max()
            .map_or(0, |m| m + 1);
        let mut per: Vec<Vec<u32>> = vec![Vec::new(); seconds as usize];
        for &(s, l) in &all.by_second {
            per[s as usize].push(l);
        }
        for (s, mut v) in per.into_iter().enumerate() {
            v.sort_unstable();
            println!(
                "TIMELINE second={s} requests={} p99_us={} max_us={}",
                v.len(),
                p(&v, 0.99),
                v.last().copied().unwrap_or(0)
            );
        }
    }
    let mut good = true;
    if !errors.is_empty() {
        eprintln!(
            "loadgen: {} connection(s) failed; first: {}",
            errors.len(),
            errors[0]
        );
        good = false;
    }
    if all.bad_status > 0 || all.wrong_user > 0 || all.no_rotation > 0 {
        eprintln!(
            "loadgen: {} response(s) not 200, {} with the wrong or no user, {} without a rotated \
             remember cookie; first: {}",
            all.bad_status,
            all.wrong_user,
            all.no_rotation,
            all.first_problem.as_deref().unwrap_or("?")
        );
        good = false;
    }
    if counted == 0 {
        eprintln!("loadgen: no request was counted");
        good = false;
    }
    Ok(good)
}

/// Wait until `t` with better than Tokio's millisecond timer resolution.
async fn wait_until(t: Instant) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        if t - now > Duration::from_micros(1500) {
            tokio::time::sleep_until((t - Duration::from_millis(1)).into()).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// The value of the `name` cookie set by a response, if any (the first `Set-Cookie` for it).
fn set_cookie_value<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let rest = v.strip_prefix(name)?.strip_prefix('=')?;
            Some(rest.split(';').next().unwrap_or("").trim())
        })
}

async fn connection(
    index: usize,
    mut sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    s: Arc<Shared>,
    mut remember: Option<String>,
) -> Result<Finished> {
    let mut tally = Tally::default();
    let mut free_since = s.start;
    for k in 0u64.. {
        let n = k * s.connections as u64 + index as u64;
        // Fixed rate: request n is due at start + n / rate. Closed loop: now, once the previous
        // one is answered (and the first at the start).
        let due = match s.rate {
            Some(rate) => {
                let due = s.start + Duration::from_secs_f64(n as f64 / rate);
                if due >= s.end {
                    break;
                }
                wait_until(due).await;
                due
            }
            None => {
                if k == 0 {
                    wait_until(s.start).await;
                }
                let now = Instant::now();
                if now >= s.end {
                    break;
                }
                now
            }
        };
        let sent = Instant::now();
        let mut request = Request::get(s.path.as_str()).header(HOST, s.host.clone());
        if let (Some(name), Some(value)) = (&s.remember_name, &remember) {
            // As a relaying proxy does: tsuzuki restores at the check only when its cookies
            // reach the client (docs/proxies.md), which this generator does for the next request.
            request = request
                .header(COOKIE, HeaderValue::from_str(&format!("{name}={value}"))?)
                .header("x-tsuzuki-relay-cookies", "1");
        } else if !s.cookies.is_empty() {
            request = request.header(COOKIE, s.cookies[n as usize % s.cookies.len()].clone());
        }
        let request = request.body(Empty::new())?;
        sender.ready().await.context("connection closed")?;
        let response = sender
            .send_request(request)
            .await
            .context("request failed")?;
        let status = response.status();
        let user_ok = match &s.expect_user {
            None => true,
            Some(want) => response
                .headers()
                .get("x-tsuzuki-user-id")
                .is_some_and(|v| v.as_bytes() == want.as_slice()),
        };
        // Remember-me mode: the rotated cookie, which the next request must present.
        let mut rotated = true;
        if let (Some(name), Some(current)) = (&s.remember_name, &mut remember) {
            match set_cookie_value(response.headers(), name) {
                Some(v) if !v.is_empty() && v != current.as_str() => *current = v.to_string(),
                _ => rotated = false,
            }
        }
        let _body = response
            .into_body()
            .collect()
            .await
            .context("reading body")?;
        let done = Instant::now();
        if due >= s.measure_from {
            tally.latencies_us.push(micros(done - due));
            let second = (due - s.measure_from).as_secs() as u32;
            tally.by_second.push((second, micros(done - due)));
            tally.lags_us.push(micros(sent - due.max(free_since)));
            if status != StatusCode::OK {
                tally.bad_status += 1;
                tally
                    .first_problem
                    .get_or_insert_with(|| format!("status {status}"));
            } else if !user_ok {
                tally.wrong_user += 1;
                tally
                    .first_problem
                    .get_or_insert_with(|| "missing or wrong x-tsuzuki-user-id".into());
            } else if !rotated {
                tally.no_rotation += 1;
                tally
                    .first_problem
                    .get_or_insert_with(|| "no rotated remember-me cookie in the response".into());
            } else {
                tally.ok += 1;
            }
        }
        free_since = done;
    }
    Ok(Finished { tally, remember })
}
