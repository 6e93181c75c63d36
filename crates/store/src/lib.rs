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

/// One page of a thread as stored: visible top-level comments in order, and the first visible
/// replies below each of them (flat, oldest first, so a parent always precedes its replies).
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadPage {
    pub page: Option<PageRecord>,
    pub top_level: Vec<CommentRecord>,
    pub replies: Vec<CommentRecord>,
    /// Top-level comments with more replies than this page carries.
    pub more_replies: Vec<MoreReplies>,
    /// The id to continue after, when more top-level comments follow.
    pub next_after: Option<u64>,
}

/// Replies under a top-level comment that a page left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoreReplies {
    /// The top-level comment.
    pub root: u64,
    /// Continue with the replies after this id.
    pub after: u64,
    /// Replies (visible or not) up to and including `after`: hand it back with the cursor.
    pub seen: u32,
    /// Stored replies not yet read (hidden ones included, so an upper bound of what shows).
    pub remaining: u32,
}

/// The next replies under one top-level comment.
#[derive(Debug, Clone, PartialEq)]
pub struct RepliesPage {
    /// Visible replies, oldest first.
    pub replies: Vec<CommentRecord>,
    pub more: Option<MoreReplies>,
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
    /// Replaces a comment's body (and, with `status`, its status, keeping counts exact);
    /// `NotFound` for deleted comments.
    fn edit_comment(
        &self,
        id: u64,
        body_source: String,
        body_tree: String,
        edited_at: i64,
        status: Option<Status>,
    ) -> Result<(CommentRecord, WriteSeq)>;
    /// Deletes a comment, leaving a tombstone when it has replies. A page left without
    /// comments leaves no record.
    fn delete_comment(&self, id: u64) -> Result<(Deleted, WriteSeq)>;
    /// Deletes a page's whole thread; returns how many comments went. `NotFound` for no page.
    fn delete_page(&self, site: &str, page_key: &str) -> Result<(usize, WriteSeq)>;
    /// Corrects a page's title (kept from then on) and URL. `NotFound` for no page.
    fn set_page_meta(
        &self,
        site: &str,
        page_key: &str,
        title: Option<String>,
        url: Option<String>,
    ) -> Result<(PageRecord, WriteSeq)>;
    /// The secret called `name`, storing `fresh` as it on first use (so it survives restarts).
    fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>>;
    fn page(&self, site: &str, page_key: &str) -> Result<Option<PageRecord>>;
    /// The page a comment belongs to, by the comment's `page_id`.
    fn page_by_id(&self, page_id: u64) -> Result<Option<PageRecord>>;
    /// Reads up to `limit` top-level comments after the cursor, each with up to
    /// `replies_each` of its replies.
    fn thread_page(
        &self,
        site: &str,
        page_key: &str,
        order: Order,
        limit: usize,
        after: Option<u64>,
        replies_each: usize,
    ) -> Result<ThreadPage>;
    /// Reads up to `limit` replies under the top-level comment `root` after the cursor.
    fn replies_page(
        &self,
        site: &str,
        page_key: &str,
        root: u64,
        after: u64,
        seen: u32,
        limit: usize,
    ) -> Result<RepliesPage>;
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
