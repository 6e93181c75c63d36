//! The one way a write that appends a change reaches PostgreSQL (see `comments.rs` for why it
//! holds the change log's lock), shaped for few round trips, since every one of them is spent
//! holding the lock that all servers' writers queue on:
//!
//! 1. `BEGIN`, this transaction's commit not waiting for the disk, and the lock: one round trip.
//! 2. The write reads what it needs (usually one statement).
//! 3. Everything it changed (pages, comments, import sources, authors' counts), the counters
//!    and the change itself go in **one** statement, with the `NOTIFY` that wakes the followers
//!    (where the database has it): the write's records wait in [`Pending`] until then, and its
//!    own reads see them there. What it removed goes in a second statement, only if anything.
//! 4. `COMMIT`.

use std::collections::BTreeMap;

use postgres::Client;
use postgres::types::Json;
use talkback_store::kernel::Tx;
use talkback_store::{Change, ChangeKind, CommentRecord, Error, NewComment, PageRecord, Result};

use crate::pool::Db;
use crate::store::{CHANGES_CHANNEL, PgStore, backend, sql_id};

/// What a write changed, kept until it appends its change (the latest state of each record;
/// `None`: removed).
#[derive(Default)]
struct Pending {
    pages: BTreeMap<u64, Option<PageRecord>>,
    /// Each comment with its site (a column queries filter on).
    comments: BTreeMap<u64, Option<(String, CommentRecord)>>,
    /// Import sources: (site, source, comment).
    sources: Vec<(String, String, u64)>,
    /// Approved comments per (site, e-mail, name): the change to each count.
    authors: BTreeMap<(String, String, String), i32>,
}

/// Records a write read ahead in one round trip, for the reads of its rule.
#[derive(Default)]
struct ReadAhead {
    /// (site, key, page).
    page: Option<(String, String, Option<PageRecord>)>,
    /// (site, source, seen).
    source: Option<(String, String, bool)>,
    comments: BTreeMap<u64, Option<CommentRecord>>,
}

/// A write transaction holding the change log's lock.
pub(crate) struct Write<'t> {
    pub(crate) tx: Db<'t, Client>,
    /// The counters locked with the change log's (`tb_counters`): the last change, comment
    /// and page ids given out, written back with the change.
    last: u64,
    pub(crate) comment: u64,
    pub(crate) page: u64,
    change: Option<Change>,
    pending: Pending,
    /// What the write read ahead (`prefetch_insert`).
    read: ReadAhead,
    /// Whether the database can `NOTIFY` (CockroachDB cannot).
    notify: bool,
}

/// Rolls back a transaction that did not commit (a refused write, a lost connection, or a
/// panic), so the connection goes back to the pool outside any transaction.
struct Open<'c> {
    client: &'c mut Client,
    finished: bool,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // A failure here means the connection is gone; the pool drops a closed one.
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}

