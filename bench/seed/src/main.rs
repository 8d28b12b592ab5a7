//! Seeds a tsuzuki database for the load benchmark (`bench/run.sh`).
//!
//! Reads the same configuration as `tsuzuki serve` (a `--config` file and `TSUZUKI_*` variables:
//! the database, the argon2 parameters), so that the password hash and the sessions it writes are
//! exactly what the server being measured expects. It creates one user, `bench@example.com`, with
//! the given password hashed by the product's hasher, and `--sessions` sessions for that user,
//! all through the product's `Store::insert_session`. Every session began within the last minute
//! (spread evenly, so that their coalesced activity writes are spread too), with the absolute
//! lifetime of the configured session policy (the server must be started with the same
//! `session.absolute_lifetime` and an idle timeout long enough for the run), and was last seen
//! from 127.0.0.1, the load generator's address, so that the checks measured are the steady state
//! (no "address changed" event on the first request).
//!
//! Writes into `--out`: `user_id` (the seeded user's id) and `tokens` (the cookie values of the
//! first `--sample` sessions, one per line).
//!
//! With `--families N`, it also creates N remember-me ("keep me signed in") families for the same
//! user through the product's `Store::insert_remember`, each as `RememberMe::issue` would (a fresh
//! `RememberCookie`, only the validator's hash stored, 14 days of life — the default "balanced"
//! preset — last used now, from 127.0.0.1), and writes their cookie values
//! (`selector:validator`) to `--families-out`, one per line: one family per load-generator
//! connection, since every restore rotates the validator and a family must not be shared.

use anyhow::{Context, Result, bail};
use clap::Parser;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tsuzuki_core::clock::{Clock, SystemClock};
use tsuzuki_core::remember::{FamilyState, RememberCookie};
use tsuzuki_core::session::{self, AuthMethod, SessionTimes};
use tsuzuki_core::token::{SecretToken, public_id};
use tsuzuki_store::{NewUser, RememberRecord, SessionRecord, Store};

#[derive(Parser)]
struct Args {
    /// Configuration file, as for `tsuzuki serve` (TSUZUKI_* variables override it).
    #[arg(long, env = "TSUZUKI_CONFIG")]
    config: Option<PathBuf>,
    /// Number of sessions to create.
    #[arg(long, default_value_t = 100_000)]
    sessions: usize,
    /// How many of the tokens to write out (the first ones created).
    #[arg(long, default_value_t = 1_000)]
    sample: usize,
    /// The password of bench@example.com.
    #[arg(long)]
    password: String,
    /// Directory for `user_id` and `tokens`.
    #[arg(long)]
    out: PathBuf,
    /// Inserts in flight at once. 1 by default: on SQLite, concurrent writers kept the WAL from
    /// ever being reset (8 in flight grew it to 830 MiB for 100,000 inserts, and the server would
    /// pay for the checkpoint during the measurements) while saving only a sixth of the time.
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Number of remember-me families to create for the user (0: none).
    #[arg(long, default_value_t = 0)]
    families: usize,
    /// File for the families' cookie values (`selector:validator`, one per line); required with
    /// `--families`.
    #[arg(long)]
    families_out: Option<PathBuf>,
}

/// Lifetime of the seeded families: the default preset ("balanced", 14 days).
const FAMILY_LIFETIME: Duration = Duration::from_secs(14 * 24 * 3600);

