//! Talkback on PostgreSQL, for a publication that outgrows one machine: the schema
//! (`migrations/`, a table per kind of record of `talkback-store`), its migrations (embedded in
//! the binary, versioned, forward-only, idempotent, and safe when several servers start at
//! once), and [`PgStore`], every facet of the store, passing the same conformance suite as
//! sled. Any number of servers may share one database: writes serialise on the change log's
//! counter row (`write.rs`), so counts and the change log stay exact whichever server writes.

use postgres::Client;

mod comments;
mod connect;
mod pool;
mod store;
mod subscriptions;
mod write;

pub use connect::{SslMode, Target, Transport};
pub use store::PgStore;

/// One step of the schema. Versions only grow; a released migration is never edited.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sql: include_str!("../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "import sources outlive their comments",
        sql: include_str!("../migrations/0002_sources.sql"),
    },
    Migration {
        version: 3,
        name: "consumers' leases",
        sql: include_str!("../migrations/0003_leases.sql"),
    },
    Migration {
        version: 4,
        name: "rate limits shared by servers",
        sql: include_str!("../migrations/0004_quotas.sql"),
    },
    Migration {
        version: 5,
        name: "one-time tokens used, counts in windows of any length, listings by site and page",
        sql: include_str!("../migrations/0005_spent.sql"),
    },
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach PostgreSQL: {0}")]
    Connect(#[source] postgres::Error),
    /// A newer server migrated the database: this one would misread it.
    #[error(
        "the database is at schema version {database}, newer than this server knows ({known}): run the newer server"
    )]
    TooNew { database: i32, known: i32 },
    #[error("PostgreSQL failed: {}", said(.0))]
    Postgres(#[from] postgres::Error),
    #[error("cannot open connections to PostgreSQL: {0}")]
    Pool(#[source] r2d2::Error),
    /// The database does not make commits durable, so an acknowledged comment could be lost.
    #[error(
        "PostgreSQL runs with fsync = off: a power cut or a crash of its machine would lose \
         acknowledged comments. Set fsync = on in postgresql.conf and reload it"
    )]
    NotDurable,
    /// The database URL, its `sslmode` or its `sslrootcert` cannot be used.
    #[error("the database URL cannot be used: {0}")]
    Url(String),
}

/// Refuses a database whose commits never reach the disk (`fsync = off`). A default of
/// `synchronous_commit = off` is fine: the store's flush asks for a synchronous commit itself.
pub fn check_durability(client: &mut Client) -> Result<(), Error> {
    let fsync: String = client.query_one("SHOW fsync", &[])?.get(0);
    if fsync == "off" {
        return Err(Error::NotDurable);
    }
    Ok(())
}

/// What PostgreSQL said, when it refused a statement (the client's own text is only "db
/// error"), or the client's error.
pub(crate) fn said(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{e}: {db}"),
        None => e.to_string(),
    }
}

/// Connects to `url` (`postgres://user@host:port/database`, with libpq's `sslmode` and
/// `sslrootcert`).
pub fn connect(url: &str) -> Result<Client, Error> {
    Target::parse(url)?.connect().map_err(Error::Connect)
}

/// Brings the schema to the newest version this server knows; returns the versions applied
/// now (none when it was current).
pub fn migrate(client: &mut Client) -> Result<Vec<i32>, Error> {
    ensure_version_table(client)?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let newest: i32 = client
        .query_one("SELECT coalesce(max(version), 0) FROM tb_migrations", &[])?
        .get(0);
    if newest > known {
        return Err(Error::TooNew {
            database: newest,
            known,
        });
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > newest) {
        let mut tx = client.transaction()?;
        // The version's row first: a server starting at the same moment blocks on it until
        // this transaction ends, then finds it taken and skips the step (or, had this one
        // failed and rolled back, applies it itself).
        let claimed = tx.execute(
            "INSERT INTO tb_migrations (version, name, applied) VALUES ($1, $2, $3) \
             ON CONFLICT (version) DO NOTHING",
            &[&migration.version, &migration.name, &now_ms()],
        )?;
        if claimed == 0 {
            continue;
        }
        tx.batch_execute(migration.sql)?;
        tx.commit()?;
        applied.push(migration.version);
    }
    Ok(applied)
}

/// The versions applied to the database, oldest first.
pub fn applied(client: &mut Client) -> Result<Vec<i32>, Error> {
    Ok(client
        .query("SELECT version FROM tb_migrations ORDER BY version", &[])?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

fn ensure_version_table(client: &mut Client) -> Result<(), Error> {
    const CREATE: &str = "CREATE TABLE IF NOT EXISTS tb_migrations (\
        version integer PRIMARY KEY, name text NOT NULL, applied bigint NOT NULL)";
    match client.batch_execute(CREATE) {
        Ok(()) => Ok(()),
        // Servers creating it at once: one wins, and the others may be refused in several
        // ways (a duplicate table, of its row type: "type already exists", or of a catalog
        // row). Whatever was said, the table being there now is what matters.
        Err(e) => {
            let there: bool = client
                .query_one("SELECT to_regclass('tb_migrations') IS NOT NULL", &[])?
                .get(0);
            if there { Ok(()) } else { Err(e.into()) }
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
