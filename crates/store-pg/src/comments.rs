//! Comments, pages and the moderator's decisions on PostgreSQL: `Reads`, `Writes`,
//! `Maintenance`, `Transfer` and `Moderation`.
//!
//! Every write that appends a change runs in one transaction that first locks the change log's
//! counter row (`tb_counters.change`, `FOR UPDATE`). Writers on every server queue on that
//! lock, so each sees what the one before it committed (READ COMMITTED takes a fresh snapshot
//! per statement), counts and reply totals are read and written without lost updates, and
//! sequence numbers are given out gapless in commit order. A write refused half-way (a locked
//! thread, a missing parent) rolls back, taking its sequence number with it.
//!
//! Group commit, as on sled: these transactions commit without waiting for the disk
//! (`synchronous_commit = off` for them alone), so a write is visible at once and an import of
//! many comments costs one disk flush, not one each; `flush_through` then commits one small
//! transaction that does wait, which puts every earlier commit on disk with it (the WAL is one
//! sequence), and the server acknowledges only after that. Concurrent callers share a flush.

use postgres::types::Json;
use postgres::{GenericClient, IsolationLevel, Transaction};
use talkback_store::{
    BanRecord, ChangeKind, CommentList, CommentQuery, CommentRecord, Deleted, Edit, Error, Listed,
    Maintenance, Moderation, NewComment, Order, PageRecord, Reads, RepliesPage, Result, Status,
    ThreadPage, Transfer, WriteSeq, Writes, author_identity,
};

use crate::pool::Db;
use crate::store::{PgStore, backend, decoded, decoded_opt, id_of, next, records, sql_id};
use talkback_store::kernel::{Tx, View};

/// Rows read per round trip when a scan filters in Rust (thread pages, replies, listings).
const BATCH: i64 = 200;
/// Replies read ahead under each top-level comment beyond those a page shows, so a few hidden
/// ones among them cost no second round trip.
const REPLY_SLACK: i64 = 8;

impl PgStore {
    /// A read-only transaction seeing one snapshot, so a page read in several statements is
    /// one consistent state even while other servers write.
    fn snapshot<T>(
        &self,
        work: impl FnOnce(&mut Db<'_, Transaction<'_>>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn()?;
        let (client, statements) = conn.parts();
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(backend)?;
        let value = work(&mut Db::new(&mut tx, statements))?;
        tx.commit().map_err(backend)?;
        Ok(value)
    }
}

fn one<T: serde::de::DeserializeOwned>(rows: Vec<postgres::Row>) -> Result<Option<T>> {
    Ok(records(rows)?.pop())
}

pub(crate) fn page_of(
    c: &mut Db<'_, impl GenericClient>,
    site: &str,
    key: &str,
) -> Result<Option<PageRecord>> {
    let rows = c
        .query(
            "SELECT record FROM tb_pages WHERE site = $1 AND key = $2",
            &[&site, &key],
        )
        .map_err(backend)?;
    one(rows)
}

pub(crate) fn page_by_id(
    c: &mut Db<'_, impl GenericClient>,
    id: u64,
) -> Result<Option<PageRecord>> {
    let rows = c
        .query("SELECT record FROM tb_pages WHERE id = $1", &[&sql_id(id)])
        .map_err(backend)?;
    one(rows)
}

pub(crate) fn comment_of(
    c: &mut Db<'_, impl GenericClient>,
    id: u64,
) -> Result<Option<CommentRecord>> {
    let rows = c
        .query(
            "SELECT record FROM tb_comments WHERE id = $1",
            &[&sql_id(id)],
        )
        .map_err(backend)?;
    one(rows)
}

/// Every comment of a page, by id.
pub(crate) fn page_comments(
    c: &mut Db<'_, impl GenericClient>,
    page_id: u64,
) -> Result<Vec<CommentRecord>> {
    let rows = c
        .query(
            "SELECT record FROM tb_comments WHERE page_id = $1 ORDER BY id",
            &[&sql_id(page_id)],
        )
        .map_err(backend)?;
    records(rows)
}

/// The store kernel's view of the threads in one read-only snapshot.
struct Snapshot<'a, 'd, 't> {
    tx: &'a mut Db<'d, Transaction<'t>>,
    /// The first replies under top-level comments, read ahead in one round trip: each with
    /// whether none follows.
    first: std::collections::HashMap<u64, (Vec<CommentRecord>, bool)>,
}

