//! Talkback's default backend: every facet of `talkback-store` on a sled database on disk.
//! Every multi-record change is one sled transaction, which also appends the write's entry to
//! the change log; the conformance suite of `talkback-store` runs against it (`tests.rs`).
//!
//! Key layout (all integers big-endian so byte order is numeric order):
//! - `meta`: `format` → the store format version.
//! - `sites`: site id → creation time.
//! - `pages`: `site \0 page_key` → [`PageRecord`]; `page_ids`: page id → the `pages` key.
//! - `comments`: comment id → [`CommentRecord`].
//! - `sources`: `site \0 source id` → comment id, for idempotent imports.
//! - `index`: `page id | parent id (0 = top level) | comment id` → empty. Keyset paging of
//!   top-level comments and reply lookup are both prefix scans of this tree.
//! - `replies`: `page id | top-level id | comment id` → empty, for every reply: the replies
//!   under one top-level comment in id order (a parent always before its replies), so they can
//!   be paged like top-level comments.
//! - `meta`: `level` → the upgrades applied to an older database (see `UPGRADE_LEVEL`);
//!   `secret:NAME` → a secret created on first start; `pruned` → the newest change pruned.
//! - `changes`: sequence number → [`Change`]; the empty key holds the last sequence number
//!   given out. Every write transaction reads and bumps it, so sequence numbers follow commit
//!   order with no gaps (sled retries a transaction that lost the race).
//! - `held`, the moderation indexes: `status byte | comment id` → empty, for every pending
//!   or spam comment (the queue, newest first, without scanning every comment); and
//!   `0x10 | site \0 e-mail \0 name` (both lowercase) → how many approved comments that author
//!   has on the site (u32), for first-time moderation; and `0x20 | site \0 | comment id` →
//!   empty for every approved comment, so a site's feed is a reverse range scan. Every status
//!   change updates all three in its transaction.
//! - `pins`: `page id | comment id` → empty, for every pinned top-level comment: read first.
//! - `bans`: id → [`BanRecord`](talkback_store::BanRecord); `settings`: site → the server's
//!   settings document for it.
//! - `admins`: name → [`AdminRecord`](talkback_store::AdminRecord); `sessions`: hash of the cookie → [`SessionRecord`](talkback_store::SessionRecord);
//!   `audit`: sequence number → [`AuditRecord`](talkback_store::AuditRecord) (the empty key holds the last one).
//! - `spam`, `trained` and `meta`'s `spam:cursor`: the spam filter's learned state (`spam.rs`).
//! - `subs`, `sub_keys`, `confirmed`, `mailed`: readers' mail subscriptions (`subscriptions.rs`).
//! - `quotas`: budget key → window start, window end (ms) and uses so far, for counts that
//!   must survive a restart (mail to readers); keys whose window ended go a few at a time.
//! - `spent`: `expiry (ms) | token` → empty, for every one-time token used (form tokens' salts):
//!   expired ones are the front of the tree, swept a few at a time.

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use sled::transaction::TransactionalTree;
use talkback_store::{
    Change, ChangeKind, ChangeLog, CommentRecord, Deleted, Edit, Error, Maintenance, NewComment,
    Order, PageRecord, ParentProblem, Reads, RepliesPage, Result, Status, ThreadPage, Transfer,
    WriteSeq, Writes,
};

use crate::codec::{FORMAT_VERSION, decode, encode};
pub use crate::durable::RESERVE_BYTES;
use crate::durable::{Disk, sync_dir};

mod codec;
mod durable;
mod moderation;
mod spam;
mod subscriptions;

/// Level 2 added the `replies` tree, `root` and `descendants` on comments and `comments` on
/// pages; level 3 the `held` tree; level 4 the approved-author counts in it; level 5 each
/// site's approved comments in it. A database
/// written before them is upgraded once when opened.
const UPGRADE_LEVEL: u8 = 5;

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// sled's page cache, in bytes (sled's own default of 1 GiB is far too much for a VPS).
    pub cache_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Comments in a sled database on disk.
pub struct SledStore {
    pub(crate) db: sled::Db,
    pub(crate) sites: sled::Tree,
    pub(crate) pages: sled::Tree,
    pub(crate) page_ids: sled::Tree,
    pub(crate) comments: sled::Tree,
    pub(crate) index: sled::Tree,
    pub(crate) replies: sled::Tree,
    pub(crate) sources: sled::Tree,
    pub(crate) meta: sled::Tree,
    pub(crate) changes: sled::Tree,
    pub(crate) held: sled::Tree,
    pins: sled::Tree,
    bans: sled::Tree,
    settings: sled::Tree,
    admins: sled::Tree,
    sessions: sled::Tree,
    audit: sled::Tree,
    spam: sled::Tree,
    trained: sled::Tree,
    subs: sled::Tree,
    sub_keys: sled::Tree,
    confirmed: sled::Tree,
    mailed: sled::Tree,
    /// One-time tokens used, by expiry (see the key layout).
    spent: sled::Tree,
    /// Uses of budgets in their current windows (see the key layout).
    quotas: sled::Tree,
    flush: GroupCommit,
    /// Makes flushes durable and keeps writes off a full disk (`durable.rs`).
    disk: Disk,
    /// Held while a write transaction runs: every one bumps the change log's sequence, so
    /// concurrent ones would only conflict and retry; in turn, they run in microseconds.
    writing: Mutex<()>,
}

/// Group commit: writers take a sequence number after their write; the first to reach the
/// flush lock flushes everything written so far, and those queued behind it find their
/// write already durable.
#[derive(Default)]
struct GroupCommit {
    written: AtomicU64,
    flushed: Mutex<u64>,
}

type TxError = ConflictableTransactionError<Error>;

fn abort(e: Error) -> TxError {
    ConflictableTransactionError::Abort(e)
}

fn tx_result<T>(r: Result<T, TransactionError<Error>>) -> Result<T> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => backend(e),
    })
}

fn backend(e: sled::Error) -> Error {
    Error::Backend(Box::new(e))
}

/// sled's results as the store's.
trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for sled::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(backend)
    }
}

/// The key of the last sequence number in `changes` (sorts before every entry).
const LAST_SEQ: &[u8] = b"";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn seq_of(bytes: &[u8]) -> Result<u64> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| Error::Corrupt("bad change sequence".into()))
}