const EMAIL: &str = "bench@example.com";

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let config = tsuzuki_server::config::load(args.config.as_deref()).map_err(|issues| {
        let list: Vec<String> = issues.iter().map(|i| format!("  {i}")).collect();
        anyhow::anyhow!("invalid configuration:\n{}", list.join("\n"))
    })?;
    if args.sample > args.sessions {
        bail!("--sample must not exceed --sessions");
    }
    if args.families > 0 && args.families_out.is_none() {
        bail!("--families needs --families-out");
    }
    let store = tsuzuki_server::app::open_store(&config).await?;
    let clock = SystemClock;

    let started = Instant::now();
    let hash = tsuzuki_server::app::hasher(&config)?
        .hash(args.password.clone())
        .await?;
    let user = store
        .create_user(&NewUser {
            id: public_id("usr"),
            email: EMAIL.to_string(),
            password_hash: hash,
            now: clock.now(),
        })
        .await
        .with_context(|| format!("creating {EMAIL} (is the database fresh?)"))?;
    eprintln!(
        "seed: user {} ({}) created in {:.2?}",
        user.email,
        user.id,
        started.elapsed()
    );

    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("user_id"), format!("{}\n", user.id))?;
    let mut tokens = std::io::BufWriter::new(std::fs::File::create(args.out.join("tokens"))?);

    let started = Instant::now();
    let policy = config.session;
    let methods = session::methods_to_string(&[AuthMethod::Password]);
    let user_id: Arc<str> = user.id.clone().into();
    let mut in_flight = JoinSet::new();
    for n in 0..args.sessions {
        let token = SecretToken::generate();
        if n < args.sample {
            writeln!(tokens, "{}", token.encode())?;
        }
        // Each session began, and was last active, up to a minute ago (spread evenly), as in a
        // live population: sessions all created in the same second would all become due for
        // their coalesced activity write (`session.touch_interval`, 1 min) in the same second,
        // every minute of the run, which no real server sees.
        let began = clock.now().minus(Duration::from_secs((n % 60) as u64));
        let record = SessionRecord {
            id_hash: token.hash(),
            handle: public_id("ses"),
            user_id: user_id.to_string(),
            times: SessionTimes::begin(&policy, began),
            auth_time: began,
            methods: methods.clone(),
            remembered: false,
            remember_handle: None,
            ip: "127.0.0.1".into(),
            last_ip: "127.0.0.1".into(),
            user_agent: "tsuzuki-bench-seed".into(),
        };
        if in_flight.len() >= args.parallel.max(1) {
            insert_result(in_flight.join_next().await)?;
        }
        let store: Arc<dyn Store> = store.clone();
        in_flight.spawn(async move { store.insert_session(&record).await });
        if (n + 1) % 20_000 == 0 {
            eprintln!("seed: {} sessions ({:.1?})", n + 1, started.elapsed());
        }
    }
    while let Some(r) = in_flight.join_next().await {
        insert_result(Some(r))?;
    }
    tokens.flush()?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "seed: {} sessions inserted through Store::insert_session in {secs:.1} s ({:.0}/s); \
         {} tokens written to {}",
        args.sessions,
        args.sessions as f64 / secs,
        args.sample,
        args.out.join("tokens").display()
    );

    if let Some(path) = &args.families_out {
        let started = Instant::now();
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for _ in 0..args.families {
            let now = clock.now();
            let cookie = RememberCookie::generate();
            let record = RememberRecord {
                selector: cookie.selector.clone(),
                handle: public_id("rem"),
                user_id: user.id.clone(),
                state: FamilyState {
                    validator_hash: cookie.validator.hash(),
                    previous_hash: None,
                    rotated_at: None,
                    expires_at: now.plus(FAMILY_LIFETIME),
                    last_used_at: now,
                },
                sealed_successor: None,
                sealed_session: None,
                auth_time: now,
                methods: methods.clone(),
                created_at: now,
                ip: "127.0.0.1".into(),
                last_ip: "127.0.0.1".into(),
                user_agent: "bench".into(),
            };
            store
                .insert_remember(&record)
                .await
                .map_err(|e| anyhow::anyhow!("insert_remember failed: {e}"))?;
            writeln!(out, "{}", cookie.encode())?;
        }
        out.flush()?;
        eprintln!(
            "seed: {} remember-me families inserted through Store::insert_remember in {:.1?}; \
             cookies written to {}",
            args.families,
            started.elapsed(),
            path.display()
        );
    }
    Ok(())
}

fn insert_result(
    r: Option<Result<Result<(), tsuzuki_store::StoreError>, tokio::task::JoinError>>,
) -> Result<()> {
    match r {
        Some(Ok(Ok(()))) | None => Ok(()),
        Some(Ok(Err(e))) => Err(anyhow::anyhow!("insert_session failed: {e}")),
        Some(Err(e)) => Err(anyhow::anyhow!("insert task failed: {e}")),
    }
}