impl<'a, 'd, 't> Snapshot<'a, 'd, 't> {
    fn new(tx: &'a mut Db<'d, Transaction<'t>>) -> Self {
        Snapshot {
            tx,
            first: Default::default(),
        }
    }
}

impl View for Snapshot<'_, '_, '_> {
    fn page(&mut self, site: &str, key: &str) -> Result<Option<PageRecord>> {
        page_of(self.tx, site, key)
    }

    fn comment(&mut self, id: u64) -> Result<Option<CommentRecord>> {
        comment_of(self.tx, id)
    }

    fn pinned(&mut self, page_id: u64) -> Result<Vec<CommentRecord>> {
        records(
            self.tx
                .query(
                    "SELECT record FROM tb_comments WHERE page_id = $1 AND pinned ORDER BY id",
                    &[&sql_id(page_id)],
                )
                .map_err(backend)?,
        )
    }

    fn top_level(
        &mut self,
        page_id: u64,
        order: Order,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<CommentRecord>> {
        let query = match order {
            Order::OldestFirst => {
                "SELECT record FROM tb_comments WHERE page_id = $1 AND parent IS NULL \
                 AND NOT pinned AND id > $2 ORDER BY id LIMIT $3"
            }
            Order::NewestFirst => {
                "SELECT record FROM tb_comments WHERE page_id = $1 AND parent IS NULL \
                 AND NOT pinned AND id < $2 ORDER BY id DESC LIMIT $3"
            }
        };
        let cursor = match (order, after) {
            (_, Some(a)) => sql_id(a),
            (Order::OldestFirst, None) => 0,
            (Order::NewestFirst, None) => i64::MAX,
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        records(
            self.tx
                .query(query, &[&sql_id(page_id), &cursor, &limit])
                .map_err(backend)?,
        )
    }

    fn replies(
        &mut self,
        top: &CommentRecord,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<CommentRecord>, bool)> {
        if after == 0
            && let Some(first) = self.first.remove(&top.id)
        {
            return Ok(first);
        }
        let asked = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<CommentRecord> = records(
            self.tx
                .query(
                    "SELECT record FROM tb_comments WHERE page_id = $1 AND root = $2 \
                     AND id > $3 ORDER BY id LIMIT $4",
                    &[
                        &sql_id(top.page_id),
                        &sql_id(top.id),
                        &sql_id(after),
                        &asked,
                    ],
                )
                .map_err(backend)?,
        )?;
        let done = (rows.len() as i64) < asked;
        Ok((rows, done))
    }

    /// The first replies under every top-level comment in one round trip (each an index range
    /// with a limit), a few more than a page shows, so a few hidden ones among them cost no
    /// second round trip.
    fn prefetch_replies(&mut self, tops: &[&CommentRecord], each: usize) -> Result<()> {
        let Some(page_id) = tops.first().map(|t| t.page_id) else {
            return Ok(());
        };
        let roots: Vec<i64> = tops.iter().map(|c| sql_id(c.id)).collect();
        let asked = i64::try_from(each)
            .unwrap_or(i64::MAX)
            .saturating_add(1 + REPLY_SLACK);
        let mut first: std::collections::HashMap<u64, Vec<CommentRecord>> = Default::default();
        for row in self
            .tx
            .query(
                "SELECT t.root, r.record FROM unnest($2::bigint[]) AS t(root) \
                 CROSS JOIN LATERAL (SELECT record, id FROM tb_comments \
                 WHERE page_id = $1 AND root = t.root ORDER BY id LIMIT $3) r \
                 ORDER BY t.root, r.id",
                &[&sql_id(page_id), &roots, &asked],
            )
            .map_err(backend)?
        {
            first
                .entry(id_of(row.get(0)))
                .or_default()
                .push(decoded::<CommentRecord>(&row, 1)?);
        }
        for top in tops {
            let run = first.remove(&top.id).unwrap_or_default();
            let done = (run.len() as i64) < asked;
            self.first.insert(top.id, (run, done));
        }
        Ok(())
    }
}

impl Reads for PgStore {
    fn comment(&self, id: u64) -> Result<Option<CommentRecord>> {
        comment_of(&mut self.conn()?.db(), id)
    }

    fn page(&self, site: &str, page_key: &str) -> Result<Option<PageRecord>> {
        page_of(&mut self.conn()?.db(), site, page_key)
    }

    fn page_by_id(&self, page_id: u64) -> Result<Option<PageRecord>> {
        page_by_id(&mut self.conn()?.db(), page_id)
    }

    fn thread_page(
        &self,
        site: &str,
        page_key: &str,
        order: Order,
        limit: usize,
        after: Option<u64>,
        replies_each: usize,
    ) -> Result<ThreadPage> {
        self.snapshot(|tx| {
            Snapshot::new(tx).thread_page(site, page_key, order, limit, after, replies_each)
        })
    }

    fn replies_page(
        &self,
        site: &str,
        page_key: &str,
        root: u64,
        after: u64,
        seen: u32,
        limit: usize,
    ) -> Result<RepliesPage> {
        self.snapshot(|tx| Snapshot::new(tx).replies_page(site, page_key, root, after, seen, limit))
    }

    fn counts(&self, site: &str, page_keys: &[&str]) -> Result<Vec<u32>> {
        let rows = self
            .conn()?
            .query(
                "SELECT key, record FROM tb_pages WHERE site = $1 AND key = ANY($2)",
                &[&site, &page_keys],
            )
            .map_err(backend)?;
        let found: std::collections::HashMap<String, u32> = rows
            .iter()
            .map(|row| Ok((row.get(0), decoded::<PageRecord>(row, 1)?.count)))
            .collect::<Result<_>>()?;
        Ok(page_keys
            .iter()
            .map(|key| found.get(*key).copied().unwrap_or(0))
            .collect())
    }
}

impl Writes for PgStore {
    fn insert_comment(&self, new: NewComment) -> Result<(CommentRecord, WriteSeq)> {
        self.change(|w| w.insert_comment(&new))
    }

    fn edit_comment(&self, id: u64, edit: Edit) -> Result<(CommentRecord, WriteSeq)> {
        self.change(|w| w.edit_comment(id, &edit))
    }

    fn delete_comment(&self, id: u64) -> Result<(Deleted, WriteSeq)> {
        self.change(|w| w.delete_comment(id))
    }

    fn flush_through(&self, seq: WriteSeq) -> Result<()> {
        if seq.0 == 0 {
            return Ok(());
        }
        let mut flushed = self
            .flushed
            .lock()
            .map_err(|_| Error::Internal("flush lock poisoned".into()))?;
        if *flushed >= seq.0 {
            return Ok(());
        }
        // Everything this process committed so far is before the flush in the WAL.
        let target = self.written.load(std::sync::atomic::Ordering::SeqCst);
        // A commit waits for the disk only when its transaction wrote WAL of its own (an xid
        // alone does not count: PostgreSQL then commits asynchronously), so the flush writes
        // one of a few rows (few, so servers flushing at once seldom queue on one) and commits
        // with `synchronous_commit = on`, whatever the database's default: once it returns,
        // the WAL up to it, and so every earlier commit, is on disk.
        let slot = format!("flush/{}", std::process::id() % 16);
        self.conn()?
            .simple_query(&format!(
                "BEGIN; SET LOCAL synchronous_commit = on; \
                 INSERT INTO tb_meta (key, value) VALUES ('{slot}', '\\x00') \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value; COMMIT"
            ))
            .map_err(backend)?;
        *flushed = (*flushed).max(target);
        Ok(())
    }
}

/// How long after PostgreSQL last refused a write for want of space the disk counts as full.
const FULL_FOR_MS: i64 = 30_000;

impl Maintenance for PgStore {
    fn ensure_site(&self, site: &str) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO tb_sites (id, created) VALUES ($1, 0) ON CONFLICT (id) DO NOTHING",
                &[&site],
            )
            .map_err(backend)?;
        Ok(())
    }

    /// PostgreSQL's disk cannot be looked at from here: it counts as full while writes were
    /// refused for want of space within the last `FULL_FOR_MS` (30 s), so a server nobody writes
    /// through does not stay unready.
    fn disk(&self) -> talkback_store::DiskState {
        let Ok(mut disk) = self.disk.lock() else {
            return talkback_store::DiskState::default();
        };
        if let Some(last) = disk.last_refused
            && crate::now_ms() - last > FULL_FOR_MS
        {
            disk.room(last);
        }
        disk.clone()
    }

    fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>> {
        let key = format!("secret:{name}");
        let mut conn = self.conn()?;
        // Only the first caller's bytes are kept (on any server); everyone reads those back.
        conn.execute(
            "INSERT INTO tb_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &fresh],
        )
        .map_err(backend)?;
        let row = conn
            .query_one("SELECT value FROM tb_meta WHERE key = $1", &[&key])
            .map_err(backend)?;
        Ok(row.get(0))
    }

    fn delete_page(&self, site: &str, page_key: &str) -> Result<(usize, WriteSeq)> {
        self.change(|w| w.delete_page(site, page_key))
    }

    fn set_page_meta(
        &self,
        site: &str,
        page_key: &str,
        title: Option<String>,
        url: Option<String>,
    ) -> Result<(PageRecord, WriteSeq)> {
        self.change(|w| w.set_page_meta(site, page_key, title, url))
    }

    fn count_use(&self, key: &str, window_ms: i64, length_ms: i64) -> Result<u32> {
        let mut conn = self.conn()?;
        let expires = window_ms.saturating_add(length_ms);
        let used: i32 = conn
            .query_one(
                "INSERT INTO tb_quotas (key, window_start, used, expires) VALUES ($1, $2, 1, $3) \
                 ON CONFLICT (key) DO UPDATE SET \
                 used = CASE WHEN tb_quotas.window_start = $2 THEN tb_quotas.used + 1 ELSE 1 END, \
                 window_start = $2, expires = $3 RETURNING used",
                &[&key, &window_ms, &expires],
            )
            .map_err(backend)?
            .get(0);
        if used == 1 {
            // A key's first use in a window: keys whose window ended ten minutes ago go.
            conn.execute(
                "DELETE FROM tb_quotas WHERE expires < $1",
                &[&(window_ms - 600_000)],
            )
            .map_err(backend)?;
        }
        Ok(u32::try_from(used).unwrap_or(0))
    }

    fn spend_once(&self, token: &[u8], expires_ms: i64, now_ms: i64) -> Result<bool> {
        let mut conn = self.conn()?;
        let first = conn
            .execute(
                "INSERT INTO tb_spent (token, expires) VALUES ($1, $2) ON CONFLICT (token) DO NOTHING",
                &[&token, &expires_ms],
            )
            .map_err(backend)?
            == 1;
        // Expired rows go now and then (tokens are random, so about one use in 64 sweeps).
        if token.first().is_some_and(|b| b % 64 == 0) {
            conn.execute("DELETE FROM tb_spent WHERE expires < $1", &[&now_ms])
                .map_err(backend)?;
        }
        Ok(first)
    }

    fn move_page(&self, site: &str, from: &str, to: &str) -> Result<(usize, WriteSeq)> {
        self.change(|w| w.move_page(site, from, to))
    }
}