impl PgStore {
    /// Runs a write that appends (at most) one change: committed when it appended one, rolled
    /// back when it decided there was nothing to do (`WriteSeq(0)`) or failed.
    pub(crate) fn change<T>(
        &self,
        work: impl FnOnce(&mut Write<'_>) -> Result<T>,
    ) -> Result<(T, talkback_store::WriteSeq)> {
        let result = self.change_once(work);
        // What a full disk did, for `/readyz`: refused writes, and when writes went through
        // again.
        if let Ok(mut disk) = self.disk.lock() {
            match &result {
                Err(Error::Full(_)) => disk.refused(crate::now_ms()),
                Ok(_) => disk.room(crate::now_ms()),
                Err(_) => {}
            }
        }
        result
    }

    fn change_once<T>(
        &self,
        work: impl FnOnce(&mut Write<'_>) -> Result<T>,
    ) -> Result<(T, talkback_store::WriteSeq)> {
        let mut conn = self.conn()?;
        let (client, statements) = conn.parts();
        let mut counters = std::collections::HashMap::new();
        let opened = client.simple_query(
            "BEGIN; SET LOCAL synchronous_commit = off; \
             SELECT name, value FROM tb_counters \
             WHERE name IN ('change', 'comment', 'page') ORDER BY name FOR UPDATE",
        );
        let mut open = Open {
            client,
            finished: false,
        };
        for message in opened.map_err(backend)? {
            if let postgres::SimpleQueryMessage::Row(row) = message
                && let (Some(name), Some(value)) = (row.get(0), row.get(1))
                && let Ok(value) = value.parse::<u64>()
            {
                counters.insert(name.to_owned(), value);
            }
        }
        let counter = |name: &str| {
            counters
                .get(name)
                .copied()
                .ok_or_else(|| Error::Corrupt(format!("the {name} counter is missing")))
        };
        let mut write = Write {
            last: counter("change")?,
            comment: counter("comment")?,
            page: counter("page")?,
            tx: Db::new(&mut *open.client, statements),
            change: None,
            pending: Pending::default(),
            read: ReadAhead::default(),
            notify: self.notify,
        };
        let value = work(&mut write)?;
        let Some(change) = write.change.take() else {
            return Ok((value, talkback_store::WriteSeq(0)));
        };
        let seq = change.seq;
        write.store(&change)?;
        open.client.batch_execute("COMMIT").map_err(backend)?;
        open.finished = true;
        self.written
            .fetch_max(seq, std::sync::atomic::Ordering::SeqCst);
        Ok((value, talkback_store::WriteSeq(seq)))
    }
}

impl Tx for Write<'_> {
    fn comment(&mut self, id: u64) -> Result<Option<CommentRecord>> {
        if let Some(pending) = self.pending.comments.get(&id) {
            return Ok(pending.as_ref().map(|(_, rec)| rec.clone()));
        }
        if let Some(read) = self.read.comments.get(&id) {
            return Ok(read.clone());
        }
        crate::comments::comment_of(&mut self.tx, id)
    }

    fn page(&mut self, site: &str, key: &str) -> Result<Option<PageRecord>> {
        if let Some(page) = self
            .pending
            .pages
            .values()
            .flatten()
            .find(|p| p.site == site && p.key == key)
        {
            return Ok(Some(page.clone()));
        }
        let stored = match self.read.page.take_if(|(s, k, _)| s == site && k == key) {
            Some((_, _, page)) => page,
            None => crate::comments::page_of(&mut self.tx, site, key)?,
        };
        // A page this write removed or gave another key is not there any more.
        Ok(stored.filter(|p| !self.pending.pages.contains_key(&p.id)))
    }

    fn page_by_id(&mut self, id: u64) -> Result<Option<PageRecord>> {
        if let Some(pending) = self.pending.pages.get(&id) {
            return Ok(pending.clone());
        }
        crate::comments::page_by_id(&mut self.tx, id)
    }

    fn page_comments(&mut self, page_id: u64) -> Result<Vec<CommentRecord>> {
        crate::comments::page_comments(&mut self.tx, page_id)
    }

    fn source_seen(&mut self, site: &str, source: &str) -> Result<bool> {
        if let Some((_, _, seen)) = self
            .read
            .source
            .take_if(|(s, k, _)| s == site && k == source)
        {
            return Ok(seen);
        }
        let row = self
            .tx
            .query_opt(
                "SELECT 1 FROM tb_sources WHERE site = $1 AND source = $2",
                &[&site, &source],
            )
            .map_err(backend)?;
        Ok(row.is_some())
    }

    fn next_comment_id(&mut self) -> Result<u64> {
        self.comment += 1;
        Ok(self.comment)
    }

    fn next_page_id(&mut self) -> Result<u64> {
        self.page += 1;
        Ok(self.page)
    }

    fn put_page(&mut self, page: &PageRecord) -> Result<()> {
        self.pending.pages.insert(page.id, Some(page.clone()));
        Ok(())
    }

    fn remove_page(&mut self, page: &PageRecord) -> Result<()> {
        self.pending.pages.insert(page.id, None);
        Ok(())
    }

    fn put_comment(&mut self, site: &str, rec: &CommentRecord) -> Result<()> {
        self.pending
            .comments
            .insert(rec.id, Some((site.to_owned(), rec.clone())));
        Ok(())
    }

    fn remove_comment(&mut self, _site: &str, rec: &CommentRecord) -> Result<()> {
        self.pending.comments.insert(rec.id, None);
        Ok(())
    }

    fn add_source(&mut self, site: &str, source: &str, comment: u64) -> Result<()> {
        self.pending
            .sources
            .push((site.to_owned(), source.to_owned(), comment));
        Ok(())
    }

    fn count_author(&mut self, site: &str, email: &str, name: &str, delta: i32) -> Result<()> {
        *self
            .pending
            .authors
            .entry((site.to_owned(), email.to_owned(), name.to_owned()))
            .or_default() += delta;
        Ok(())
    }

    fn append(
        &mut self,
        site: &str,
        page_key: &str,
        comment: Option<u64>,
        kind: ChangeKind,
    ) -> Result<()> {
        if self.change.is_some() {
            return Err(Error::Internal("a write appends one change".into()));
        }
        self.change = Some(Change {
            seq: self.last + 1,
            at: crate::now_ms(),
            site: site.to_owned(),
            page_key: page_key.to_owned(),
            comment,
            kind,
        });
        Ok(())
    }

    /// Whether the source was seen, the page, the parent and its top-level comment: one round
    /// trip, its answers kept for the rule's reads.
    fn prefetch_insert(&mut self, new: &NewComment) -> Result<()> {
        let row = self
            .tx
            .query_opt(
                "SELECT EXISTS (SELECT 1 FROM tb_sources WHERE site = $1 AND source = $3), \
                 (SELECT record FROM tb_pages WHERE site = $1 AND key = $2), \
                 (SELECT record FROM tb_comments WHERE id = $4), \
                 (SELECT t.record FROM tb_comments p JOIN tb_comments t ON t.id = p.root \
                 WHERE p.id = $4)",
                &[
                    &new.site,
                    &new.page_key,
                    &new.source,
                    &new.parent.map(sql_id),
                ],
            )
            .map_err(backend)?
            .ok_or_else(|| Error::Internal("no row from a SELECT of values".into()))?;
        let page: Option<PageRecord> = crate::store::decoded_opt(&row, 1)?;
        self.read.page = Some((new.site.clone(), new.page_key.clone(), page));
        if let Some(source) = &new.source {
            self.read.source = Some((new.site.clone(), source.clone(), row.get(0)));
        }
        if let Some(parent) = new.parent {
            let stored: Option<CommentRecord> = crate::store::decoded_opt(&row, 2)?;
            self.read.comments.insert(parent, stored);
        }
        if let Some(top) = crate::store::decoded_opt::<CommentRecord>(&row, 3)? {
            self.read.comments.insert(top.id, Some(top));
        }
        Ok(())
    }
}

impl Write<'_> {
    /// Gives out ids after those of restored records (`restore_page`).
    pub(crate) fn ids_above(&mut self, comment: u64, page: u64) {
        self.comment = self.comment.max(comment);
        self.page = self.page.max(page);
    }

