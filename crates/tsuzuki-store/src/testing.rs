//! Test databases: a throw-away SQLite file or a PostgreSQL database of its own for each test, so
//! that parallel runs never collide.
//!
//! PostgreSQL is expected on `TSUZUKI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Where none answers, PostgreSQL tests print a loud
//! notice and skip — unless `TSUZUKI_REQUIRE_POSTGRES=1` (set by `.ci/run`), which makes them fail.

use sqlx::any::AnyConnectOptions;
use sqlx::{ConnectOptions, Row};
use std::str::FromStr;

const DB_PREFIX: &str = "tsuzuki_t_";

/// Where the PostgreSQL test server is.
pub fn postgres_admin_url() -> String {
    std::env::var("TSUZUKI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn postgres_required() -> bool {
    std::env::var("TSUZUKI_REQUIRE_POSTGRES").is_ok_and(|v| v == "1" || v == "true")
}

/// A database made for one test. Call [`TestDatabase::drop_database`] at the end; databases left
/// behind by a test process that died are dropped by the next run.
pub struct TestDatabase {
    pub url: String,
    name: Option<String>,
    _dir: Option<TempDir>,
}

/// A directory removed on drop (SQLite test files).
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let bytes: [u8; 8] = tsuzuki_core::token::random_bytes();
        let name = format!("tsuzuki-{label}-{}", data_encoding::HEXLOWER.encode(&bytes));
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl TestDatabase {
    /// A fresh, empty database of the given kind, or `None` (after a loud notice) if PostgreSQL
    /// is not available and not required.
    pub async fn create(kind: Kind) -> Option<TestDatabase> {
        match kind {
            Kind::Sqlite => {
                let dir = TempDir::new("db");
                let url = format!("sqlite://{}?mode=rwc", dir.0.join("test.db").display());
                Some(TestDatabase {
                    url,
                    name: None,
                    _dir: Some(dir),
                })
            }
            Kind::Postgres => create_postgres().await,
        }
    }

    pub async fn drop_database(self) {
        if let Some(name) = &self.name
            && let Ok(mut conn) = admin_connection().await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

async fn admin_connection() -> Result<sqlx::AnyConnection, sqlx::Error> {
    sqlx::any::install_default_drivers();
    AnyConnectOptions::from_str(&postgres_admin_url())?
        .disable_statement_logging()
        .connect()
        .await
}

async fn create_postgres() -> Option<TestDatabase> {
    let mut conn = match admin_connection().await {
        Ok(c) => c,
        Err(e) => {
            if postgres_required() {
                panic!(
                    "TSUZUKI_REQUIRE_POSTGRES is set but PostgreSQL at {} is unreachable: {e}",
                    postgres_admin_url()
                );
            }
            eprintln!(
                "\n!!! SKIPPING PostgreSQL test: no server at {} ({e}).\n!!! Set TSUZUKI_TEST_POSTGRES_URL, \
                 or TSUZUKI_REQUIRE_POSTGRES=1 to make this a failure.\n",
                postgres_admin_url()
            );
            return None;
        }
    };
    drop_orphans(&mut conn).await;
    let bytes: [u8; 6] = tsuzuki_core::token::random_bytes();
    let name = format!(
        "{DB_PREFIX}{}_{}",
        std::process::id(),
        data_encoding::HEXLOWER.encode(&bytes)
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let admin = postgres_admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(TestDatabase {
        url: format!("{base}/{name}"),
        name: Some(name),
        _dir: None,
    })
}

/// Drop test databases whose creating process is gone (a test run killed half-way).
async fn drop_orphans(conn: &mut sqlx::AnyConnection) {
    let Ok(rows) = sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'tsuzuki_t_%'")
        .fetch_all(&mut *conn)
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String, _>("datname") else {
            continue;
        };
        let pid = name
            .trim_start_matches(DB_PREFIX)
            .split('_')
            .next()
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
}
