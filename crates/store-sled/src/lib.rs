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

use sled::transaction::{ConflictableTransactionError, TransactionError};

use sled::transaction::TransactionalTree;
use talkback_store::kernel::{Tx, View};

use crate::view::SledView;
use talkback_store::{
    Change, ChangeKind, ChangeLog, CommentRecord, Deleted, Edit, Error, Maintenance, NewComment,
    Order, PageRecord, Reads, RepliesPage, Result, Status, ThreadPage, Transfer, WriteSeq, Writes,
};

use crate::codec::{FORMAT_VERSION, decode, encode};
pub use crate::durable::RESERVE_BYTES;
use crate::durable::{Disk, sync_dir};

mod codec;
mod durable;
mod moderation;
mod spam;
mod subscriptions;
mod tx;
mod view;

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

pub(crate) fn backend(e: sled::Error) -> Error {
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

/// Appends a change to a whole site (its page key empty), inside the write's transaction.
fn append_site_change(
    changes: &TransactionalTree,
    site: &str,
    kind: ChangeKind,
) -> Result<(), TxError> {
    append(changes, site, "", None, kind)
}

pub(crate) fn append(
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

pub(crate) fn page_key_bytes(site: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + key.len() + 1);
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

pub(crate) fn index_key(page: u64, parent: u64, id: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&page.to_be_bytes());
    k[8..16].copy_from_slice(&parent.to_be_bytes());
    k[16..].copy_from_slice(&id.to_be_bytes());
    k
}

/// The `held` key of a comment with this status, if the status is held.
pub(crate) fn held_key(status: Status, id: u64) -> Option<[u8; 9]> {
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
    Some(author_key(site, &email, &name))
}

/// The `held` key counting the approved comments of an author (`email` and `name` lowercase).
pub(crate) fn author_key(site: &str, email: &str, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + email.len() + name.len() + 3);
    k.push(APPROVED_TAG);
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    k.extend_from_slice(email.as_bytes());
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
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

/// The `pins` key of a pinned comment.
pub(crate) fn pin_key(page: u64, id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&page.to_be_bytes());
    k[8..].copy_from_slice(&id.to_be_bytes());
    k
}

pub(crate) fn id_from_index_key(key: &[u8]) -> Result<u64> {
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
}

impl Writes for SledStore {
    fn insert_comment(&self, new: NewComment) -> Result<(CommentRecord, WriteSeq)> {
        self.change_new(|w| w.insert_comment(&new))
    }

    fn edit_comment(&self, id: u64, edit: Edit) -> Result<(CommentRecord, WriteSeq)> {
        self.change(|w| w.edit_comment(id, &edit))
    }

    fn delete_comment(&self, id: u64) -> Result<(Deleted, WriteSeq)> {
        self.change(|w| w.delete_comment(id))
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

impl SledStore {
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
        self.change(|w| w.delete_page(site, page_key))
    }

    fn set_page_meta(
        &self,
        site: &str,
        page_key: &str,
        title: Option<String>,
        url: Option<String>,
    ) -> Result<(PageRecord, WriteSeq)> {
        self.change(|w| w.set_page_meta(site, page_key, title.clone(), url.clone()))
    }

    fn move_page(&self, site: &str, from: &str, to: &str) -> Result<(usize, WriteSeq)> {
        self.change(|w| w.move_page(site, from, to))
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
        SledView(self).thread_page(site, page_key, order, limit, after, replies_each)
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
        SledView(self).replies_page(site, page_key, root, after, seen, limit)
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