impl Transfer for PgStore {
    fn comment_by_source(&self, site: &str, source: &str) -> Result<Option<u64>> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT comment FROM tb_sources WHERE site = $1 AND source = $2",
                &[&site, &source],
            )
            .map_err(backend)?;
        Ok(row.map(|r| id_of(r.get(0))))
    }

    fn comments_by_source(
        &self,
        site: &str,
        sources: &[&str],
    ) -> Result<std::collections::HashMap<String, u64>> {
        let rows = self
            .conn()?
            .db()
            .query(
                "SELECT source, comment FROM tb_sources WHERE site = $1 AND source = ANY($2)",
                &[&site, &sources],
            )
            .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get(0), id_of(row.get(1))))
            .collect())
    }

    fn export_site(&self, site: &str) -> Result<Vec<(PageRecord, Vec<CommentRecord>)>> {
        self.snapshot(|tx| {
            let pages: Vec<PageRecord> = records(
                tx.query(
                    "SELECT record FROM tb_pages WHERE site = $1 ORDER BY key COLLATE \"C\"",
                    &[&site],
                )
                .map_err(backend)?,
            )?;
            pages
                .into_iter()
                .map(|page| {
                    let comments = page_comments(tx, page.id)?;
                    Ok((page, comments))
                })
                .collect()
        })
    }
}

