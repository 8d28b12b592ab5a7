//! Versioned schema migrations, embedded in the binary, one list per backend.

use crate::backend::Backend;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::borrow::Cow;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database schema is at version {found}, newer than this tsuzuki knows (up to {known}); \
         it was migrated by a newer release. Run that release, or restore a backup taken before the upgrade"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("migration failed: {0}")]
    Failed(String),
}

const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "remember",
        include_str!("../migrations/sqlite/0002_remember.sql"),
    ),
    (
        3,
        "flows",
        include_str!("../migrations/sqlite/0003_flows.sql"),
    ),
    (
        4,
        "drafts",
        include_str!("../migrations/sqlite/0004_drafts.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "remember",
        include_str!("../migrations/postgres/0002_remember.sql"),
    ),
    (
        3,
        "flows",
        include_str!("../migrations/postgres/0003_flows.sql"),
    ),
    (
        4,
        "drafts",
        include_str!("../migrations/postgres/0004_drafts.sql"),
    ),
];

fn list(backend: Backend) -> &'static [(i64, &'static str, &'static str)] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// The newest schema version this binary knows.
pub fn latest_version(backend: Backend) -> i64 {
    list(backend).iter().map(|m| m.0).max().unwrap_or(0)
}

pub(crate) async fn apply(pool: &AnyPool, backend: Backend) -> Result<(), MigrateError> {
    let known = latest_version(backend);
    if let Some(found) = applied_version(pool).await
        && found > known
    {
        return Err(MigrateError::SchemaTooNew { found, known });
    }
    let migrations: Vec<Migration> = list(backend)
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(*sql),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::DEFAULT;
    migrator.migrations = Cow::Owned(migrations);
    migrator
        .run(pool)
        .await
        .map_err(|e| MigrateError::Failed(e.to_string()))
}

/// The highest applied version, or `None` on a fresh database.
async fn applied_version(pool: &AnyPool) -> Option<i64> {
    sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .ok()
        .and_then(|row| row.try_get::<Option<i64>, _>("v").ok().flatten())
}