/// Appends a change inside the write's transaction, under the next sequence number.
fn append_change(
    changes: &TransactionalTree,
    page: &PageRecord,
    comment: Option<u64>,
    kind: ChangeKind,
) -> Result<(), TxError> {
    append(changes, &page.site, &page.key, comment, kind)
}

/// Appends a change to a whole site (its page key empty), inside the write's transaction.
fn append_site_change(
    changes: &TransactionalTree,
    site: &str,
    kind: ChangeKind,
) -> Result<(), TxError> {
    append(changes, site, "", None, kind)
}

fn append(
    changes: &TransactionalTree,
    site: &str,
    page_key: &str,
    comment: Option<u64>,
    kind: ChangeKind,
) -> Result<(), TxError> {
    let last = match changes.get(LAST_SEQ)? {
        Some(bytes) => seq_of(&bytes).map_err(abort)?,
        None => 0,
    };
    let change = Change {
        seq: last + 1,
        at: now_ms(),
        site: site.to_owned(),
        page_key: page_key.to_owned(),
        comment,
        kind,
    };
    changes.insert(LAST_SEQ, &change.seq.to_be_bytes())?;
    changes.insert(&change.seq.to_be_bytes(), encode(&change).map_err(abort)?)?;
    Ok(())
}

fn page_key_bytes(site: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + key.len() + 1);
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

fn index_key(page: u64, parent: u64, id: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&page.to_be_bytes());
    k[8..16].copy_from_slice(&parent.to_be_bytes());
    k[16..].copy_from_slice(&id.to_be_bytes());
    k
}

/// A page record by id, inside a transaction (with its `pages` key).
fn load_page(
    pages: &TransactionalTree,
    page_ids: &TransactionalTree,
    page_id: u64,
) -> Result<(sled::IVec, PageRecord), TxError> {
    let Some(key) = page_ids.get(page_id.to_be_bytes())? else {
        return Err(abort(Error::Corrupt(format!("page {page_id} missing"))));
    };
    match pages.get(&key)? {
        Some(bytes) => Ok((key, decode(&bytes).map_err(abort)?)),
        None => Err(abort(Error::Corrupt("page record missing".into()))),
    }
}

/// A comment that is not a tombstone, inside a transaction (`NotFound` otherwise).
pub(crate) fn live_comment(
    comments: &TransactionalTree,
    id: u64,
) -> Result<CommentRecord, TxError> {
    let rec: CommentRecord = match comments.get(id.to_be_bytes())? {
        Some(bytes) => decode(&bytes).map_err(abort)?,
        None => return Err(abort(Error::comment_not_found(id))),
    };
    if rec.status == Status::Deleted {
        return Err(abort(Error::comment_not_found(id)));
    }
    Ok(rec)
}

/// The `held` key of a comment with this status, if the status is held.
fn held_key(status: Status, id: u64) -> Option<[u8; 9]> {
    let tag = match status {
        Status::Pending => 1,
        Status::Spam => 2,
        Status::Approved | Status::Deleted | Status::Pingback => return None,
    };
    let mut k = [0u8; 9];
    k[0] = tag;
    k[1..].copy_from_slice(&id.to_be_bytes());
    Some(k)
}

/// The `held` key counting an author's approved comments on a site (none without an e-mail).
pub(crate) fn approved_key(site: &str, email: Option<&str>, name: &str) -> Option<Vec<u8>> {
    let (email, name) = talkback_store::author_identity(email, name)?;
    let mut k = Vec::with_capacity(site.len() + email.len() + name.len() + 3);
    k.push(APPROVED_TAG);
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    k.extend_from_slice(email.as_bytes());
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    Some(k)
}

const APPROVED_TAG: u8 = 0x10;

/// The `held` key listing an approved comment under its site: `0x20 | site \0 | id`, so a
/// site's approved comments, newest first, are a reverse range scan (feeds, recent comments).
pub(crate) fn site_approved_key(site: &str, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + 10);
    k.push(SITE_APPROVED_TAG);
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub(crate) const SITE_APPROVED_TAG: u8 = 0x20;

/// Counts a status change from `was` to `now` in the author's approved comments on `site`,
/// and lists or unlists the comment among the site's approved ones.
fn count_approval(
    held: &TransactionalTree,
    site: &str,
    rec: &CommentRecord,
    was: Option<Status>,
    now: Option<Status>,
) -> Result<(), TxError> {
    let (before, after) = (was == Some(Status::Approved), now == Some(Status::Approved));
    if before == after {
        return Ok(());
    }
    if after {
        held.insert(site_approved_key(site, rec.id), &[])?;
    } else {
        held.remove(site_approved_key(site, rec.id))?;
    }
    let Some(key) = approved_key(site, rec.email.as_deref(), &rec.author) else {
        return Ok(());
    };
    let n = held
        .get(&key)?
        .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
        .map_or(0, u32::from_be_bytes);
    let n = if after {
        n.saturating_add(1)
    } else {
        n.saturating_sub(1)
    };
    if n == 0 {
        held.remove(key)?;
    } else {
        held.insert(key, &n.to_be_bytes())?;
    }
    Ok(())
}

/// The `pins` key of a pinned comment.
fn pin_key(page: u64, id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&page.to_be_bytes());
    k[8..].copy_from_slice(&id.to_be_bytes());
    k
}

/// Moves a comment's `held` entry from status `was` to `now`.
fn rehold(held: &TransactionalTree, id: u64, was: Status, now: Status) -> Result<(), TxError> {
    if let Some(k) = held_key(was, id) {
        held.remove(&k)?;
    }
    if let Some(k) = held_key(now, id) {
        held.insert(&k, &[])?;
    }
    Ok(())
}

fn id_from_index_key(key: &[u8]) -> Result<u64> {
    key.get(16..24)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| Error::Corrupt("short index key".into()))
}

