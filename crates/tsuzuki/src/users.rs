//! `tsuzuki user …`: account administration from the command line. Changes that end sessions go
//! through the store's revocation feed, so a running server drops them from its cache within its
//! poll interval.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::io::{BufRead, IsTerminal};
use tsuzuki_core::clock::{Clock, SystemClock};
use tsuzuki_core::email::Email;
use tsuzuki_core::events::EventKind;
use tsuzuki_core::token::public_id;
use tsuzuki_server::audit::Audit;
use tsuzuki_server::config::Config;
use tsuzuki_server::http::AppState;
use tsuzuki_server::operator;
use tsuzuki_store::{NewUser, Store};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is asked for (not echoed), or read from standard input.
    Add {
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Disable an account: it can no longer sign in, and all its sessions end at once.
    Disable { email: String },
    /// Set a new password; every session of the account ends.
    SetPassword {
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove every second factor, recovery code and trusted device of an account (a person
    /// who lost their phone and their recovery codes, after you have checked who they are).
    /// Every session and remembered device ends too; the next sign-in needs the password only.
    ResetFactors { email: String },
}

pub async fn run(command: UserCommand, config: &Config) -> Result<()> {
    let store = tsuzuki_server::app::open_store(config).await?;
    let now = SystemClock.now();
    match command {
        UserCommand::Add {
            email,
            password_stdin,
        } => {
            let password = read_password(password_stdin, config)?;
            let hasher = tsuzuki_server::app::hasher(config)?;
            // The same creation as the admin API's POST /api/admin/users.
            let u =
                operator::create_user(&*store, &hasher, &config.password, &email, password, now)
                    .await?;
            Audit::new(store.clone())
                .record(EventKind::UserCreated, now, Some(&u.id), None, None, "cli")
                .await;
            println!("created {} ({})", u.email, u.id);
        }
        UserCommand::List => {
            let users = store.list_users().await?;
            println!("{:<32} {:<40} {:<9}", "ID", "EMAIL", "STATUS");
            for u in users {
                println!(
                    "{:<32} {:<40} {:<9}",
                    u.id,
                    u.email,
                    if u.disabled { "disabled" } else { "active" }
                );
            }
        }
        UserCommand::Disable { email } => {
            let user = find(&*store, &email).await?;
            store.set_disabled(&user.id, true, now).await?;
            // Everything the account holds ends at once: sessions and remembered devices.
            let ended = store.revoke_user_sessions(&user.id, None, now).await?;
            let remembered = store.revoke_user_remember(&user.id, None).await?;
            store.revoke_user_trusted_devices(&user.id, None).await?;
            Audit::new(store.clone())
                .record(
                    EventKind::UserDisabled,
                    now,
                    Some(&user.id),
                    None,
                    None,
                    "cli",
                )
                .await;
            println!(
                "disabled {}; {ended} session(s) and {remembered} remembered device(s) ended",
                user.email
            );
        }
        UserCommand::SetPassword {
            email,
            password_stdin,
        } => {
            let user = find(&*store, &email).await?;
            let password = read_password(password_stdin, config)?;
            let hash = tsuzuki_server::app::hasher(config)?.hash(password).await?;
            store.set_password_hash(&user.id, &hash, now).await?;
            // R7 / SEC-39: a new password ends every session and remembered device that the old
            // one opened (the operator's change has no "current device" to keep).
            let ended = store.revoke_user_sessions(&user.id, None, now).await?;
            store.revoke_user_remember(&user.id, None).await?;
            store.revoke_user_trusted_devices(&user.id, None).await?;
            Audit::new(store.clone())
                .record(
                    EventKind::PasswordChanged,
                    now,
                    Some(&user.id),
                    None,
                    None,
                    "cli",
                )
                .await;
            println!(
                "password changed for {}; {ended} session(s) ended",
                user.email
            );
        }
        UserCommand::ResetFactors { email } => {
            let user = find(&*store, &email).await?;
            let removed = operator::remove_all_factors(&*store, &user.id, now).await?;
            let trusted = store.revoke_user_trusted_devices(&user.id, None).await?;
            // A factor change ends what the old factors protected (R7, SEC-40).
            let ended = store.revoke_user_sessions(&user.id, None, now).await?;
            let remembered = store.revoke_user_remember(&user.id, None).await?;
            Audit::new(store.clone())
                .record(
                    EventKind::FactorRemoved,
                    now,
                    Some(&user.id),
                    None,
                    None,
                    "cli: all factors",
                )
                .await;
            println!(
                "removed {} factor(s), the recovery codes and {trusted} trusted device(s) of {}; \
                 {ended} session(s) and {remembered} remembered device(s) ended",
                removed, user.email
            );
        }
    }
    Ok(())
}

async fn find(store: &dyn Store, email: &str) -> Result<tsuzuki_store::User> {
    let email = Email::parse(email).context("invalid email")?;
    store
        .user_by_email(&email)
        .await?
        .with_context(|| format!("no account with the email {email}"))
}

fn read_password(from_stdin: bool, config: &Config) -> Result<String> {
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Repeat password: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    };
    config
        .password
        .check(&password)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(password)
}

/// Create the demo account, or give it a new password, and return the password.
pub async fn ensure_demo_account(state: &AppState) -> Result<String> {
    // 100 random bits: a fresh password every start, so a demo left running is not an open door.
    let password: String = format!("demo-{}", public_id("p").trim_start_matches("p_"))
        .chars()
        .take(25)
        .collect();
    let hash = state.signin.hasher.hash(password.clone()).await?;
    let email = Email::parse("demo@example.com").expect("valid");
    let now = state.sessions.now();
    match state.store.user_by_email(&email).await? {
        Some(user) => {
            // A new password ends what the old one opened, demo or not (SEC-39).
            state.store.set_password_hash(&user.id, &hash, now).await?;
            state.sessions.revoke_user(&user.id, None).await?;
        }
        None => {
            state
                .store
                .create_user(&NewUser {
                    id: public_id("usr"),
                    email: email.to_string(),
                    password_hash: hash,
                    now,
                })
                .await?;
        }
    }
    Ok(password)
}
