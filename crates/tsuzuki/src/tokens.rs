//! `tsuzuki token …` and `tsuzuki admin …`: operator actions on sessions and remembered devices,
//! straight on the database. A running server learns of revocations through its revocation feed
//! within `cache.revocation_poll_interval`.

use anyhow::{Result, bail};
use clap::Subcommand;
use tsuzuki_core::clock::{Clock, SystemClock};
use tsuzuki_server::config::Config;
use tsuzuki_server::operator;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// List an account's sessions and remembered devices (handles, devices, last use, expiry).
    List { email: String },
    /// End one session (ses_…) or remembered device (rem_…).
    Revoke { handle: String },
    /// End every session and remembered device of an account.
    RevokeUser { email: String },
    /// End every session and remembered device of every account. Needs --yes.
    RevokeAll {
        #[arg(long)]
        yes: bool,
    },
    /// Delete expired sessions and expired or long-unused remembered devices now.
    Cleanup,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Make an operator token for the admin API; prints the token once and the line for the
    /// configuration (only its SHA-256 is kept there).
    NewToken,
}

pub async fn run(command: TokenCommand, config: &Config) -> Result<()> {
    let store = tsuzuki_server::app::open_store(config).await?;
    let now = SystemClock.now();
    match command {
        TokenCommand::List { email } => {
            let lines = operator::list(&*store, &email).await?;
            println!(
                "{:<31} {:<10} {:<32} {:<16} {:<20} {:<20}",
                "HANDLE", "KIND", "DEVICE", "IP", "LAST USED", "EXPIRES"
            );
            for l in lines {
                println!(
                    "{:<31} {:<10} {:<32} {:<16} {:<20} {:<20}",
                    l.handle,
                    l.kind,
                    l.device,
                    l.ip,
                    tsuzuki_server::http::pages::human_time(tsuzuki_core::clock::Timestamp(
                        l.last_used_at
                    )),
                    tsuzuki_server::http::pages::human_time(tsuzuki_core::clock::Timestamp(
                        l.expires_at
                    )),
                );
            }
        }
        TokenCommand::Revoke { handle } => {
            let ended = operator::revoke_handle(&*store, &handle, now).await?;
            println!(
                "ended {} session(s) and {} remembered device(s)",
                ended.sessions, ended.remembered
            );
        }
        TokenCommand::RevokeUser { email } => {
            let ended = operator::revoke_user(&*store, &email, now).await?;
            println!(
                "ended {} session(s) and {} remembered device(s) of {email}",
                ended.sessions, ended.remembered
            );
        }
        TokenCommand::RevokeAll { yes } => {
            if !yes {
                bail!(
                    "this signs out every account on every device; run again with --yes to do it"
                );
            }
            let ended = operator::revoke_all(&*store, now).await?;
            println!(
                "ended {} session(s) and {} remembered device(s) of every account",
                ended.sessions, ended.remembered
            );
        }
        TokenCommand::Cleanup => {
            let ended = operator::cleanup(
                &*store,
                &config.session,
                config.expired_retention,
                &config.remember,
                now,
            )
            .await?;
            println!(
                "deleted {} expired session(s) and {} expired or unused remembered device(s)",
                ended.sessions, ended.remembered
            );
        }
    }
    Ok(())
}

pub fn admin(command: AdminCommand) {
    match command {
        AdminCommand::NewToken => {
            let token = tsuzuki_core::token::SecretToken::generate();
            let text = token.encode();
            let digest = tsuzuki_server::http::admin::token_digest(&text);
            println!("Operator token (shown once; keep it in your secret store):\n  {text}\n");
            println!("Add to the configuration:\n[admin]\ntoken_sha256 = \"{digest}\"");
        }
    }
}