impl SledStore {
    /// Opens (or creates) the store at `path`.
    ///
    /// A directory that held a store (it has the marker) whose database now opens without
    /// one was cut off mid-write: it is refused, never served empty.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Self> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_bytes)
            .open()
            .map_err(|e| match e {
                sled::Error::Corruption { .. } => Error::Corrupt(format!(
                    "sled cannot read its log ({e}); it was damaged, for instance cut off \
                     mid-write by a failing disk: restore the last backup into a new, empty \
                     database directory (talkback import --format talkback BACKUP --site SITE)"
                )),
                other => backend(other),
            })?;
        let marker = path.join(durable::MARKER);
        let existed = marker.exists();
        let store = Self::with_db(db, Disk::open(path)?, existed)?;
        if !existed {
            // The format key is durable now: from here on, an empty database is a lost one.
            store.disk.sync(&store.db)?;
            std::fs::write(&marker, b"")
                .and_then(|()| File::open(&marker)?.sync_all())
                .and_then(|()| sync_dir(path))
                .map_err(|e| {
                    Error::Backend(format!("cannot mark {}: {e}", marker.display()).into())
                })?;
        }
        Ok(store)
    }

    /// A store in a temporary directory, removed on drop (for tests).
    pub fn temporary() -> Result<Self> {
        Self::with_db(
            sled::Config::new().temporary(true).open().db()?,
            Disk::temporary(),
            false,
        )
    }

    fn with_db(db: sled::Db, disk: Disk, existed: bool) -> Result<Self> {
        let meta = db.open_tree("meta").db()?;
        match meta.get("format").db()? {
            None if existed => {
                return Err(Error::Corrupt(
                    "the database opens empty although it held comments: it was cut off \
                     mid-write (its log was lost). Keep this directory for inspection and \
                     restore the last backup into a new, empty database directory \
                     (talkback import --format talkback BACKUP --site SITE)"
                        .into(),
                ));
            }
            None => {
                meta.insert("format", &[FORMAT_VERSION]).db()?;
                meta.insert("level", &[UPGRADE_LEVEL]).db()?;
            }
            Some(v) if v.as_ref() == [FORMAT_VERSION] => {}
            Some(v) => return Err(Error::Corrupt(format!("unsupported store format {v:?}"))),
        }
        let tree = |name: &str| db.open_tree(name).db();
        let store = Self {
            sites: tree("sites")?,
            pages: tree("pages")?,
            page_ids: tree("page_ids")?,
            comments: tree("comments")?,
            index: tree("index")?,
            replies: tree("replies")?,
            sources: tree("sources")?,
            changes: tree("changes")?,
            held: tree("held")?,
            pins: tree("pins")?,
            bans: tree("bans")?,
            settings: tree("settings")?,
            admins: tree("admins")?,
            sessions: tree("sessions")?,
            audit: tree("audit")?,
            spam: tree("spam")?,
            trained: tree("trained")?,
            subs: tree("subs")?,
            sub_keys: tree("sub_keys")?,
            confirmed: tree("confirmed")?,
            mailed: tree("mailed")?,
            spent: tree("spent")?,
            quotas: tree("quotas")?,
            meta,
            db,
            flush: GroupCommit::default(),
            disk,
            writing: Mutex::new(()),
        };
        store.upgrade()?;
        Ok(store)
    }

    /// Brings an older database up to [`UPGRADE_LEVEL`]: recomputes every comment's root and
    /// every top-level comment's descendants, every page's comment total, and the `replies`
    /// tree. Runs before the store is shared, so nothing writes meanwhile; rerunning after a
    /// crash starts over from the records.
    fn upgrade(&self) -> Result<()> {
        let level = self
            .meta
            .get("level")
            .db()?
            .and_then(|v| v.first().copied());
        let level = level.unwrap_or(1);
        if level >= UPGRADE_LEVEL {
            return Ok(());
        }
        if self.comments.is_empty() {
            self.meta.insert("level", &[UPGRADE_LEVEL]).db()?;
            return Ok(());
        }
        if level < 2 {
            self.upgrade_to_2()?;
        }
        self.held.clear().db()?;
        let mut authors: std::collections::HashMap<Vec<u8>, u32> = Default::default();
        let mut sites: std::collections::HashMap<u64, Option<String>> = Default::default();
        for entry in self.comments.iter().values() {
            let rec: CommentRecord = decode(&entry.db()?)?;
            if let Some(k) = held_key(rec.status, rec.id) {
                self.held.insert(k, &[]).db()?;
            }
            if rec.status == Status::Approved {
                let site = match sites.get(&rec.page_id) {
                    Some(site) => site.clone(),
                    None => {
                        let site = self.page_by_id(rec.page_id)?.map(|p| p.site);
                        sites.insert(rec.page_id, site.clone());
                        site
                    }
                };
                if let Some(site) = &site {
                    self.held
                        .insert(site_approved_key(site, rec.id), &[])
                        .db()?;
                }
                if let Some(key) =
                    site.and_then(|s| approved_key(&s, rec.email.as_deref(), &rec.author))
                {
                    *authors.entry(key).or_default() += 1;
                }
            }
        }
        for (key, n) in authors {
            self.held.insert(key, &n.to_be_bytes()).db()?;
        }
        self.disk.sync(&self.db)?;
        self.meta.insert("level", &[UPGRADE_LEVEL]).db()?;
        self.disk.sync(&self.db)?;
        Ok(())
    }

    /// Level 2: roots, descendants, page totals and the `replies` tree, from the records.
    fn upgrade_to_2(&self) -> Result<()> {
        let mut records = std::collections::HashMap::new();
        for entry in self.comments.iter().values() {
            let rec: CommentRecord = decode(&entry.db()?)?;
            records.insert(rec.id, rec);
        }
        let root_of = |mut id: u64| -> Option<u64> {
            // Bounded: reply chains are at most the reply depth cap long; a broken chain stops.
            for _ in 0..=1024 {
                match records.get(&id)?.parent {
                    None => return Some(id),
                    Some(parent) => id = parent,
                }
            }
            None
        };
        let mut roots = std::collections::HashMap::new();
        let mut descendants: std::collections::HashMap<u64, u32> = Default::default();
        let mut per_page: std::collections::HashMap<u64, u32> = Default::default();
        for rec in records.values() {
            *per_page.entry(rec.page_id).or_default() += 1;
            if rec.parent.is_some()
                && let Some(root) = root_of(rec.id)
            {
                roots.insert(rec.id, root);
                *descendants.entry(root).or_default() += 1;
            }
        }
        self.replies.clear().db()?;
        for (id, mut rec) in records {
            rec.root = roots.get(&id).copied();
            rec.descendants = if rec.parent.is_none() {
                descendants.get(&id).copied().unwrap_or(0)
            } else {
                0
            };
            if let Some(root) = rec.root {
                self.replies
                    .insert(index_key(rec.page_id, root, id), &[])
                    .db()?;
            }
            self.comments.insert(id.to_be_bytes(), encode(&rec)?).db()?;
        }
        for entry in self.pages.iter() {
            let (key, value) = entry.db()?;
            let mut page: PageRecord = decode(&value)?;
            page.comments = per_page.get(&page.id).copied().unwrap_or(0);
            self.pages.insert(key, encode(&page)?).db()?;
        }
        Ok(())
    }

    /// The turn to run a write transaction (see `writing`), once the disk has room for it.
    fn writer(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        self.disk.check_space()?;
        self.writing
            .lock()
            .map_err(|_| Error::Internal("write lock poisoned".into()))
    }

    fn note_write(&self) -> WriteSeq {
        WriteSeq(self.flush.written.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn load_comment(&self, id: u64) -> Result<Option<CommentRecord>> {
        self.comments
            .get(id.to_be_bytes())
            .db()?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Up to `limit` visible replies under the top-level comment `top` with ids above `after`;
    /// `seen` replies (visible or not) came before the cursor.
    fn replies_after(
        &self,
        top: &CommentRecord,
        after: u64,
        seen: u32,
        limit: usize,
    ) -> Result<RepliesPage> {
        let range = index_key(top.page_id, top.id, after.saturating_add(1))
            ..=index_key(top.page_id, top.id, u64::MAX);
        let stored = self.replies.range(range).keys().map(|key| {
            let id = id_from_index_key(&key.db()?)?;
            Ok((id, self.load_comment(id)?))
        });
        RepliesPage::collect(top, after, seen, limit, stored)
    }
}

impl Writes for SledStore {
    fn insert_comment(&self, new: NewComment) -> Result<(CommentRecord, WriteSeq)> {
        // sled ids start at 0; 0 is the "no parent" marker in the index, so shift by one.
        let id = self.db.generate_id().db()? + 1;
        let fresh_page_id = self.db.generate_id().db()? + 1;
        let page_key = page_key_bytes(&new.site, &new.page_key);
        let source_key = new.source.as_ref().map(|s| page_key_bytes(&new.site, s));
        let _writer = self.writer()?;
        let record = tx_result(
            (
                &self.pages,
                &self.page_ids,
                &self.comments,
                &self.index,
                &self.sources,
                &self.replies,
                &self.changes,
                &self.held,
                &self.pins,
            )
                .transaction(
                    |(pages, page_ids, comments, index, sources, replies, changes, held, pins)| {
                        if let Some(key) = &source_key {
                            if sources.get(key)?.is_some() {
                                return Err(abort(Error::Conflict));
                            }
                            sources.insert(key.as_slice(), &id.to_be_bytes())?;
                        }
                        let mut page = match pages.get(&page_key)? {
                            Some(bytes) => decode::<PageRecord>(&bytes).map_err(abort)?,
                            None => {
                                page_ids
                                    .insert(&fresh_page_id.to_be_bytes(), page_key.as_slice())?;
                                PageRecord {
                                    id: fresh_page_id,
                                    site: new.site.clone(),
                                    key: new.page_key.clone(),
                                    title: None,
                                    url: None,
                                    count: 0,
                                    created: new.created,
                                    comments: 0,
                                    title_by_owner: false,
                                    url_by_owner: false,
                                    locked: false,
                                }
                            }
                        };
                        // Checked here too, so a lock racing a reader's post always wins.
                        if page.locked && new.source.is_none() {
                            return Err(abort(Error::Locked));
                        }
                        page.learn_from(&new);
                        let (depth, root) = match new.parent {
                            None => (0, None),
                            Some(parent_id) => {
                                let (depth, root) =
                                    attach_reply(comments, &page, parent_id, new.max_depth)?;
                                replies.insert(&index_key(page.id, root, id), &[])?;
                                (depth, Some(root))
                            }
                        };
                        if new.status == Status::Approved {
                            page.count += 1;
                        }
                        page.comments += 1;
                        let record = CommentRecord {
                            id,
                            page_id: page.id,
                            parent: new.parent,
                            depth,
                            author: new.author.clone(),
                            email: new.email.clone(),
                            website: new.website.clone(),
                            body_source: new.body_source.clone(),
                            body_tree: new.body_tree.clone(),
                            created: new.created,
                            edited: new.edited,
                            status: new.status,
                            edit_key_hash: new.edit_key_hash.clone(),
                            children: 0,
                            root,
                            descendants: 0,
                            source: new.source.clone(),
                            ip: new.ip.clone(),
                            held_for: new.held_for.clone(),
                            pinned: new.pinned && new.parent.is_none(),
                            moderator_edit: new.moderator_edit,
                        };
                        if record.pinned {
                            pins.insert(&pin_key(page.id, id), &[])?;
                        }
                        if let Some(k) = held_key(new.status, id) {
                            held.insert(&k, &[])?;
                        }
                        count_approval(held, &page.site, &record, None, Some(new.status))?;
                        pages.insert(page_key.as_slice(), encode(&page).map_err(abort)?)?;
                        comments.insert(&id.to_be_bytes(), encode(&record).map_err(abort)?)?;
                        index.insert(&index_key(page.id, new.parent.unwrap_or(0), id), &[])?;
                        append_change(
                            changes,
                            &page,
                            Some(id),
                            ChangeKind::Created {
                                status: new.status,
                                parent: new.parent,
                                imported: new.source.is_some(),
                            },
                        )?;
                        Ok(record)
                    },
                ),
        )?;
        Ok((record, self.note_write()))
    }

    fn edit_comment(&self, id: u64, edit: Edit) -> Result<(CommentRecord, WriteSeq)> {
        let _writer = self.writer()?;
        let record = tx_result(
            (
                &self.pages,
                &self.page_ids,
                &self.comments,
                &self.changes,
                &self.held,
            )
                .transaction(|(pages, page_ids, comments, changes, held)| {
                    let mut rec = live_comment(comments, id)?;
                    let was = rec.status;
                    rec.body_source.clone_from(&edit.body_source);
                    rec.body_tree.clone_from(&edit.body_tree);
                    rec.edited = Some(edit.edited_at);
                    rec.moderator_edit = edit.by_moderator;
                    let (key, mut page) = load_page(pages, page_ids, rec.page_id)?;
                    if let Some(status) = edit.status.filter(|s| *s != rec.status) {
                        if rec.status == Status::Approved {
                            page.count = page.count.saturating_sub(1);
                        }
                        if status == Status::Approved {
                            page.count += 1;
                        }
                        rehold(held, id, rec.status, status)?;
                        count_approval(held, &page.site, &rec, Some(rec.status), Some(status))?;
                        rec.status = status;
                        if let Some(reasons) = &edit.held_for {
                            rec.held_for.clone_from(reasons);
                        }
                        pages.insert(key, encode(&page).map_err(abort)?)?;
                    }
                    comments.insert(&id.to_be_bytes(), encode(&rec).map_err(abort)?)?;
                    append_change(
                        changes,
                        &page,
                        Some(id),
                        ChangeKind::Edited {
                            status: rec.status,
                            was,
                        },
                    )?;
                    Ok(rec)
                }),
        )?;
        Ok((record, self.note_write()))
    }

    fn delete_comment(&self, id: u64) -> Result<(Deleted, WriteSeq)> {
        let _writer = self.writer()?;
        let outcome = tx_result(self.thread_trees().transaction(
            |(pages, page_ids, comments, index, replies, changes, held, pins)| {
                let load = |id: u64| -> Result<Option<CommentRecord>, TxError> {
                    comments
                        .get(id.to_be_bytes())?
                        .map(|b| decode::<CommentRecord>(&b).map_err(abort))
                        .transpose()
                };
                let Some(mut rec) = load(id)? else {
                    return Err(abort(Error::comment_not_found(id)));
                };
                if rec.status == Status::Deleted {
                    return Err(abort(Error::comment_not_found(id)));
                }
                let (page_key, mut page) = load_page(pages, page_ids, rec.page_id)?;
                if rec.status == Status::Approved {
                    page.count = page.count.saturating_sub(1);
                }
                rehold(held, id, rec.status, Status::Deleted)?;
                count_approval(held, &page.site, &rec, Some(rec.status), None)?;
                if rec.pinned {
                    pins.remove(&pin_key(rec.page_id, id))?;
                    rec.pinned = false;
                }
                if rec.children > 0 {
                    rec.status = Status::Deleted;
                    rec.author.clear();
                    rec.email = None;
                    rec.website = None;
                    rec.body_source.clear();
                    rec.body_tree = "[]".into();
                    rec.edit_key_hash = None;
                    rec.ip = None;
                    rec.held_for.clear();
                    comments.insert(&id.to_be_bytes(), encode(&rec).map_err(abort)?)?;
                    pages.insert(&page_key, encode(&page).map_err(abort)?)?;
                    append_change(
                        changes,
                        &page,
                        Some(id),
                        ChangeKind::Deleted { tombstone: true },
                    )?;
                    return Ok(Deleted::Tombstone);
                }
                // Remove the comment, then any tombstone ancestors it leaves without replies.
                let root = rec.root;
                let mut removed_replies = 0u32;
                let mut root_removed = false;
                let mut current = rec;
                loop {
                    comments.remove(&current.id.to_be_bytes())?;
                    index.remove(&index_key(
                        current.page_id,
                        current.parent.unwrap_or(0),
                        current.id,
                    ))?;
                    if let Some(r) = current.root {
                        replies.remove(&index_key(current.page_id, r, current.id))?;
                        removed_replies += 1;
                    } else {
                        root_removed = true;
                    }
                    page.comments = page.comments.saturating_sub(1);
                    let Some(parent_id) = current.parent else {
                        break;
                    };
                    let Some(mut parent) = load(parent_id)? else {
                        break;
                    };
                    parent.children = parent.children.saturating_sub(1);
                    if parent.status == Status::Deleted && parent.children == 0 {
                        current = parent;
                        continue;
                    }
                    comments.insert(&parent_id.to_be_bytes(), encode(&parent).map_err(abort)?)?;
                    break;
                }
                if let Some(root) = root.filter(|_| !root_removed)
                    && let Some(mut top) = load(root)?
                {
                    top.descendants = top.descendants.saturating_sub(removed_replies);
                    comments.insert(&root.to_be_bytes(), encode(&top).map_err(abort)?)?;
                }
                if page.comments == 0 {
                    pages.remove(&page_key)?;
                    page_ids.remove(&page.id.to_be_bytes())?;
                } else {
                    pages.insert(&page_key, encode(&page).map_err(abort)?)?;
                }
                append_change(
                    changes,
                    &page,
                    Some(id),
                    ChangeKind::Deleted { tombstone: false },
                )?;
                Ok(Deleted::Removed)
            },
        ))?;
        Ok((outcome, self.note_write()))
    }

    fn flush_through(&self, seq: WriteSeq) -> Result<()> {
        let mut flushed = self
            .flush
            .flushed
            .lock()
            .map_err(|_| Error::Internal("flush lock poisoned".into()))?;
        if *flushed >= seq.0 {
            return Ok(());
        }
        let target = self.flush.written.load(Ordering::SeqCst);
        self.disk.sync(&self.db)?;
        *flushed = target;
        Ok(())
    }
}

/// Checks a reply's parent inside the insert's transaction and counts the reply on it (and on
/// its top-level comment); returns the reply's depth and top-level comment.
fn attach_reply(
    comments: &TransactionalTree,
    page: &PageRecord,
    parent_id: u64,
    max_depth: u32,
) -> Result<(u32, u64), TxError> {
    let mut parent: CommentRecord = match comments.get(parent_id.to_be_bytes())? {
        Some(bytes) => decode(&bytes).map_err(abort)?,
        None => return Err(abort(Error::Parent(ParentProblem::Missing))),
    };
    if parent.page_id != page.id {
        return Err(abort(Error::Parent(ParentProblem::OtherPage)));
    }
    if !parent.is_visible() {
        return Err(abort(Error::Parent(ParentProblem::Missing)));
    }
    if parent.depth + 1 > max_depth {
        return Err(abort(Error::Parent(ParentProblem::TooDeep)));
    }
    parent.children += 1;
    let root = parent.root.unwrap_or(parent_id);
    if root == parent_id {
        parent.descendants += 1;
    }
    comments.insert(&parent_id.to_be_bytes(), encode(&parent).map_err(abort)?)?;
    if root != parent_id {
        let Some(bytes) = comments.get(root.to_be_bytes())? else {
            return Err(abort(Error::Corrupt(format!(
                "top-level comment {root} missing"
            ))));
        };
        let mut top: CommentRecord = decode(&bytes).map_err(abort)?;
        top.descendants += 1;
        comments.insert(&root.to_be_bytes(), encode(&top).map_err(abort)?)?;
    }
    Ok((parent.depth + 1, root))
}

/// The trees a change to a thread's shape touches, as one transaction's tuple.
type ThreadTrees<'a> = (
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
);

impl SledStore {
    /// Pages, page ids, comments, the index, replies, the change log, the held index and pins.
    fn thread_trees(&self) -> ThreadTrees<'_> {
        (
            &self.pages,
            &self.page_ids,
            &self.comments,
            &self.index,
            &self.replies,
            &self.changes,
            &self.held,
            &self.pins,
        )
    }

    /// Ids and parents of every comment of a page, from the index.
    pub(crate) fn page_comment_ids(&self, page_id: u64) -> Result<Vec<(u64, u64)>> {
        self.index
            .scan_prefix(page_id.to_be_bytes())
            .keys()
            .map(|k| {
                let k = k.db()?;
                let parent = k
                    .get(8..16)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                Ok((parent, id_from_index_key(&k)?))
            })
            .collect()
    }
}

