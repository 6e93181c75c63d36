//! Talkback's storage: every line of sled code lives here.
//!
//! The server talks to [`CommentStore`], a synchronous trait, so that a later SQL backend can
//! stand in for sled. This crate owns the key layout and its own on-disk records (each behind a
//! format-version byte); it knows nothing about HTTP or the wire types. Comment bodies arrive as
//! an opaque, already-serialised document tree.

mod error;
mod records;
mod sled_store;

pub use error::{Error, ParentProblem, Result};
pub use records::{CommentRecord, NewComment, PageRecord, Status};
pub use sled_store::{SledStore, StoreOptions};

/// A position in the write log: pass it to [`CommentStore::flush_through`] before
/// acknowledging the write that returned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WriteSeq(pub u64);

/// Order of top-level comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

/// One page of a thread as stored: visible top-level comments in order, and every visible
/// reply below them (flat, oldest first).
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadPage {
    pub page: Option<PageRecord>,
    pub top_level: Vec<CommentRecord>,
    pub replies: Vec<CommentRecord>,
    /// The id to continue after, when more top-level comments follow.
    pub next_after: Option<u64>,
}

/// What deleting a comment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The comment had replies and stays as a tombstone.
    Tombstone,
    /// The comment was removed entirely.
    Removed,
}

/// The storage seam used by the server.
pub trait CommentStore: Send + Sync + 'static {
    /// Records a configured site (idempotent).
    fn ensure_site(&self, site: &str) -> Result<()>;
    /// Stores a new comment, creating its page on first use and updating counts.
    fn insert_comment(&self, new: NewComment) -> Result<(CommentRecord, WriteSeq)>;
    fn comment(&self, id: u64) -> Result<Option<CommentRecord>>;
    /// Replaces a comment's body; `NotFound` for deleted comments.
    fn edit_comment(
        &self,
        id: u64,
        body_source: String,
        body_tree: String,
        edited_at: i64,
    ) -> Result<(CommentRecord, WriteSeq)>;
    /// Deletes a comment, leaving a tombstone when it has replies.
    fn delete_comment(&self, id: u64) -> Result<(Deleted, WriteSeq)>;
    fn page(&self, site: &str, page_key: &str) -> Result<Option<PageRecord>>;
    /// The page a comment belongs to, by the comment's `page_id`.
    fn page_by_id(&self, page_id: u64) -> Result<Option<PageRecord>>;
    /// Reads up to `limit` top-level comments after the cursor, with their replies.
    fn thread_page(
        &self,
        site: &str,
        page_key: &str,
        order: Order,
        limit: usize,
        after: Option<u64>,
    ) -> Result<ThreadPage>;
    /// Visible comment counts, in the order of `page_keys` (0 for unknown pages).
    fn counts(&self, site: &str, page_keys: &[&str]) -> Result<Vec<u32>>;
    /// The id of the comment imported from `source` on `site`, if any.
    fn comment_by_source(&self, site: &str, source: &str) -> Result<Option<u64>>;
    /// Every page of a site (by key) with all its comments (by id), for exports.
    fn export_site(&self, site: &str) -> Result<Vec<(PageRecord, Vec<CommentRecord>)>>;
    /// Moves every comment of page `from` to page `to` (created if needed, merged if it
    /// exists), keeping replies and counts. Returns how many comments moved.
    fn move_page(&self, site: &str, from: &str, to: &str) -> Result<usize>;
    /// Returns once every write up to `seq` is on disk. Concurrent callers share one flush.
    fn flush_through(&self, seq: WriteSeq) -> Result<()>;
}

#[cfg(test)]
mod tests;