impl Moderation for PgStore {
    fn set_status(&self, id: u64, status: Status) -> Result<(CommentRecord, WriteSeq)> {
        self.change(|w| w.set_status(id, status))
    }

    fn list_comments(&self, query: &CommentQuery) -> Result<CommentList> {
        let mut conn = self.conn()?;
        // What the indexes can answer is asked in SQL (status, site, page: `tb_comments_held`,
        // `tb_comments_site_status`, `tb_comments_page_status`); the rest of the query (words,
        // dates) is `CommentQuery::matches` over what comes back, newest first.
        let statuses: Vec<&str> = query.statuses.iter().map(|s| s.name()).collect();
        let sites: Option<Vec<String>> = query.sites.clone();
        let page_id: Option<i64> = match (&query.page, query.sites.as_deref()) {
            (Some(key), Some([site])) => match page_of(&mut conn.db(), site, key)? {
                Some(page) => Some(sql_id(page.id)),
                None => {
                    return Ok(CommentList {
                        items: Vec::new(),
                        next_before: None,
                    });
                }
            },
            _ => None,
        };
        let mut sql = String::from(
            "SELECT c.id, c.record, p.record FROM tb_comments c \
             LEFT JOIN tb_pages p ON p.id = c.page_id WHERE c.id < $1",
        );
        let mut extra: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::new();
        // One value is compared as one (`= ANY` of a single value would not let the planner
        // read the index in id order).
        match statuses.as_slice() {
            [] => {}
            [one] => {
                extra.push(one);
                sql.push_str(&format!(" AND c.status = ${}", extra.len() + 2));
            }
            _ => {
                extra.push(&statuses);
                sql.push_str(&format!(" AND c.status = ANY(${})", extra.len() + 2));
            }
        }
        match sites.as_deref() {
            None => {}
            Some([one]) => {
                extra.push(one);
                sql.push_str(&format!(" AND c.site = ${}", extra.len() + 2));
            }
            Some(_) => {
                extra.push(&sites);
                sql.push_str(&format!(" AND c.site = ANY(${})", extra.len() + 2));
            }
        }
        if let Some(page_id) = &page_id {
            extra.push(page_id);
            sql.push_str(&format!(" AND c.page_id = ${}", extra.len() + 2));
        }
        sql.push_str(" ORDER BY c.id DESC LIMIT $2");
        // Read in batches, on demand: the rule stops reading once the page is full.
        let mut before = query.before.map_or(i64::MAX, sql_id);
        let mut batch = std::collections::VecDeque::new();
        let mut exhausted = false;
        let stored = std::iter::from_fn(|| {
            if batch.is_empty() && !exhausted {
                let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&before, &BATCH];
                params.extend(extra.iter().copied());
                match conn.query(sql.as_str(), &params) {
                    Ok(rows) => {
                        exhausted = (rows.len() as i64) < BATCH;
                        batch.extend(rows);
                    }
                    Err(e) => return Some(Err(backend(e))),
                }
            }
            let row = batch.pop_front()?;
            let id: i64 = row.get(0);
            before = id;
            let listed = (|| {
                let comment: CommentRecord = decoded(&row, 1)?;
                let page: Option<PageRecord> = decoded_opt(&row, 2)?;
                Ok(page.map(|page| Listed { comment, page }))
            })();
            Some(listed.map(|listed| (id_of(id), listed)))
        });
        query.collect(stored)
    }

    fn approved_comments_by(&self, site: &str, email: &str, name: &str) -> Result<u32> {
        let Some((email, name)) = author_identity(Some(email), name) else {
            return Ok(0);
        };
        let row = self
            .conn()?
            .query_opt(
                "SELECT approved FROM tb_authors WHERE site = $1 AND email = $2 AND name = $3",
                &[&site, &email, &name],
            )
            .map_err(backend)?;
        Ok(row.map_or(0, |r| u32::try_from(r.get::<_, i32>(0)).unwrap_or(0)))
    }

    fn set_pinned(&self, id: u64, pinned: bool) -> Result<(CommentRecord, WriteSeq)> {
        self.change(|w| w.set_pinned(id, pinned))
    }

    fn set_locked(
        &self,
        site: &str,
        page_key: &str,
        locked: bool,
    ) -> Result<(PageRecord, WriteSeq)> {
        self.change(|w| w.set_locked(site, page_key, locked))
    }

    fn put_ban(&self, mut ban: BanRecord) -> Result<BanRecord> {
        self.write(|tx| {
            ban.id = next(tx, "ban")?;
            tx.execute(
                "INSERT INTO tb_bans (id, record) VALUES ($1, $2)",
                &[&sql_id(ban.id), &Json(&ban)],
            )
            .map_err(backend)?;
            Ok(ban)
        })
    }

    fn bans(&self) -> Result<Vec<BanRecord>> {
        let rows = self
            .conn()?
            .query("SELECT record FROM tb_bans ORDER BY id", &[])
            .map_err(backend)?;
        records(rows)
    }

    fn remove_ban(&self, id: u64) -> Result<bool> {
        let gone = self
            .conn()?
            .execute("DELETE FROM tb_bans WHERE id = $1", &[&sql_id(id)])
            .map_err(backend)?;
        Ok(gone > 0)
    }

    fn site_settings(&self, site: &str) -> Result<Option<String>> {
        let row = self
            .conn()?
            .query_opt("SELECT document FROM tb_settings WHERE site = $1", &[&site])
            .map_err(backend)?;
        Ok(row.map(|r| r.get(0)))
    }

    fn put_site_settings(&self, site: &str, settings: &str) -> Result<()> {
        self.change(|w| {
            w.tx.execute(
                "INSERT INTO tb_settings (site, document) VALUES ($1, $2) \
                 ON CONFLICT (site) DO UPDATE SET document = excluded.document",
                &[&site, &settings],
            )
            .map_err(backend)?;
            w.append(site, "", None, ChangeKind::SiteChanged)
        })
        .and_then(|((), seq)| self.flush_through(seq))
    }
}