impl Maintenance for SledStore {
    fn ensure_site(&self, site: &str) -> Result<()> {
        let created = encode(&0i64)?;
        self.sites
            .compare_and_swap(site.as_bytes(), None as Option<&[u8]>, Some(created))
            .db()?
            .ok();
        Ok(())
    }

    fn disk(&self) -> talkback_store::DiskState {
        self.disk.state()
    }

    fn count_use(&self, key: &str, window_ms: i64, length_ms: i64) -> Result<u32> {
        /// Ended windows forgotten per use at most.
        const SWEEP: usize = 16;
        self.disk.check_space()?;
        let ends = window_ms.saturating_add(length_ms);
        let counted = self
            .quotas
            .update_and_fetch(key.as_bytes(), |old| {
                let used = match old {
                    Some(v) if v.len() == 20 && v[..8] == window_ms.to_be_bytes() => {
                        u32::from_be_bytes([v[16], v[17], v[18], v[19]]).saturating_add(1)
                    }
                    _ => 1,
                };
                let mut value = Vec::with_capacity(20);
                value.extend_from_slice(&window_ms.to_be_bytes());
                value.extend_from_slice(&ends.to_be_bytes());
                value.extend_from_slice(&used.to_be_bytes());
                Some(value)
            })
            .db()?;
        let used = counted
            .filter(|v| v.len() == 20)
            .map_or(1, |v| u32::from_be_bytes([v[16], v[17], v[18], v[19]]));
        if used == 1 {
            // A key's first use in a window: a few keys whose window ended a while ago go.
            let ended: Vec<sled::IVec> = self
                .quotas
                .iter()
                .take(256)
                .filter_map(|entry| entry.ok())
                .filter(|(_, v)| {
                    v.len() == 20
                        && i64::from_be_bytes(v[8..16].try_into().unwrap_or_default())
                            < window_ms - 600_000
                })
                .take(SWEEP)
                .map(|(k, _)| k)
                .collect();
            for key in ended {
                self.quotas.remove(key).db()?;
            }
        }
        Ok(used)
    }

