//! `PgStore` and the facets that need no comments: accounts, the spam filter's state, readers'
//! subscriptions and the change log's reading side (comments, pages and moderation are in
//! `comments.rs`). Each write is one transaction; records are the store's serde documents in
//! `jsonb` columns.

use postgres::GenericClient;
use postgres::types::Json;
use talkback_store::{
    Accounts, AdminRecord, AuditRecord, Change, ChangeLog, Error, Label, Result, SessionRecord,
    SpamFilter, TokenCounts,
};

type Pool = r2d2::Pool<crate::pool::Manager>;
type Conn = r2d2::PooledConnection<crate::pool::Manager>;

/// Talkback's records in a PostgreSQL database.
pub struct PgStore {
    pool: Pool,
    target: crate::Target,
    transport: crate::Transport,
    /// A connection of its own that LISTENs for new changes (opened on first wait).
    listener: std::sync::Mutex<Option<postgres::Client>>,
    /// The newest change this process committed, and the newest known to be on disk (group
    /// commit, `comments.rs`).
    pub(crate) written: std::sync::atomic::AtomicU64,
    pub(crate) flushed: std::sync::Mutex<u64>,
    /// Whether the database delivers notifications (PostgreSQL does; CockroachDB has no
    /// `LISTEN/NOTIFY`, and YugabyteDB only when enabled): without them, followers poll.
    pub(crate) notify: bool,
    /// Writes PostgreSQL refused for want of space, and when (`Maintenance::disk`).
    pub(crate) disk: std::sync::Mutex<talkback_store::DiskState>,
}

/// The channel every write notifies at COMMIT (PostgreSQL delivers it only if it commits).
pub(crate) const CHANGES_CHANNEL: &str = "tb_changes";

/// A failure of PostgreSQL as the store's callers see it: `Unavailable` when the database
/// could not be reached or went away (the server answers 503 and the client retries), else
/// `Backend`.
pub(crate) fn backend(e: postgres::Error) -> Error {
    use postgres::error::SqlState;
    let lost_connection = e.is_closed()
        || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
        || e.code().is_some_and(|code| {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                // The session's timeouts (`connect.rs`): a lock or a statement waited too long;
                // the database is overloaded or stuck, and a retry may pass.
                || *code == SqlState::LOCK_NOT_AVAILABLE
                || *code == SqlState::QUERY_CANCELED
                || *code == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT
        });
    if lost_connection {
        Error::Unavailable(Box::new(e))
    } else if e.code().is_some_and(|code| {
        *code == SqlState::DISK_FULL || *code == SqlState::INSUFFICIENT_RESOURCES
    }) {
        // PostgreSQL refused the write for want of space and rolled it back.
        Error::Full(crate::said(&e))
    } else {
        // Through this crate's error, so the message says what PostgreSQL refused.
        Error::Backend(Box::new(crate::Error::Postgres(e)))
    }
}

/// Ids and sequence numbers are u64 in records and bigint in the database (they stay far below
/// 2^63).
pub(crate) fn sql_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