    /// Stores the write's records, counters and change in one statement.
    fn store(&mut self, change: &Change) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let (sql_seq, change_record) = (sql_id(change.seq), Json(change));
        let (comment_counter, page_counter) = (sql_id(self.comment), sql_id(self.page));
        let (mut pages_gone, mut page_ids, mut page_sites, mut page_keys, mut page_records) =
            (vec![], vec![], vec![], vec![], vec![]);
        for (id, page) in &pending.pages {
            match page {
                None => pages_gone.push(sql_id(*id)),
                Some(page) => {
                    page_ids.push(sql_id(page.id));
                    page_sites.push(page.site.as_str());
                    page_keys.push(page.key.as_str());
                    page_records.push(Json(page));
                }
            }
        }
        let mut comments_gone = vec![];
        let mut c = CommentColumns::default();
        for (id, comment) in &pending.comments {
            match comment {
                None => comments_gone.push(sql_id(*id)),
                Some((site, rec)) => c.push(site, rec),
            }
        }
        let (mut source_sites, mut sources, mut source_comments) = (vec![], vec![], vec![]);
        for (site, source, comment) in &pending.sources {
            source_sites.push(site.as_str());
            sources.push(source.as_str());
            source_comments.push(sql_id(*comment));
        }
        let (mut author_sites, mut emails, mut names, mut deltas) =
            (vec![], vec![], vec![], vec![]);
        for ((site, email, name), delta) in pending.authors.iter().filter(|(_, d)| **d != 0) {
            author_sites.push(site.as_str());
            emails.push(email.as_str());
            names.push(name.as_str());
            deltas.push(*delta);
        }
        // Data-modifying parts of one statement all run (and see the same snapshot); each
        // modifies a table of its own (CockroachDB refuses two on one table) and foreign keys
        // are checked when the statement ends.
        let notify = self.notify;
        let statement = if notify { STORE_AND_NOTIFY } else { STORE };
        let seq_text = change.seq.to_string();
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![
            &sql_seq,
            &change.at,
            &change_record,
            &comment_counter,
            &page_counter,
            &page_ids,
            &page_sites,
            &page_keys,
            &page_records,
            &c.ids,
            &c.pages,
            &c.parents,
            &c.roots,
            &c.statuses,
            &c.pinned,
            &c.sites,
            &c.sources,
            &c.created,
            &c.records,
            &source_sites,
            &sources,
            &source_comments,
            &author_sites,
            &emails,
            &names,
            &deltas,
        ];
        if notify {
            params.push(&CHANGES_CHANNEL);
            params.push(&seq_text);
        }
        self.tx.execute(statement, &params).map_err(backend)?;
        // What the write removed, after what it stored: a comment moved away from a page
        // before the page goes. An author with no approved comment left has no row.
        if !comments_gone.is_empty() || !pages_gone.is_empty() || deltas.iter().any(|d| *d < 0) {
            self.tx
                .execute(
                    "WITH comments_gone AS (DELETE FROM tb_comments WHERE id = ANY($1)), \
                     authors_gone AS (DELETE FROM tb_authors WHERE approved <= 0 \
                     AND (site, email, name) IN \
                     (SELECT * FROM unnest($3::text[], $4::text[], $5::text[]))) \
                     DELETE FROM tb_pages WHERE id = ANY($2)",
                    &[&comments_gone, &pages_gone, &author_sites, &emails, &names],
                )
                .map_err(backend)?;
        }
        Ok(())
    }
}