    fn spend_once(&self, token: &[u8], expires_ms: i64, now_ms: i64) -> Result<bool> {
        /// Expired tokens forgotten per use at most (they are the front of the tree).
        const SWEEP: usize = 64;
        self.disk.check_space()?;
        let expiry = |ms: i64| u64::try_from(ms).unwrap_or(0).to_be_bytes();
        let mut key = expiry(expires_ms).to_vec();
        key.extend_from_slice(token);
        // A token's expiry is signed with it, so one token always has one key.
        let first = self
            .spent
            .compare_and_swap(key, None as Option<&[u8]>, Some(&[] as &[u8]))
            .db()?
            .is_ok();
        let expired: Vec<sled::IVec> = self
            .spent
            .range(..expiry(now_ms).to_vec())
            .keys()
            .take(SWEEP)
            .collect::<std::result::Result<_, _>>()
            .db()?;
        for key in expired {
            self.spent.remove(key).db()?;
        }
        Ok(first)
    }

    fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>> {
        let key = format!("secret:{name}");
        // Only the first caller's bytes are kept; everyone reads those back.
        let _ = self
            .meta
            .compare_and_swap(key.as_bytes(), None as Option<&[u8]>, Some(fresh))
            .db()?;
        self.disk.sync(&self.db)?;
        self.meta
            .get(key.as_bytes())
            .db()?
            .map(|v| v.to_vec())
            .ok_or_else(|| Error::Corrupt(format!("{key} missing after it was written")))
    }

