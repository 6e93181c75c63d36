//! The sled implementation of [`CommentStore`].
//!
//! Key layout (all integers big-endian so byte order is numeric order):
//! - `meta`: `format` → the store format version.
//! - `sites`: site id → creation time.
//! - `pages`: `site \0 page_key` → [`PageRecord`]; `page_ids`: page id → the `pages` key.
//! - `comments`: comment id → [`CommentRecord`].
//! - `sources`: `site \0 source id` → comment id, for idempotent imports.
//! - `index`: `page id | parent id (0 = top level) | comment id` → empty. Keyset paging of
//!   top-level comments and reply lookup are both prefix scans of this tree.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::records::{FORMAT_VERSION, decode, encode};
use crate::{
    CommentRecord, CommentStore, Deleted, Error, NewComment, Order, PageRecord, ParentProblem,
    Result, Status, ThreadPage, WriteSeq,
};

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
    db: sled::Db,
    sites: sled::Tree,
    pages: sled::Tree,
    page_ids: sled::Tree,
    comments: sled::Tree,
    index: sled::Tree,
    sources: sled::Tree,
    flush: GroupCommit,
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
        TransactionError::Storage(e) => Error::Sled(e),
    })
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

fn index_prefix(page: u64, parent: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&page.to_be_bytes());
    k[8..].copy_from_slice(&parent.to_be_bytes());
    k
}

fn id_from_index_key(key: &[u8]) -> Result<u64> {
    key.get(16..24)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| Error::Corrupt("short index key".into()))
}

