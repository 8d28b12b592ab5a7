//! `tsuzuki`: the one binary. `serve` runs the server; `config` and `user` manage it.
//! This file only parses the command line and calls into `tsuzuki-server`.

mod tokens;
mod users;

/// mimalloc instead of the system allocator: measured with callgrind on `/auth/check`, glibc's
/// malloc and free were a third of the instructions of a session check (the request's futures are
/// larger than its fast per-thread cache), and glibc kept the 19 MiB argon2 blocks of a sign-in
/// burst resident afterwards. Built without transparent huge pages (Cargo.toml). See
/// docs/benchmarks.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use tsuzuki_core::clock::SystemClock;
use tsuzuki_server::app::Application;
use tsuzuki_server::config::{self, Config, LogFormat};
use tsuzuki_server::secrets::SecretKey;

#[derive(Parser)]
#[command(
    name = "tsuzuki",
    version,
    about = "Self-hosted session server that keeps people signed in safely"
)]
struct Cli {
    /// Configuration file (TOML). TSUZUKI_* environment variables override it.
    #[arg(long, global = true, env = "TSUZUKI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (zero configuration: SQLite in ./tsuzuki-data, http://localhost:8470).
    Serve {
        /// Also create (or reset) the demo account demo@example.com and print its password.
        #[arg(long)]
        demo: bool,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Operator actions on sessions and remembered devices.
    Token {
        #[command(subcommand)]
        command: tokens::TokenCommand,
    },
    /// Operator credentials for the admin API.
    Admin {
        #[command(subcommand)]
        command: tokens::AdminCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets redacted), or every invalid key and why.
    Check,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
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
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<&std::path::Path>) -> Result<Config> {
    config::load(path).map_err(|issues| {
        let list: Vec<String> = issues.iter().map(|i| format!("  {i}")).collect();
        anyhow::anyhow!("invalid configuration:\n{}", list.join("\n"))
    })
}

async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => match config::load(cli.config.as_deref()) {
            Ok(c) => {
                print!("{}", config::render_effective(&c));
                Ok(std::process::ExitCode::SUCCESS)
            }
            Err(issues) => {
                eprintln!(
                    "invalid configuration ({} problem{}):",
                    issues.len(),
                    if issues.len() == 1 { "" } else { "s" }
                );
                for issue in issues {
                    eprintln!("  {issue}");
                }
                Ok(std::process::ExitCode::from(2))
            }
        },
        Command::Token { command } => {
            let config = load_config(cli.config.as_deref())?;
            tokens::run(command, &config).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Admin { command } => {
            tokens::admin(command);
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::User { command } => {
            let config = load_config(cli.config.as_deref())?;
            users::run(command, &config).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Serve { demo } => {
            let config = load_config(cli.config.as_deref())?;
            init_logging(&config);
            serve(config, demo).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        // No ANSI colours: user input reaches logs, and escape codes in it must stay inert.
        LogFormat::Text => builder.with_ansi(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn serve(mut config: Config, demo: bool) -> Result<()> {
    if demo {
        demo_lifetimes(&mut config);
    }
    let shutdown = shutdown_signal().context("installing signal handlers")?;
    tsuzuki_server::app::ensure_data_dir(&config)?;
    let key = SecretKey::load_or_create(&config.data_dir)
        .with_context(|| format!("secret key in {}", config.data_dir.display()))?;
    let app = Application::build(config, Arc::new(SystemClock), key).await?;
    let public_url = app.state.config.public_url.clone();
    if demo {
        let password = users::ensure_demo_account(&app.state).await?;
        println!("Demo account: demo@example.com / {password}");
    }
    let addr = app.addr();
    println!("tsuzuki is serving {public_url} (listening on {addr})");
    tracing::info!(%addr, "listening");
    app.run(shutdown).await;
    println!("tsuzuki stopped");
    Ok(())
}

/// `--demo`: serve the demo inquiry page and use a short idle limit, so that a newcomer sees the
/// expiry warning, the autosave and the inline sign-in within minutes. An idle limit that was
/// configured (any value other than the default) is kept.
fn demo_lifetimes(config: &mut Config) {
    config.demo = true;
    let default = Config::defaults().session.idle_timeout;
    if config.session.idle_timeout == default {
        config.session.idle_timeout =
            std::time::Duration::from_secs(180).min(config.session.absolute_lifetime);
        println!("Demo: sessions end after 3 minutes without activity (session.idle_timeout)");
    }
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed when this function
/// is called, not when the future is first polled: a signal that arrives between "serving" and
/// the first poll must still mean a clean stop, not the default kill.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