    fn delete_page(&self, site: &str, page_key: &str) -> Result<(usize, WriteSeq)> {
        let key = page_key_bytes(site, page_key);
        let Some(page) = self.page(site, page_key)? else {
            return Err(Error::page_not_found(site, page_key));
        };
        let ids = self.page_comment_ids(page.id)?;
        let _writer = self.writer()?;
        tx_result(self.thread_trees().transaction(
            |(pages, page_ids, comments, index, replies, changes, held, pins)| {
                let Some(bytes) = pages.get(&key)? else {
                    return Err(abort(Error::page_not_found(site, page_key)));
                };
                let current: PageRecord = decode(&bytes).map_err(abort)?;
                if current.id != page.id || current.comments as usize != ids.len() {
                    // A comment arrived after the scan: the caller retries.
                    return Err(abort(Error::Conflict));
                }
                for &(parent, id) in &ids {
                    let Some(bytes) = comments.get(id.to_be_bytes())? else {
                        continue;
                    };
                    let rec: CommentRecord = decode(&bytes).map_err(abort)?;
                    comments.remove(&id.to_be_bytes())?;
                    index.remove(&index_key(page.id, parent, id))?;
                    if let Some(root) = rec.root {
                        replies.remove(&index_key(page.id, root, id))?;
                    }
                    rehold(held, id, rec.status, Status::Deleted)?;
                    count_approval(held, &page.site, &rec, Some(rec.status), None)?;
                    pins.remove(&pin_key(page.id, id))?;
                }
                pages.remove(key.as_slice())?;
                page_ids.remove(&page.id.to_be_bytes())?;
                append_change(
                    changes,
                    &current,
                    None,
                    ChangeKind::PageDeleted {
                        comments: current.comments,
                    },
                )?;
                Ok(())
            },
        ))?;
        Ok((ids.len(), self.note_write()))
    }