impl PgStore {
    /// Stores a page and its comments exactly as another store exported them (ids, totals,
    /// statuses, import sources), for moving a database here (`talkback migrate-store`): ids
    /// stay, so links to comments (in mail, feeds, bookmarks) still work. One transaction,
    /// appending one [`ChangeKind::PageUpdated`]. `Conflict` when the page or a comment id is
    /// taken.
    pub fn restore_page(&self, page: &PageRecord, comments: &[CommentRecord]) -> Result<()> {
        self.change(|w| {
            let ids: Vec<i64> = comments.iter().map(|c| sql_id(c.id)).collect();
            let taken =
                w.tx.query_opt(
                    "SELECT 1 FROM tb_pages WHERE id = $1 OR (site = $2 AND key = $3) \
                     UNION ALL SELECT 1 FROM tb_comments WHERE id = ANY($4) LIMIT 1",
                    &[&sql_id(page.id), &page.site, &page.key, &ids],
                )
                .map_err(backend)?;
            if taken.is_some() {
                return Err(Error::Conflict);
            }
            w.put_page(page)?;
            for rec in comments {
                w.put_comment(&page.site, rec)?;
                if let Some(source) = &rec.source {
                    w.add_source(&page.site, source, rec.id)?;
                }
                w.count_approval(&page.site, rec, None, Some(rec.status))?;
            }
            // Ids given out from here on follow the restored ones.
            let highest = comments.iter().map(|c| c.id).max().unwrap_or(0);
            w.ids_above(highest, page.id);
            w.append(&page.site, &page.key, None, ChangeKind::PageUpdated)
        })
        .and_then(|((), seq)| self.flush_through(seq))
    }
}
