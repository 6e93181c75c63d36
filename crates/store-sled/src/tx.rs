//! The store kernel's transaction on sled ([`Tx`]): one sled transaction over the trees that
//! hold a thread's records and their indexes, which `put_comment` and `remove_comment` keep
//! by comparing a comment's entries before and after.

use sled::transaction::{
    ConflictableTransactionError, Transactional, TransactionalTree, UnabortableTransactionError,
};
use talkback_store::kernel::Tx;
use talkback_store::{ChangeKind, CommentRecord, Error, PageRecord, Result, Status, WriteSeq};

use crate::codec::{decode, encode};
use crate::{
    Db, SledStore, abort, author_key, backend, held_key, index_key, page_key_bytes, pin_key,
    site_approved_key, tx_result,
};

/// A write in progress: the transaction's trees, and what the write did so far.
pub(crate) struct SledTx<'a> {
    pages: &'a TransactionalTree,
    page_ids: &'a TransactionalTree,
    comments: &'a TransactionalTree,
    index: &'a TransactionalTree,
    replies: &'a TransactionalTree,
    sources: &'a TransactionalTree,
    changes: &'a TransactionalTree,
    held: &'a TransactionalTree,
    pins: &'a TransactionalTree,
    /// Ids taken before the transaction for a new comment and its page (sled gives ids out
    /// with a flush now and then, which must not run inside a transaction).
    ids: Option<(u64, u64)>,
    /// A page's comment ids read before the transaction (sled cannot scan a tree inside one
    /// without deadlocking), and the page whose ids the write asked for instead.
    scanned: Option<&'a (u64, Vec<u64>)>,
    wants_scan: Option<u64>,
    /// Whether the write appended its change.
    appended: bool,
    /// Whether sled saw another transaction touch the same keys (the write then runs again).
    conflict: bool,
}

/// The trees a comment's entries live in, besides `comments`.
#[derive(Clone, Copy)]
enum Entry {
    Index,
    Replies,
    Held,
    Pins,
}

/// Every index entry of a comment of `site`, by tree (`None`: none in that tree).
fn entries(site: &str, rec: &CommentRecord) -> [(Entry, Option<Vec<u8>>); 5] {
    [
        (
            Entry::Index,
            Some(index_key(rec.page_id, rec.parent.unwrap_or(0), rec.id).to_vec()),
        ),
        (
            Entry::Replies,
            rec.root
                .map(|root| index_key(rec.page_id, root, rec.id).to_vec()),
        ),
        (
            Entry::Held,
            held_key(rec.status, rec.id).map(|k| k.to_vec()),
        ),
        (
            Entry::Held,
            (rec.status == Status::Approved).then(|| site_approved_key(site, rec.id)),
        ),
        (
            Entry::Pins,
            rec.pinned.then(|| pin_key(rec.page_id, rec.id).to_vec()),
        ),
    ]
}