    fn set_page_meta(
        &self,
        site: &str,
        page_key: &str,
        title: Option<String>,
        url: Option<String>,
    ) -> Result<(PageRecord, WriteSeq)> {
        let key = page_key_bytes(site, page_key);
        let _writer = self.writer()?;
        let page = tx_result(
            (&self.pages, &self.changes).transaction(|(pages, changes)| {
                let Some(bytes) = pages.get(&key)? else {
                    return Err(abort(Error::page_not_found(site, page_key)));
                };
                let mut page: PageRecord = decode(&bytes).map_err(abort)?;
                page.set_by_owner(title.clone(), url.clone());
                pages.insert(key.as_slice(), encode(&page).map_err(abort)?)?;
                append_change(changes, &page, None, ChangeKind::PageUpdated)?;
                Ok(page)
            }),
        )?;
        Ok((page, self.note_write()))
    }

    fn move_page(&self, site: &str, from: &str, to: &str) -> Result<(usize, WriteSeq)> {
        let Some(source) = self.page(site, from)? else {
            return Err(Error::page_not_found(site, from));
        };
        if from == to {
            return Ok((0, self.note_write()));
        }
        let moving = self.page_comment_ids(source.id)?;
        let (from_key, to_key) = (page_key_bytes(site, from), page_key_bytes(site, to));
        let _writer = self.writer()?;
        tx_result(self.thread_trees().transaction(
            |(pages, page_ids, comments, index, replies, changes, _held, pins)| {
                let Some(current) = pages
                    .get(from_key.as_slice())?
                    .map(|b| decode::<PageRecord>(&b))
                    .transpose()
                    .map_err(abort)?
                else {
                    return Err(abort(Error::page_not_found(site, from)));
                };
                if current.id != source.id || current.comments as usize != moving.len() {
                    // A comment arrived after the scan: the caller retries.
                    return Err(abort(Error::Conflict));
                }
                pages.remove(from_key.as_slice())?;
                append_change(
                    changes,
                    &current,
                    None,
                    ChangeKind::PageMoved {
                        to: to.to_owned(),
                        comments: current.comments,
                    },
                )?;
                let Some(mut target) = pages
                    .get(&to_key)?
                    .map(|b| decode::<PageRecord>(&b))
                    .transpose()
                    .map_err(abort)?
                else {
                    // No thread there yet: the page simply changes its key.
                    let mut renamed = current.clone();
                    renamed.key = to.to_owned();
                    pages.insert(to_key.as_slice(), encode(&renamed).map_err(abort)?)?;
                    page_ids.insert(&source.id.to_be_bytes(), to_key.as_slice())?;
                    return Ok(());
                };
                for &(parent, id) in &moving {
                    let Some(bytes) = comments.get(id.to_be_bytes())? else {
                        continue;
                    };
                    let mut rec: CommentRecord = decode(&bytes).map_err(abort)?;
                    rec.page_id = target.id;
                    comments.insert(&id.to_be_bytes(), encode(&rec).map_err(abort)?)?;
                    index.remove(&index_key(source.id, parent, id))?;
                    index.insert(&index_key(target.id, parent, id), &[])?;
                    if let Some(root) = rec.root {
                        replies.remove(&index_key(source.id, root, id))?;
                        replies.insert(&index_key(target.id, root, id), &[])?;
                    }
                    if rec.pinned {
                        pins.remove(&pin_key(source.id, id))?;
                        pins.insert(&pin_key(target.id, id), &[])?;
                    }
                }
                target.count += current.count;
                target.comments += current.comments;
                target.title = target.title.clone().or_else(|| current.title.clone());
                pages.insert(to_key.as_slice(), encode(&target).map_err(abort)?)?;
                page_ids.remove(&source.id.to_be_bytes())?;
                Ok(())
            },
        ))?;
        Ok((moving.len(), self.note_write()))
    }
}

impl Transfer for SledStore {
    fn comment_by_source(&self, site: &str, source: &str) -> Result<Option<u64>> {
        Ok(self
            .sources
            .get(page_key_bytes(site, source))
            .db()?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes))
    }

    fn export_site(&self, site: &str) -> Result<Vec<(PageRecord, Vec<CommentRecord>)>> {
        let mut prefix = site.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for entry in self.pages.scan_prefix(&prefix).values() {
            let page: PageRecord = decode(&entry.db()?)?;
            let mut comments = Vec::new();
            for (_, id) in self.page_comment_ids(page.id)? {
                if let Some(c) = self.load_comment(id)? {
                    comments.push(c);
                }
            }
            comments.sort_by_key(|c| c.id);
            out.push((page, comments));
        }
        Ok(out)
    }
}

impl Reads for SledStore {
    fn comment(&self, id: u64) -> Result<Option<CommentRecord>> {
        self.load_comment(id)
    }

    fn page(&self, site: &str, page_key: &str) -> Result<Option<PageRecord>> {
        self.pages
            .get(page_key_bytes(site, page_key))
            .db()?
            .map(|v| decode(&v))
            .transpose()
    }