pub(crate) fn id_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn count_of(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl PgStore {
    /// Connects a pool of up to `connections` to `url` and brings the schema up to date.
    pub fn open(url: &str, connections: u32) -> Result<Self, crate::Error> {
        let target = crate::Target::parse(url)?;
        let mut client = target.connect().map_err(crate::Error::Connect)?;
        crate::check_durability(&mut client)?;
        let transport = crate::Transport {
            host: target.host(),
            local: target.is_local(),
            tls: crate::connect::encrypted(&mut client)?,
            verified: target.verified(),
        };
        // A migration may wait for another server's and may take long: no session timeout.
        client.batch_execute("SET statement_timeout = 0; SET lock_timeout = 0")?;
        crate::migrate(&mut client)?;
        let notify = client
            .batch_execute(&format!("SELECT pg_notify('{CHANGES_CHANNEL}', '0')"))
            .is_ok();
        let pool = r2d2::Pool::builder()
            .max_size(connections)
            // A request waits at most this long for a connection: when PostgreSQL is down the
            // server answers 503 quickly instead of hanging.
            .connection_timeout(std::time::Duration::from_secs(2))
            // Each connection is checked (an empty query) before use: after PostgreSQL
            // restarts, the pool's dead connections are replaced instead of failing one
            // request each. It costs a round trip per store call.
            .build(crate::pool::Manager {
                target: target.clone(),
            })
            .map_err(crate::Error::Pool)?;
        Ok(Self {
            pool,
            target,
            transport,
            listener: std::sync::Mutex::new(None),
            written: std::sync::atomic::AtomicU64::new(0),
            flushed: std::sync::Mutex::new(0),
            notify,
            disk: std::sync::Mutex::default(),
        })
    }

    /// How the store's connections are protected (the server warns when they cross a network
    /// without verified TLS).
    pub fn transport(&self) -> &crate::Transport {
        &self.transport
    }

    pub(crate) fn conn(&self) -> Result<Conn> {
        // The pool found no connection within its timeout: the database is down or unreachable.
        self.pool.get().map_err(|e| Error::Unavailable(Box::new(e)))
    }

    /// Runs `work` in one transaction, committed when it returns `Ok`.
    pub(crate) fn write<T>(
        &self,
        work: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(backend)?;
        let value = work(&mut tx)?;
        tx.commit().map_err(backend)?;
        Ok(value)
    }
}

/// The next value of the named counter, in the caller's transaction.
pub(crate) fn next(tx: &mut impl GenericClient, counter: &str) -> Result<u64> {
    let row = tx
        .query_one(
            "UPDATE tb_counters SET value = value + 1 WHERE name = $1 RETURNING value",
            &[&counter],
        )
        .map_err(backend)?;
    Ok(id_of(row.get(0)))
}

/// One `record` column, decoded.
pub(crate) fn records<T: serde::de::DeserializeOwned>(rows: Vec<postgres::Row>) -> Result<Vec<T>> {
    rows.iter().map(|row| decoded(row, 0)).collect()
}

/// A record column: a document this server cannot read (damaged, or written by a newer
/// server) is `Corrupt`, an error for this call alone, never a panic.
pub(crate) fn decoded<T: serde::de::DeserializeOwned>(
    row: &postgres::Row,
    column: usize,
) -> Result<T> {
    row.try_get::<_, Json<T>>(column)
        .map(|json| json.0)
        .map_err(unreadable)
}

/// A record column that may be NULL, as [`decoded`].
pub(crate) fn decoded_opt<T: serde::de::DeserializeOwned>(
    row: &postgres::Row,
    column: usize,
) -> Result<Option<T>> {
    row.try_get::<_, Option<Json<T>>>(column)
        .map(|json| json.map(|j| j.0))
        .map_err(unreadable)
}

fn unreadable(e: postgres::Error) -> Error {
    Error::Corrupt(format!("a stored record cannot be read: {e}"))
}

impl Accounts for PgStore {
    fn put_admin(&self, admin: AdminRecord) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO tb_admins (name, record) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET record = excluded.record",
                &[&admin.name, &Json(&admin)],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn admin(&self, name: &str) -> Result<Option<AdminRecord>> {
        let rows = self
            .conn()?
            .query("SELECT record FROM tb_admins WHERE name = $1", &[&name])
            .map_err(backend)?;
        Ok(records(rows)?.pop())
    }

    fn admins(&self) -> Result<Vec<AdminRecord>> {
        let rows = self
            .conn()?
            .query(
                "SELECT record FROM tb_admins ORDER BY name COLLATE \"C\"",
                &[],
            )
            .map_err(backend)?;
        records(rows)
    }

    fn remove_admin(&self, name: &str) -> Result<bool> {
        self.write(|tx| {
            tx.execute("DELETE FROM tb_sessions WHERE admin = $1", &[&name])
                .map_err(backend)?;
            let gone = tx
                .execute("DELETE FROM tb_admins WHERE name = $1", &[&name])
                .map_err(backend)?;
            Ok(gone > 0)
        })
    }

    fn put_session(&self, session: SessionRecord) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO tb_sessions (id_hash, admin, seen, record) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id_hash) DO UPDATE \
                 SET admin = excluded.admin, seen = excluded.seen, record = excluded.record",
                &[
                    &session.id_hash,
                    &session.admin,
                    &session.seen,
                    &Json(&session),
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>> {
        let rows = self
            .conn()?
            .query(
                "SELECT record FROM tb_sessions WHERE id_hash = $1",
                &[&id_hash],
            )
            .map_err(backend)?;
        Ok(records(rows)?.pop())
    }

    fn remove_session(&self, id_hash: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM tb_sessions WHERE id_hash = $1", &[&id_hash])
            .map_err(backend)?;
        Ok(())
    }

    fn prune_sessions(&self, seen_before: i64) -> Result<usize> {
        let gone = self
            .conn()?
            .execute("DELETE FROM tb_sessions WHERE seen < $1", &[&seen_before])
            .map_err(backend)?;
        Ok(usize::try_from(gone).unwrap_or(usize::MAX))
    }

    fn append_audit(&self, entry: AuditRecord) -> Result<u64> {
        self.write(|tx| {
            let seq = next(tx, "audit")?;
            let numbered = AuditRecord { seq, ..entry };
            tx.execute(
                "INSERT INTO tb_audit (seq, record) VALUES ($1, $2)",
                &[&sql_id(seq), &Json(&numbered)],
            )
            .map_err(backend)?;
            Ok(seq)
        })
    }

    fn audit_log(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditRecord>> {
        let rows = self
            .conn()?
            .query(
                "SELECT record FROM tb_audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
                &[
                    &before.map_or(i64::MAX, sql_id),
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                ],
            )
            .map_err(backend)?;
        records(rows)
    }
}

/// The spam filter's cursor, among the consumers' cursors.
const TRAINER: &str = "spam-trainer";

fn label_name(label: Label) -> &'static str {
    match label {
        Label::Spam => "spam",
        Label::Ham => "ham",
    }
}

/// Adds (or takes away) one document and its tokens under `label`; a token whose counts both
/// reach 0 goes.
fn count_tokens(
    tx: &mut postgres::Transaction<'_>,
    tokens: &[String],
    label: Label,
    add: bool,
) -> Result<()> {
    let step: i32 = if add { 1 } else { -1 };
    let (spam, ham) = match label {
        Label::Spam => (step, 0),
        Label::Ham => (0, step),
    };
    let docs = match label {
        Label::Spam => "spam_docs",
        Label::Ham => "ham_docs",
    };
    tx.execute(
        "UPDATE tb_counters SET value = GREATEST(value + $2, 0) WHERE name = $1",
        &[&docs, &i64::from(step)],
    )
    .map_err(backend)?;
    for token in tokens {
        tx.execute(
            "INSERT INTO tb_spam_tokens (token, spam, ham) VALUES ($1, GREATEST($2, 0), GREATEST($3, 0)) \
             ON CONFLICT (token) DO UPDATE SET spam = GREATEST(tb_spam_tokens.spam + $2, 0), \
             ham = GREATEST(tb_spam_tokens.ham + $3, 0)",
            &[token, &spam, &ham],
        )
        .map_err(backend)?;
    }
    tx.execute(
        "DELETE FROM tb_spam_tokens WHERE token = ANY($1) AND spam = 0 AND ham = 0",
        &[&tokens],
    )
    .map_err(backend)?;
    Ok(())
}

impl SpamFilter for PgStore {
    fn train(
        &self,
        comment: u64,
        tokens: &[String],
        label: Option<Label>,
        cursor: u64,
    ) -> Result<()> {
        self.write(|tx| {
            let before = tx
                .query_opt(
                    "SELECT label, tokens FROM tb_spam_trained WHERE comment = $1 FOR UPDATE",
                    &[&sql_id(comment)],
                )
                .map_err(backend)?
                .map(|row| {
                    let label = match row.get::<_, &str>(0) {
                        "spam" => Label::Spam,
                        _ => Label::Ham,
                    };
                    decoded::<Vec<String>>(&row, 1).map(|tokens| (label, tokens))
                })
                .transpose()?;
            // The same label again (or still none) changes no count.
            if before.as_ref().map(|(was, _)| *was) != label {
                if let Some((was, old_tokens)) = &before {
                    count_tokens(tx, old_tokens, *was, false)?;
                    tx.execute(
                        "DELETE FROM tb_spam_trained WHERE comment = $1",
                        &[&sql_id(comment)],
                    )
                    .map_err(backend)?;
                }
                if let Some(now) = label {
                    count_tokens(tx, tokens, now, true)?;
                    tx.execute(
                        "INSERT INTO tb_spam_trained (comment, label, tokens) VALUES ($1, $2, $3)",
                        &[&sql_id(comment), &label_name(now), &Json(tokens)],
                    )
                    .map_err(backend)?;
                }
            }
            set_cursor(tx, TRAINER, cursor)
        })
    }

    fn set_training_cursor(&self, cursor: u64) -> Result<()> {
        set_cursor(&mut self.conn()?.client, TRAINER, cursor)
    }

    fn training_cursor(&self) -> Result<u64> {
        Ok(self.consumer_cursor(TRAINER)?.unwrap_or(0))
    }

    fn token_counts(&self, tokens: &[String]) -> Result<TokenCounts> {
        let mut conn = self.conn()?;
        let docs = conn
            .query(
                "SELECT name, value FROM tb_counters WHERE name IN ('spam_docs', 'ham_docs')",
                &[],
            )
            .map_err(backend)?;
        let doc_count = |name: &str| {
            docs.iter()
                .find(|r| r.get::<_, &str>(0) == name)
                .map_or(0, |r| count_of(r.get(1)))
        };
        let known = conn
            .query(
                "SELECT token, spam, ham FROM tb_spam_tokens WHERE token = ANY($1)",
                &[&tokens],
            )
            .map_err(backend)?;
        let counts = tokens
            .iter()
            .map(|t| {
                known
                    .iter()
                    .find(|r| r.get::<_, &str>(0) == t)
                    .map_or((0, 0), |r| {
                        let n = |i| u32::try_from(r.get::<_, i32>(i)).unwrap_or(0);
                        (n(1), n(2))
                    })
            })
            .collect();
        Ok(TokenCounts {
            tokens: counts,
            spam_docs: doc_count("spam_docs"),
            ham_docs: doc_count("ham_docs"),
        })
    }
}

fn set_cursor(client: &mut impl GenericClient, name: &str, seq: u64) -> Result<()> {
    client
        .execute(
            "INSERT INTO tb_consumers (name, seq) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
            &[&name, &sql_id(seq)],
        )
        .map_err(backend)?;
    Ok(())
}

impl ChangeLog for PgStore {
    fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<Change>> {
        let mut conn = self.conn()?;
        let pruned = pruned_through(&mut conn.client)?;
        if after < pruned {
            return Err(Error::Pruned { through: pruned });
        }
        let rows = conn
            .query(
                "SELECT record FROM tb_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&sql_id(after), &i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .map_err(backend)?;
        records(rows)
    }

    fn last_change(&self) -> Result<u64> {
        let row = self
            .conn()?
            .query_one("SELECT value FROM tb_counters WHERE name = 'change'", &[])
            .map_err(backend)?;
        Ok(id_of(row.get(0)))
    }

    fn prune_changes(&self, before_ms: i64) -> Result<usize> {
        self.write(|tx| {
            // Sequence order is commit order, so times only grow (up to clock steps): prune up
            // to the first change that is recent enough.
            let first_kept: Option<i64> = tx
                .query_one(
                    "SELECT min(seq) FROM tb_changes WHERE at >= $1",
                    &[&before_ms],
                )
                .map_err(backend)?
                .get(0);
            let gone = tx
                .query(
                    "DELETE FROM tb_changes WHERE seq < $1 RETURNING seq",
                    &[&first_kept.unwrap_or(i64::MAX)],
                )
                .map_err(backend)?;
            if let Some(through) = gone.iter().map(|r| r.get::<_, i64>(0)).max() {
                // Recorded with the deletion: a consumer behind it must hear, never skip.
                let through = pruned_through(tx)?.max(id_of(through));
                tx.execute(
                    "INSERT INTO tb_meta (key, value) VALUES ('pruned', $1) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&through.to_be_bytes().to_vec()],
                )
                .map_err(backend)?;
            }
            Ok(gone.len())
        })
    }

    fn consumer_cursor(&self, name: &str) -> Result<Option<u64>> {
        let row = self
            .conn()?
            .query_opt("SELECT seq FROM tb_consumers WHERE name = $1", &[&name])
            .map_err(backend)?;
        Ok(row.map(|r| id_of(r.get(0))))
    }

    fn set_consumer_cursor(&self, name: &str, seq: u64) -> Result<()> {
        set_cursor(&mut self.conn()?.client, name, seq)
    }

    fn shared(&self) -> bool {
        true
    }

    fn claim(&self, name: &str, holder: &str, now_ms: i64, until_ms: i64) -> Result<bool> {
        // One statement: of servers claiming at once, the row lock lets one through.
        let granted = self
            .conn()?
            .execute(
                "INSERT INTO tb_leases (name, holder, until) VALUES ($1, $2, $4) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
                 WHERE tb_leases.holder = excluded.holder OR tb_leases.until < $3",
                &[&name, &holder, &now_ms, &until_ms],
            )
            .map_err(backend)?;
        Ok(granted == 1)
    }

    fn wait_for_changes(&self, timeout: std::time::Duration) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut listener = self
            .listener
            .lock()
            .map_err(|_| Error::Internal("listener lock poisoned".into()))?;
        if !self.notify {
            // Nothing to listen for: the caller reads the log after the timeout.
            std::thread::sleep(timeout);
            return Ok(());
        }
        if listener.is_none() {
            match self.target.connect() {
                Ok(mut client) => {
                    client
                        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
                        .map_err(backend)?;
                    *listener = Some(client);
                }
                Err(e) => {
                    // Down: the caller retries after the timeout (and polls meanwhile).
                    std::thread::sleep(timeout);
                    return Err(backend(e));
                }
            }
        }
        let Some(client) = listener.as_mut() else {
            return Ok(());
        };
        let outcome = {
            let mut notifications = client.notifications();
            let woke = notifications.timeout_iter(timeout).next();
            // Several writes may have notified: one read of the log covers them all.
            woke.and_then(|_| notifications.iter().count())
        };
        let closed = client.is_closed();
        if outcome.is_err() || closed {
            *listener = None;
        }
        outcome.map_err(backend)?;
        Ok(())
    }
}

/// The newest sequence number pruned from the change log (0: none).
fn pruned_through(client: &mut impl GenericClient) -> Result<u64> {
    let row = client
        .query_opt("SELECT value FROM tb_meta WHERE key = 'pruned'", &[])
        .map_err(backend)?;
    match row {
        None => Ok(0),
        Some(row) => <[u8; 8]>::try_from(row.get::<_, &[u8]>(0))
            .map(u64::from_be_bytes)
            .map_err(|_| Error::Corrupt("the pruned mark".into())),
    }
}