impl SledStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Self> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_bytes)
            .open()?;
        Self::with_db(db)
    }

    /// A store in a temporary directory, removed on drop (for tests).
    pub fn temporary() -> Result<Self> {
        Self::with_db(sled::Config::new().temporary(true).open()?)
    }

    fn with_db(db: sled::Db) -> Result<Self> {
        let meta = db.open_tree("meta")?;
        match meta.get("format")? {
            None => {
                meta.insert("format", &[FORMAT_VERSION])?;
            }
            Some(v) if v.as_ref() == [FORMAT_VERSION] => {}
            Some(v) => return Err(Error::Corrupt(format!("unsupported store format {v:?}"))),
        }
        Ok(Self {
            sites: db.open_tree("sites")?,
            pages: db.open_tree("pages")?,
            page_ids: db.open_tree("page_ids")?,
            comments: db.open_tree("comments")?,
            index: db.open_tree("index")?,
            sources: db.open_tree("sources")?,
            db,
            flush: GroupCommit::default(),
        })
    }

    fn note_write(&self) -> WriteSeq {
        WriteSeq(self.flush.written.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn load_comment(&self, id: u64) -> Result<Option<CommentRecord>> {
        self.comments
            .get(id.to_be_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    fn children_of(&self, page: u64, parent: u64) -> impl Iterator<Item = Result<u64>> + '_ {
        self.index
            .scan_prefix(index_prefix(page, parent))
            .keys()
            .map(|k| id_from_index_key(&k?))
    }
}

impl CommentStore for SledStore {
    fn ensure_site(&self, site: &str) -> Result<()> {
        let created = encode(&0i64)?;
        self.sites
            .compare_and_swap(site.as_bytes(), None as Option<&[u8]>, Some(created))?
            .ok();
        Ok(())
    }

    fn insert_comment(&self, new: NewComment) -> Result<(CommentRecord, WriteSeq)> {
        // sled ids start at 0; 0 is the "no parent" marker in the index, so shift by one.
        let id = self.db.generate_id()? + 1;
        let fresh_page_id = self.db.generate_id()? + 1;
        let page_key = page_key_bytes(&new.site, &new.page_key);
        let source_key = new.source.as_ref().map(|s| page_key_bytes(&new.site, s));
        let record = tx_result(
            (
                &self.pages,
                &self.page_ids,
                &self.comments,
                &self.index,
                &self.sources,
            )
                .transaction(|(pages, page_ids, comments, index, sources)| {
                    if let Some(key) = &source_key {
                        if sources.get(key)?.is_some() {
                            return Err(abort(Error::Conflict));
                        }
                        sources.insert(key.as_slice(), &id.to_be_bytes())?;
                    }
                    let mut page = match pages.get(&page_key)? {
                        Some(bytes) => decode::<PageRecord>(&bytes).map_err(abort)?,
                        None => {
                            page_ids.insert(&fresh_page_id.to_be_bytes(), page_key.as_slice())?;
                            PageRecord {
                                id: fresh_page_id,
                                site: new.site.clone(),
                                key: new.page_key.clone(),
                                title: None,
                                url: None,
                                count: 0,
                                created: new.created,
                            }
                        }
                    };
                    if page.title.is_none() {
                        page.title.clone_from(&new.page_title);
                    }
                    if page.url.is_none() {
                        page.url.clone_from(&new.page_url);
                    }
                    let depth = match new.parent {
                        None => 0,
                        Some(parent_id) => {
                            let mut parent: CommentRecord = match comments
                                .get(parent_id.to_be_bytes())?
                            {
                                Some(bytes) => decode(&bytes).map_err(abort)?,
                                None => return Err(abort(Error::Parent(ParentProblem::Missing))),
                            };
                            if parent.page_id != page.id {
                                return Err(abort(Error::Parent(ParentProblem::OtherPage)));
                            }
                            if !parent.is_visible() {
                                return Err(abort(Error::Parent(ParentProblem::Missing)));
                            }
                            if parent.depth + 1 > new.max_depth {
                                return Err(abort(Error::Parent(ParentProblem::TooDeep)));
                            }
                            parent.children += 1;
                            comments.insert(
                                &parent_id.to_be_bytes(),
                                encode(&parent).map_err(abort)?,
                            )?;
                            parent.depth + 1
                        }
                    };
                    if new.status == Status::Approved {
                        page.count += 1;
                    }
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
                        source: new.source.clone(),
                        ip: new.ip.clone(),
                    };
                    pages.insert(page_key.as_slice(), encode(&page).map_err(abort)?)?;
                    comments.insert(&id.to_be_bytes(), encode(&record).map_err(abort)?)?;
                    index.insert(&index_key(page.id, new.parent.unwrap_or(0), id), &[])?;
                    Ok(record)
                }),
        )?;
        Ok((record, self.note_write()))
    }

    fn comment(&self, id: u64) -> Result<Option<CommentRecord>> {
        self.load_comment(id)
    }

    fn edit_comment(
        &self,
        id: u64,
        body_source: String,
        body_tree: String,
        edited_at: i64,
    ) -> Result<(CommentRecord, WriteSeq)> {
        let record = tx_result(self.comments.transaction(|comments| {
            let mut rec: CommentRecord = match comments.get(id.to_be_bytes())? {
                Some(bytes) => decode(&bytes).map_err(abort)?,
                None => return Err(abort(Error::NotFound)),
            };
            if rec.status == Status::Deleted {
                return Err(abort(Error::NotFound));
            }
            rec.body_source.clone_from(&body_source);
            rec.body_tree.clone_from(&body_tree);
            rec.edited = Some(edited_at);
            comments.insert(&id.to_be_bytes(), encode(&rec).map_err(abort)?)?;
            Ok(rec)
        }))?;
        Ok((record, self.note_write()))
    }

    fn delete_comment(&self, id: u64) -> Result<(Deleted, WriteSeq)> {
        let outcome = tx_result(
            (&self.pages, &self.page_ids, &self.comments, &self.index).transaction(
                |(pages, page_ids, comments, index)| {
                    let load = |id: u64| -> Result<Option<CommentRecord>, TxError> {
                        comments
                            .get(id.to_be_bytes())?
                            .map(|b| decode::<CommentRecord>(&b).map_err(abort))
                            .transpose()
                    };
                    let Some(mut rec) = load(id)? else {
                        return Err(abort(Error::NotFound));
                    };
                    if rec.status == Status::Deleted {
                        return Err(abort(Error::NotFound));
                    }
                    let Some(page_key) = page_ids.get(rec.page_id.to_be_bytes())? else {
                        return Err(abort(Error::Corrupt(format!(
                            "page {} missing",
                            rec.page_id
                        ))));
                    };
                    let mut page: PageRecord = match pages.get(&page_key)? {
                        Some(bytes) => decode(&bytes).map_err(abort)?,
                        None => return Err(abort(Error::Corrupt("page record missing".into()))),
                    };
                    if rec.status == Status::Approved {
                        page.count = page.count.saturating_sub(1);
                        pages.insert(&page_key, encode(&page).map_err(abort)?)?;
                    }
                    if rec.children > 0 {
                        rec.status = Status::Deleted;
                        rec.author.clear();
                        rec.email = None;
                        rec.website = None;
                        rec.body_source.clear();
                        rec.body_tree = "[]".into();
                        rec.edit_key_hash = None;
                        comments.insert(&id.to_be_bytes(), encode(&rec).map_err(abort)?)?;
                        return Ok(Deleted::Tombstone);
                    }
                    // Remove the comment, then any tombstone ancestors it leaves without replies.
                    let mut current = rec;
                    loop {
                        comments.remove(&current.id.to_be_bytes())?;
                        index.remove(&index_key(
                            current.page_id,
                            current.parent.unwrap_or(0),
                            current.id,
                        ))?;
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
                        comments
                            .insert(&parent_id.to_be_bytes(), encode(&parent).map_err(abort)?)?;
                        break;
                    }
                    Ok(Deleted::Removed)
                },
            ),
        )?;
        Ok((outcome, self.note_write()))
    }

    fn page(&self, site: &str, page_key: &str) -> Result<Option<PageRecord>> {
        self.pages
            .get(page_key_bytes(site, page_key))?
            .map(|v| decode(&v))
            .transpose()
    }

    fn comment_by_source(&self, site: &str, source: &str) -> Result<Option<u64>> {
        Ok(self
            .sources
            .get(page_key_bytes(site, source))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes))
    }

    fn export_site(&self, site: &str) -> Result<Vec<(PageRecord, Vec<CommentRecord>)>> {
        let mut prefix = site.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for entry in self.pages.scan_prefix(&prefix).values() {
            let page: PageRecord = decode(&entry?)?;
            let mut comments = Vec::new();
            for key in self.index.scan_prefix(page.id.to_be_bytes()).keys() {
                if let Some(c) = self.load_comment(id_from_index_key(&key?)?)? {
                    comments.push(c);
                }
            }
            comments.sort_by_key(|c| c.id);
            out.push((page, comments));
        }
        Ok(out)
    }

    fn move_page(&self, site: &str, from: &str, to: &str) -> Result<usize> {
        let Some(source) = self.page(site, from)? else {
            return Err(Error::NotFound);
        };
        if from == to {
            return Ok(0);
        }
        let moving: Vec<(u64, u64)> = self
            .index
            .scan_prefix(source.id.to_be_bytes())
            .keys()
            .map(|k| {
                let k = k?;
                let parent = k
                    .get(8..16)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                Ok((parent, id_from_index_key(&k)?))
            })
            .collect::<Result<_>>()?;
        let (from_key, to_key) = (page_key_bytes(site, from), page_key_bytes(site, to));
        tx_result(
            (&self.pages, &self.page_ids, &self.comments, &self.index).transaction(
                |(pages, page_ids, comments, index)| {
                    pages.remove(from_key.as_slice())?;
                    let Some(mut target) = pages
                        .get(&to_key)?
                        .map(|b| decode::<PageRecord>(&b))
                        .transpose()
                        .map_err(abort)?
                    else {
                        // No thread there yet: the page simply changes its key.
                        let mut renamed = source.clone();
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
                    }
                    target.count += source.count;
                    target.title = target.title.clone().or_else(|| source.title.clone());
                    pages.insert(to_key.as_slice(), encode(&target).map_err(abort)?)?;
                    page_ids.remove(&source.id.to_be_bytes())?;
                    Ok(())
                },
            ),
        )?;
        let seq = self.note_write();
        self.flush_through(seq)?;
        Ok(moving.len())
    }

    fn page_by_id(&self, page_id: u64) -> Result<Option<PageRecord>> {
        let Some(key) = self.page_ids.get(page_id.to_be_bytes())? else {
            return Ok(None);
        };
        self.pages.get(key)?.map(|v| decode(&v)).transpose()
    }

    fn thread_page(
        &self,
        site: &str,
        page_key: &str,
        order: Order,
        limit: usize,
        after: Option<u64>,
    ) -> Result<ThreadPage> {
        let Some(page) = self.page(site, page_key)? else {
            return Ok(ThreadPage {
                page: None,
                top_level: vec![],
                replies: vec![],
                next_after: None,
            });
        };
        let range = match (order, after) {
            (Order::OldestFirst, None) => {
                index_key(page.id, 0, 0)..=index_key(page.id, 0, u64::MAX)
            }
            (Order::OldestFirst, Some(a)) => {
                index_key(page.id, 0, a.saturating_add(1))..=index_key(page.id, 0, u64::MAX)
            }
            (Order::NewestFirst, None) => {
                index_key(page.id, 0, 0)..=index_key(page.id, 0, u64::MAX)
            }
            (Order::NewestFirst, Some(a)) => {
                index_key(page.id, 0, 0)..=index_key(page.id, 0, a.saturating_sub(1))
            }
        };
        let keys = self.index.range(range).keys();
        let keys: Box<dyn Iterator<Item = sled::Result<sled::IVec>>> = match order {
            Order::OldestFirst => Box::new(keys),
            Order::NewestFirst => Box::new(keys.rev()),
        };
        let mut top_level = Vec::with_capacity(limit + 1);
        for key in keys {
            let id = id_from_index_key(&key?)?;
            if let Some(rec) = self.load_comment(id)?
                && rec.is_visible()
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
        let mut replies = Vec::new();
        let mut queue: Vec<u64> = top_level
            .iter()
            .filter(|c| c.children > 0)
            .map(|c| c.id)
            .collect();
        while let Some(parent) = queue.pop() {
            for child in self.children_of(page.id, parent) {
                if let Some(rec) = self.load_comment(child?)?
                    && rec.is_visible()
                {
                    if rec.children > 0 {
                        queue.push(rec.id);
                    }
                    replies.push(rec);
                }
            }
        }
        replies.sort_by_key(|c| c.id);
        Ok(ThreadPage {
            page: Some(page),
            top_level,
            replies,
            next_after,
        })
    }

    fn counts(&self, site: &str, page_keys: &[&str]) -> Result<Vec<u32>> {
        page_keys
            .iter()
            .map(|key| Ok(self.page(site, key)?.map_or(0, |p| p.count)))
            .collect()
    }

    fn flush_through(&self, seq: WriteSeq) -> Result<()> {
        let mut flushed = self
            .flush
            .flushed
            .lock()
            .map_err(|_| Error::Corrupt("flush lock poisoned".into()))?;
        if *flushed >= seq.0 {
            return Ok(());
        }
        let target = self.flush.written.load(Ordering::SeqCst);
        self.db.flush()?;
        *flushed = target;
        Ok(())
    }
}