    fn page_by_id(&self, page_id: u64) -> Result<Option<PageRecord>> {
        let Some(key) = self.page_ids.get(page_id.to_be_bytes()).db()? else {
            return Ok(None);
        };
        self.pages.get(key).db()?.map(|v| decode(&v)).transpose()
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
        let Some(page) = self.page(site, page_key)? else {
            return Ok(ThreadPage {
                page: None,
                top_level: vec![],
                replies: vec![],
                more_replies: vec![],
                next_after: None,
            });
        };
        let range = match (order, after) {
            (Order::OldestFirst, Some(a)) => {
                index_key(page.id, 0, a.saturating_add(1))..=index_key(page.id, 0, u64::MAX)
            }
            (Order::NewestFirst, Some(a)) => {
                index_key(page.id, 0, 0)..=index_key(page.id, 0, a.saturating_sub(1))
            }
            (_, None) => index_key(page.id, 0, 0)..=index_key(page.id, 0, u64::MAX),
        };
        let keys = self.index.range(range).keys();
        let keys: Box<dyn Iterator<Item = sled::Result<sled::IVec>>> = match order {
            Order::OldestFirst => Box::new(keys),
            Order::NewestFirst => Box::new(keys.rev()),
        };
        // Pinned comments open the first page, in pin order; paging skips them.
        let mut pinned = Vec::new();
        if after.is_none() {
            for key in self.pins.scan_prefix(page.id.to_be_bytes()).keys() {
                let key = key.db()?;
                let id = key
                    .get(8..16)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| Error::Corrupt("short pin key".into()))?;
                if let Some(rec) = self.load_comment(id)?
                    && rec.in_thread()
                {
                    pinned.push(rec);
                }
            }
        }
        let mut top_level = Vec::with_capacity(limit + 1);
        for key in keys {
            let id = id_from_index_key(&key.db()?)?;
            if let Some(rec) = self.load_comment(id)?
                && rec.in_thread()
                && !rec.pinned
            {
                top_level.push(rec);
                if top_level.len() > limit {
                    break;
                }
            }
        }
        let next_after = if top_level.len() > limit {
            top_level.truncate(limit);
            top_level.last().map(|c| c.id)
        } else {
            None
        };
        if !pinned.is_empty() {
            pinned.append(&mut top_level);
            top_level = pinned;
        }
        let mut replies = Vec::new();
        let mut more_replies = Vec::new();
        for top in top_level.iter().filter(|c| c.descendants > 0) {
            let run = self.replies_after(top, 0, 0, replies_each)?;
            replies.extend(run.replies);
            more_replies.extend(run.more);
        }
        replies.sort_by_key(|c| c.id);
        Ok(ThreadPage {
            page: Some(page),
            top_level,
            replies,
            more_replies,
            next_after,
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
        let empty = RepliesPage {
            replies: vec![],
            more: None,
        };
        let Some(page) = self.page(site, page_key)? else {
            return Ok(empty);
        };
        match self.load_comment(root)? {
            Some(top) if top.page_id == page.id && top.parent.is_none() && top.in_thread() => {
                self.replies_after(&top, after, seen, limit)
            }
            _ => Ok(empty),
        }
    }

    fn counts(&self, site: &str, page_keys: &[&str]) -> Result<Vec<u32>> {
        page_keys
            .iter()
            .map(|key| Ok(self.page(site, key)?.map_or(0, |p| p.count)))
            .collect()
    }
}

impl ChangeLog for SledStore {
    fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<Change>> {
        let pruned = self.pruned_through()?;
        if after < pruned {
            return Err(Error::Pruned { through: pruned });
        }
        let mut out = Vec::with_capacity(limit.min(256));
        for entry in self
            .changes
            .range(after.saturating_add(1).to_be_bytes()..)
            .values()
            .take(limit)
        {
            out.push(decode(&entry.db()?)?);
        }
        Ok(out)
    }

    fn consumer_cursor(&self, name: &str) -> Result<Option<u64>> {
        match self.meta.get(format!("cursor/{name}")).db()? {
            None => Ok(None),
            Some(b) => <[u8; 8]>::try_from(b.as_ref())
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| Error::Corrupt(format!("the {name} consumer's cursor"))),
        }
    }

    fn set_consumer_cursor(&self, name: &str, seq: u64) -> Result<()> {
        self.meta
            .insert(format!("cursor/{name}"), &seq.to_be_bytes())
            .db()?;
        self.disk.sync(&self.db)?;
        Ok(())
    }

    fn last_change(&self) -> Result<u64> {
        match self.changes.get(LAST_SEQ).db()? {
            Some(bytes) => seq_of(&bytes),
            None => Ok(0),
        }
    }

    fn prune_changes(&self, before_ms: i64) -> Result<usize> {
        let mut removed = 0;
        let mut through = self.pruned_through()?;
        for entry in self.changes.range(1u64.to_be_bytes()..) {
            let (key, value) = entry.db()?;
            let change: Change = decode(&value)?;
            // Sequence order is commit order, so times only grow (up to clock steps).
            if change.at >= before_ms {
                break;
            }
            // Record the pruned range first: a consumer behind it must hear, never skip silently.
            through = through.max(change.seq);
            self.meta.insert("pruned", &through.to_be_bytes()).db()?;
            self.changes.remove(key).db()?;
            removed += 1;
        }
        self.disk.sync(&self.db)?;
        Ok(removed)
    }
}

/// Past this size on disk, sled's own memory alone nears the 100 MB a small VPS can spare:
/// sled 0.34 keeps every B-tree node's bookkeeping in memory whether or not the node is
/// cached (measured: 31 MiB after start at 230 MiB on disk, 62 MiB at 690 MiB, 170 MiB at
/// 2.3 GiB, i.e. 1,000,000 imported comments), and a node holds at most 16 entries.
pub const OUTGROWN_BYTES: u64 = 1 << 30;

impl SledStore {
    /// The database's files' size in bytes.
    pub fn size_on_disk(&self) -> Result<u64> {
        self.db.size_on_disk().db()
    }

    /// The size on disk when it is past [`OUTGROWN_BYTES`]; PostgreSQL's memory does not
    /// grow with the store, so a store this big is better served there.
    pub fn outgrown(&self) -> Result<Option<u64>> {
        self.past(OUTGROWN_BYTES)
    }

    fn past(&self, limit: u64) -> Result<Option<u64>> {
        let size = self.size_on_disk()?;
        Ok((size > limit).then_some(size))
    }

    /// The newest sequence number pruned from the change log (0: none).
    fn pruned_through(&self) -> Result<u64> {
        match self.meta.get("pruned").db()? {
            Some(bytes) => seq_of(&bytes),
            None => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests;