impl SledStore {
    /// Runs a write of the store kernel in one sled transaction (while holding the turn to
    /// write): committed unless it fails; its [`WriteSeq`] is 0 when it appended no change.
    pub(crate) fn change<T>(
        &self,
        work: impl Fn(&mut SledTx<'_>) -> Result<T>,
    ) -> Result<(T, WriteSeq)> {
        self.change_with(None, work)
    }

    /// [`SledStore::change`] for a write that may create a comment and a page.
    pub(crate) fn change_new<T>(
        &self,
        work: impl Fn(&mut SledTx<'_>) -> Result<T>,
    ) -> Result<(T, WriteSeq)> {
        // sled ids start at 0, the "no parent" marker in the index: shift by one.
        let comment = self.db.generate_id().db()? + 1;
        let page = self.db.generate_id().db()? + 1;
        self.change_with(Some((comment, page)), work)
    }

    fn change_with<T>(
        &self,
        ids: Option<(u64, u64)>,
        work: impl Fn(&mut SledTx<'_>) -> Result<T>,
    ) -> Result<(T, WriteSeq)> {
        let _writer = self.writer()?;
        let trees = (
            &self.pages,
            &self.page_ids,
            &self.comments,
            &self.index,
            &self.replies,
            &self.sources,
            &self.changes,
            &self.held,
            &self.pins,
        );
        let mut scanned: Option<(u64, Vec<u64>)> = None;
        let (value, appended) = loop {
            let wanted = std::cell::Cell::new(None);
            let outcome = trees.transaction(
                |(pages, page_ids, comments, index, replies, sources, changes, held, pins)| {
                    let mut tx = SledTx {
                        pages,
                        page_ids,
                        comments,
                        index,
                        replies,
                        sources,
                        changes,
                        held,
                        pins,
                        ids,
                        scanned: scanned.as_ref(),
                        wants_scan: None,
                        appended: false,
                        conflict: false,
                    };
                    match work(&mut tx) {
                        Ok(value) => Ok((value, tx.appended)),
                        Err(_) if tx.conflict => Err(ConflictableTransactionError::Conflict),
                        Err(e) => {
                            wanted.set(tx.wants_scan);
                            Err(abort(e))
                        }
                    }
                },
            );
            match (outcome, wanted.get()) {
                // The write needs a page's comments: read them (nobody else writes while this
                // write holds the turn) and run it again.
                (Err(_), Some(page)) => {
                    let ids = self.page_comment_ids(page)?;
                    scanned = Some((page, ids.into_iter().map(|(_, id)| id).collect()));
                }
                (outcome, _) => break tx_result(outcome)?,
            }
        };
        let seq = if appended {
            self.note_write()
        } else {
            WriteSeq(0)
        };
        Ok((value, seq))
    }
}

impl<'a> SledTx<'a> {
    /// A sled result inside the transaction as the store's (noting a conflict).
    fn ok<T>(&mut self, r: Result<T, UnabortableTransactionError>) -> Result<T> {
        r.map_err(|e| match e {
            UnabortableTransactionError::Conflict => {
                self.conflict = true;
                Error::Internal("write conflict".into())
            }
            UnabortableTransactionError::Storage(e) => backend(e),
        })
    }

    fn tree(&self, entry: Entry) -> &'a TransactionalTree {
        match entry {
            Entry::Index => self.index,
            Entry::Replies => self.replies,
            Entry::Held => self.held,
            Entry::Pins => self.pins,
        }
    }

    fn get(&mut self, tree: &TransactionalTree, key: &[u8]) -> Result<Option<sled::IVec>> {
        let got = tree.get(key);
        self.ok(got)
    }

    fn insert(&mut self, tree: &TransactionalTree, key: &[u8], value: &[u8]) -> Result<()> {
        let done = tree.insert(key, value);
        self.ok(done).map(drop)
    }

    fn remove(&mut self, tree: &TransactionalTree, key: &[u8]) -> Result<()> {
        let done = tree.remove(key);
        self.ok(done).map(drop)
    }
}

impl Tx for SledTx<'_> {
    fn comment(&mut self, id: u64) -> Result<Option<CommentRecord>> {
        self.get(self.comments, &id.to_be_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    fn page(&mut self, site: &str, key: &str) -> Result<Option<PageRecord>> {
        self.get(self.pages, &page_key_bytes(site, key))?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    fn page_by_id(&mut self, id: u64) -> Result<Option<PageRecord>> {
        let Some(key) = self.get(self.page_ids, &id.to_be_bytes())? else {
            return Ok(None);
        };
        self.get(self.pages, &key)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    fn page_comments(&mut self, page_id: u64) -> Result<Vec<CommentRecord>> {
        let Some((_, ids)) = self.scanned.filter(|(page, _)| *page == page_id) else {
            self.wants_scan = Some(page_id);
            return Err(Error::Internal("a page's comments are read first".into()));
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(rec) = self.comment(*id)? {
                out.push(rec);
            }
        }
        Ok(out)
    }

    fn source_seen(&mut self, site: &str, source: &str) -> Result<bool> {
        Ok(self
            .get(self.sources, &page_key_bytes(site, source))?
            .is_some())
    }

    fn next_comment_id(&mut self) -> Result<u64> {
        self.ids
            .map(|(comment, _)| comment)
            .ok_or_else(|| Error::Internal("no comment id taken for this write".into()))
    }

    fn next_page_id(&mut self) -> Result<u64> {
        self.ids
            .map(|(_, page)| page)
            .ok_or_else(|| Error::Internal("no page id taken for this write".into()))
    }

    fn put_page(&mut self, page: &PageRecord) -> Result<()> {
        let key = page_key_bytes(&page.site, &page.key);
        let id = page.id.to_be_bytes();
        // A page made by this write has no entry to look up yet.
        let old = match self.ids {
            Some((_, fresh)) if fresh == page.id => None,
            _ => self.get(self.page_ids, &id)?,
        };
        match old {
            Some(old) if old.as_ref() == key.as_slice() => {}
            old => {
                if let Some(old) = old {
                    // The page moved to another key.
                    self.remove(self.pages, &old)?;
                }
                self.insert(self.page_ids, &id, &key)?;
            }
        }
        self.insert(self.pages, &key, &encode(page)?)
    }

    fn remove_page(&mut self, page: &PageRecord) -> Result<()> {
        let id = page.id.to_be_bytes();
        let key = match self.get(self.page_ids, &id)? {
            Some(key) => key.to_vec(),
            None => page_key_bytes(&page.site, &page.key),
        };
        self.remove(self.pages, &key)?;
        self.remove(self.page_ids, &id)
    }

    fn put_comment(&mut self, site: &str, rec: &CommentRecord) -> Result<()> {
        // A comment made by this write has no entries to replace yet.
        let before = match self.ids {
            Some((fresh, _)) if fresh == rec.id => None,
            _ => self.comment(rec.id)?.map(|old| entries(site, &old)),
        };
        for (i, (entry, key)) in entries(site, rec).into_iter().enumerate() {
            let old = before.as_ref().and_then(|b| b[i].1.as_deref());
            if old == key.as_deref() {
                continue;
            }
            let tree = self.tree(entry);
            if let Some(old) = old {
                self.remove(tree, old)?;
            }
            if let Some(key) = key {
                self.insert(tree, &key, &[])?;
            }
        }
        self.insert(self.comments, &rec.id.to_be_bytes(), &encode(rec)?)
    }

    fn remove_comment(&mut self, site: &str, rec: &CommentRecord) -> Result<()> {
        for (entry, key) in entries(site, rec) {
            if let Some(key) = key {
                let tree = self.tree(entry);
                self.remove(tree, &key)?;
            }
        }
        self.remove(self.comments, &rec.id.to_be_bytes())
    }

    fn add_source(&mut self, site: &str, source: &str, comment: u64) -> Result<()> {
        self.insert(
            self.sources,
            &page_key_bytes(site, source),
            &comment.to_be_bytes(),
        )
    }

    fn count_author(&mut self, site: &str, email: &str, name: &str, delta: i32) -> Result<()> {
        let key = author_key(site, email, name);
        let n = self
            .get(self.held, &key)?
            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
            .map_or(0, u32::from_be_bytes);
        let n = n.saturating_add_signed(delta);
        if n == 0 {
            self.remove(self.held, &key)
        } else {
            self.insert(self.held, &key, &n.to_be_bytes())
        }
    }

    fn append(
        &mut self,
        site: &str,
        page_key: &str,
        comment: Option<u64>,
        kind: ChangeKind,
    ) -> Result<()> {
        if self.appended {
            return Err(Error::Internal("a write appends one change".into()));
        }
        let done = crate::append(self.changes, site, page_key, comment, kind);
        match done {
            Ok(()) => {}
            Err(ConflictableTransactionError::Abort(e)) => return Err(e),
            Err(ConflictableTransactionError::Conflict) => {
                self.conflict = true;
                return Err(Error::Internal("write conflict".into()));
            }
            Err(ConflictableTransactionError::Storage(e)) => return Err(backend(e)),
        }
        self.appended = true;
        Ok(())
    }
}