/// The statement that stores a write's records, its counters and its change (`Write::store`).
macro_rules! store_statement {
    () => {
        "WITH counters AS (UPDATE tb_counters SET value = CASE name \
     WHEN 'change' THEN $1::bigint WHEN 'comment' THEN $4::bigint ELSE $5::bigint END \
     WHERE name IN ('change', 'comment', 'page')), \
     pages_put AS (INSERT INTO tb_pages (id, site, key, record) \
     SELECT * FROM unnest($6::bigint[], $7::text[], $8::text[], $9::jsonb[]) \
     ON CONFLICT (id) DO UPDATE SET site = excluded.site, key = excluded.key, \
     record = excluded.record), \
     comments_put AS (INSERT INTO tb_comments \
     (id, page_id, parent, root, status, pinned, site, source, created, record) \
     SELECT * FROM unnest($10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], \
     $14::text[], $15::boolean[], $16::text[], $17::text[], $18::bigint[], $19::jsonb[]) \
     ON CONFLICT (id) DO UPDATE SET page_id = excluded.page_id, parent = excluded.parent, \
     root = excluded.root, status = excluded.status, pinned = excluded.pinned, \
     site = excluded.site, record = excluded.record), \
     sources AS (INSERT INTO tb_sources (site, source, comment) \
     SELECT * FROM unnest($20::text[], $21::text[], $22::bigint[]) ON CONFLICT DO NOTHING), \
     authors AS (INSERT INTO tb_authors (site, email, name, approved) \
     SELECT * FROM unnest($23::text[], $24::text[], $25::text[], $26::integer[]) \
     ON CONFLICT (site, email, name) \
     DO UPDATE SET approved = tb_authors.approved + excluded.approved) \
     INSERT INTO tb_changes (seq, at, record) SELECT $1::bigint, $2::bigint, $3::jsonb"
    };
}

const STORE: &str = store_statement!();

/// [`STORE`], and the notification that wakes the followers on every server at COMMIT (they
/// also poll, in case one is lost, or when the database cannot notify).
const STORE_AND_NOTIFY: &str = concat!(
    store_statement!(),
    " FROM (SELECT pg_notify($27::text, $28::text)) AS notified"
);

/// Comments as the columns of `tb_comments`, one array each.
#[derive(Default)]
struct CommentColumns<'a> {
    ids: Vec<i64>,
    pages: Vec<i64>,
    parents: Vec<Option<i64>>,
    roots: Vec<Option<i64>>,
    statuses: Vec<&'static str>,
    pinned: Vec<bool>,
    sites: Vec<&'a str>,
    sources: Vec<Option<&'a str>>,
    created: Vec<i64>,
    records: Vec<Json<&'a CommentRecord>>,
}

impl<'a> CommentColumns<'a> {
    fn push(&mut self, site: &'a str, rec: &'a CommentRecord) {
        self.ids.push(sql_id(rec.id));
        self.pages.push(sql_id(rec.page_id));
        self.parents.push(rec.parent.map(sql_id));
        self.roots.push(rec.root.map(sql_id));
        self.statuses.push(rec.status.name());
        self.pinned.push(rec.pinned);
        self.sites.push(site);
        self.sources.push(rec.source.as_deref());
        self.created.push(rec.created);
        self.records.push(Json(rec));
    }
}
