//! Talkback's storage seam: the traits every backend implements, split by facet, the records
//! they store, their errors, and the conformance suite that pins what every backend must do.
//!
//! This crate does no IO and knows nothing about HTTP or the wire types: comment bodies arrive
//! as an opaque, already-serialised document tree. Backends live in crates of their own
//! (`talkback-store-sled`); each runs `conformance_suite!` against itself.
//!
//! Rules that must hold atomically (a reply's parent exists, is visible and is on the same page
//! when the reply lands; counts never drift; a tombstone chain goes with its last reply; every
//! write appends exactly one [`Change`] under the next sequence number) are written once in
//! [`kernel`], over the transaction primitives each backend implements; the suite pins them.
//! Decisions that need no transaction (validation, which status a comment gets, who may edit
//! it) belong to the server's write path.

mod error;
pub mod kernel;
mod query;
mod records;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use error::{Error, Missing, ParentProblem, Result};
pub use query::{CommentList, CommentQuery, Listed};
pub use records::{
    AdminRecord, AuditRecord, BanKind, BanRecord, Change, ChangeKind, CommentRecord, Label,
    NewComment, PageRecord, Role, Scope, SessionRecord, Status, SubscriptionRecord, TokenCounts,
    author_identity,
};

/// A position in the write log: pass it to [`Writes::flush_through`] before acknowledging the
/// write that returned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WriteSeq(pub u64);

impl WriteSeq {
    /// Every write so far.
    pub const ALL: WriteSeq = WriteSeq(u64::MAX);
}

/// Order of top-level comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

/// One page of a thread as stored: top-level comments in order, and the first replies below
/// each of them (flat, oldest first, so a parent always precedes its replies). Only comments
/// `in_thread` are read: visible ones, and hidden ones with replies, which the server shows as
/// placeholders.
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

impl RepliesPage {
    /// The one rule of a page of replies, for every backend: `stored` yields the replies under
    /// the top-level comment `top` after the cursor (`after`, with `seen` replies before it),
    /// in id order, whatever their status (`None` for an id whose record is gone). Up to
    /// `limit` of those `in_thread` are kept; when another reply follows them, `more` says
    /// where to go on and how many may remain.
    pub fn collect(
        top: &CommentRecord,
        after: u64,
        seen: u32,
        limit: usize,
        stored: impl Iterator<Item = Result<(u64, Option<CommentRecord>)>>,
    ) -> Result<RepliesPage> {
        let mut replies = Vec::with_capacity(limit.min(64));
        let (mut seen, mut last) = (seen, after);
        for entry in stored {
            let (id, record) = entry?;
            if replies.len() >= limit {
                return Ok(RepliesPage {
                    replies,
                    more: Some(MoreReplies {
                        root: top.id,
                        after: last,
                        seen,
                        remaining: top.descendants.saturating_sub(seen).max(1),
                    }),
                });
            }
            seen += 1;
            last = id;
            if let Some(record) = record.filter(CommentRecord::in_thread) {
                replies.push(record);
            }
        }
        Ok(RepliesPage {
            replies,
            more: None,
        })
    }
}

/// What deleting a comment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The comment had replies and stays as a tombstone.
    Tombstone,
    /// The comment was removed entirely.
    Removed,
}

/// A new body for a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub body_source: String,
    pub body_tree: String,
    pub edited_at: i64,
    /// A new status (counts follow), e.g. back to `Pending` on a moderated site.
    pub status: Option<Status>,
    /// A moderator's edit, not the author's.
    pub by_moderator: bool,
    /// With a new `status`: why the comment is held now (kept as its `held_for`).
    pub held_for: Option<Vec<String>>,
}

/// What readers see.
pub trait Reads: Send + Sync {
    fn comment(&self, id: u64) -> Result<Option<CommentRecord>>;
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
}

/// Comment writes. Each is one transaction that also appends its [`Change`].
pub trait Writes: Send + Sync {
    /// Stores a new comment, creating its page on first use and updating counts.
    /// [`Error::Locked`] on a locked thread, unless it comes from an import (`source`).
    fn insert_comment(&self, new: NewComment) -> Result<(CommentRecord, WriteSeq)>;
    /// Replaces a comment's body (and, with `status`, its status, keeping counts exact);
    /// `NotFound` for deleted comments.
    fn edit_comment(&self, id: u64, edit: Edit) -> Result<(CommentRecord, WriteSeq)>;
    /// Deletes a comment, leaving a tombstone when it has replies. A page left without
    /// comments leaves no record.
    fn delete_comment(&self, id: u64) -> Result<(Deleted, WriteSeq)>;
    /// Returns once every write up to `seq` is on disk. Concurrent callers share one flush.
    fn flush_through(&self, seq: WriteSeq) -> Result<()>;
}

/// The owner's operations on whole pages, and the store's own housekeeping.
pub trait Maintenance: Send + Sync {
    /// Records a configured site (idempotent).
    fn ensure_site(&self, site: &str) -> Result<()>;
    /// The secret called `name`, storing `fresh` as it on first use (so it survives restarts).
    fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>>;
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
    /// Moves every comment of page `from` to page `to` (created if needed, merged if it
    /// exists), keeping replies and counts. Returns how many comments moved.
    fn move_page(&self, site: &str, from: &str, to: &str) -> Result<(usize, WriteSeq)>;
    /// Counts one use of the budget `key` in the window of `length_ms` starting at
    /// `window_ms` (callers align windows, so every server names the same one); returns the
    /// uses in that window so far, this one included, as every server sharing the store and
    /// every restart sees them. A new window starts the count again; keys whose window ended
    /// are forgotten in time.
    fn count_use(&self, key: &str, window_ms: i64, length_ms: i64) -> Result<u32>;
    /// Records the use of the one-time token `token` (a signed form token's salt), valid until
    /// `expires_ms`; true the first time, false ever after. Every server sharing the store
    /// sees it and it survives restarts, so a captured token is good for one comment in all.
    /// The store may forget a token once `now_ms` is past its expiry (it is refused as
    /// expired then anyway).
    fn spend_once(&self, token: &[u8], expires_ms: i64, now_ms: i64) -> Result<bool>;
    /// Whether writes are refused for want of disk space now, and what happened before
    /// ([`Error::Full`]); a store that cannot tell says nothing.
    fn disk(&self) -> DiskState {
        DiskState::default()
    }
}

/// What a store saw of the disk under it since it opened.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiskState {
    /// Since when (ms since the epoch) writes are refused because the disk is full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_since: Option<i64>,
    /// Writes refused for want of space since the store opened, and the last one's time.
    pub refused_writes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refused: Option<i64>,
    /// The last time the disk was full and then had room again: from, to (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_full: Option<(i64, i64)>,
}

impl DiskState {
    /// A write was refused for want of space at `now_ms`.
    pub fn refused(&mut self, now_ms: i64) {
        self.refused_writes += 1;
        self.last_refused = Some(now_ms);
        self.full_since.get_or_insert(now_ms);
    }

    /// The disk had room again at `now_ms` (a write went through, or space was freed).
    pub fn room(&mut self, now_ms: i64) {
        if let Some(from) = self.full_since.take() {
            self.last_full = Some((from, now_ms));
        }
    }
}

/// Moving whole sites in and out (imports, exports, backups).
pub trait Transfer: Send + Sync {
    /// The id of the comment imported from `source` on `site`, if any.
    fn comment_by_source(&self, site: &str, source: &str) -> Result<Option<u64>>;
    /// [`Transfer::comment_by_source`] for many sources at once (an importer asks for a
    /// thread's): those found, with their comments' ids.
    fn comments_by_source(
        &self,
        site: &str,
        sources: &[&str],
    ) -> Result<std::collections::HashMap<String, u64>> {
        let mut found = std::collections::HashMap::new();
        for source in sources {
            if let Some(id) = self.comment_by_source(site, source)? {
                found.insert((*source).to_owned(), id);
            }
        }
        Ok(found)
    }
    /// Every page of a site (by key) with all its comments (by id), for exports.
    fn export_site(&self, site: &str) -> Result<Vec<(PageRecord, Vec<CommentRecord>)>>;
}

/// The durable change log: every write appends one [`Change`] in its own transaction, under
/// the next sequence number (1, 2, 3 … with no gaps, in commit order), so a consumer that
/// keeps the last sequence it handled resumes exactly where it stopped.
pub trait ChangeLog: Send + Sync {
    /// Up to `limit` changes with sequence numbers above `after`, oldest first.
    /// [`Error::Pruned`] when changes right after `after` were already pruned.
    fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<Change>>;
    /// The sequence number of the newest change (0 before the first).
    fn last_change(&self) -> Result<u64>;
    /// Removes changes written before `before_ms`; returns how many went.
    fn prune_changes(&self, before_ms: i64) -> Result<usize>;
    /// Where the consumer `name` (mail, webhooks, …) stopped: the last change it handled;
    /// `None` for a consumer never heard of (it decides where to start).
    fn consumer_cursor(&self, name: &str) -> Result<Option<u64>>;
    /// Records, durably, that the consumer `name` handled every change up to `seq`.
    fn set_consumer_cursor(&self, name: &str, seq: u64) -> Result<()>;
    /// True when other processes write to this store too (servers sharing one database): each
    /// server must then follow the log for what the others wrote. A shared store's
    /// [`WriteSeq`] is the sequence number of the change the write appended (0: none).
    fn shared(&self) -> bool {
        false
    }
    /// Blocks until another process may have appended changes, or at most `timeout`. A shared
    /// backend wakes early when told (PostgreSQL's NOTIFY); the caller reads
    /// [`changes_after`](Self::changes_after) either way, so a lost wake-up costs at most
    /// `timeout`.
    fn wait_for_changes(&self, timeout: std::time::Duration) -> Result<()> {
        std::thread::sleep(timeout);
        Ok(())
    }
    /// Claims (or renews) the right to work the consumer `name` until `until_ms`, for
    /// `holder` (one server's id): true when `holder` has it now, false while another
    /// holder's claim has not run out at `now_ms`. A store one process writes always grants.
    fn claim(&self, name: &str, holder: &str, now_ms: i64, until_ms: i64) -> Result<bool> {
        let _ = (name, holder, now_ms, until_ms);
        Ok(true)
    }
}

/// The moderator's reads and decisions.
pub trait Moderation: Send + Sync {
    /// Approves a comment, marks it spam or sends it back to pending, keeping counts exact
    /// and appending [`ChangeKind::StatusChanged`] (nothing when the status is already that).
    /// `NotFound` for tombstones; [`Status::Deleted`] is refused (use `delete_comment`).
    fn set_status(&self, id: u64, status: Status) -> Result<(CommentRecord, WriteSeq)>;
    /// Comments matching the query, newest first (see [`CommentQuery`]).
    fn list_comments(&self, query: &CommentQuery) -> Result<CommentList>;
    /// How many approved comments the author with this e-mail and name (both compared
    /// case-insensitively) has on `site`, kept exact through every status change.
    fn approved_comments_by(&self, site: &str, email: &str, name: &str) -> Result<u32>;
    /// Pins a top-level comment to the top of its thread (or unpins it), appending
    /// [`ChangeKind::Pinned`]. `NotFound` for tombstones.
    fn set_pinned(&self, id: u64, pinned: bool) -> Result<(CommentRecord, WriteSeq)>;
    /// Locks a thread (readers may no longer comment) or unlocks it, appending
    /// [`ChangeKind::PageUpdated`]. `NotFound` for no page.
    fn set_locked(
        &self,
        site: &str,
        page_key: &str,
        locked: bool,
    ) -> Result<(PageRecord, WriteSeq)>;
    /// Adds a ban; returns it with its id.
    fn put_ban(&self, ban: BanRecord) -> Result<BanRecord>;
    /// Every ban, ended ones included, by id.
    fn bans(&self) -> Result<Vec<BanRecord>>;
    /// False when there was no such ban.
    fn remove_ban(&self, id: u64) -> Result<bool>;
    /// A site's settings as the server stored them (an opaque document), if any.
    fn site_settings(&self, site: &str) -> Result<Option<String>>;
    /// Stores a site's settings, appending [`ChangeKind::SiteChanged`] (so servers sharing the
    /// store hear of it).
    fn put_site_settings(&self, site: &str, settings: &str) -> Result<()>;
}

/// Who may sign in, their sessions, and the audit log of what they did.
pub trait Accounts: Send + Sync {
    /// Creates or replaces an account.
    fn put_admin(&self, admin: AdminRecord) -> Result<()>;
    fn admin(&self, name: &str) -> Result<Option<AdminRecord>>;
    /// Every account, by name.
    fn admins(&self) -> Result<Vec<AdminRecord>>;
    /// Removes an account and its sessions; false when there was none.
    fn remove_admin(&self, name: &str) -> Result<bool>;
    fn put_session(&self, session: SessionRecord) -> Result<()>;
    fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>>;
    fn remove_session(&self, id_hash: &str) -> Result<()>;
    /// Removes sessions last seen before `seen_before`; returns how many went.
    fn prune_sessions(&self, seen_before: i64) -> Result<usize>;
    /// Appends an entry under the next audit sequence number, which it returns.
    fn append_audit(&self, entry: AuditRecord) -> Result<u64>;
    /// Up to `limit` entries below sequence `before` (all when `None`), newest first.
    fn audit_log(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditRecord>>;
}

/// The spam filter's learned state: how often each token appeared in comments the blogger
/// called spam or approved, trained by one consumer of the change log whose cursor moves in
/// the same transaction as the counts, so a decision is learned exactly once.
pub trait SpamFilter: Send + Sync {
    /// Learns (or, with `label: None`, forgets) one comment's tokens under its label, undoing
    /// what the same comment taught before (a decision the blogger reversed), and moves the
    /// trainer's cursor to `cursor`; all in one transaction. Learning a comment again under
    /// the label it already has changes no count.
    fn train(
        &self,
        comment: u64,
        tokens: &[String],
        label: Option<Label>,
        cursor: u64,
    ) -> Result<()>;
    /// Moves the trainer's cursor past changes that teach nothing.
    fn set_training_cursor(&self, cursor: u64) -> Result<()>;
    /// The last change the trainer handled (0 before the first).
    fn training_cursor(&self) -> Result<u64>;
    /// Learned counts of each token (in the order asked) and of documents.
    fn token_counts(&self, tokens: &[String]) -> Result<TokenCounts>;
}

/// A store that implements every facet.
/// Readers' mail subscriptions to pages, the addresses that confirmed they want mail, and
/// which subscriber was mailed about which comment (so a replayed change mails nobody twice).
pub trait Subscriptions: Send + Sync {
    /// Records a reader's wish: a new subscription gets an id (unconfirmed unless the address
    /// is confirmed on the site); an existing one for the same site, page and address keeps
    /// its id, its confirmation and its language, and widens to the wider scope. Durable when
    /// it returns. Returns what is stored.
    fn subscribe(&self, wish: SubscriptionRecord) -> Result<SubscriptionRecord>;
    /// Stores a subscription as another store had it, its id kept (`migrate-store`: the links
    /// already mailed carry the id); ids given out later stay above it. `Conflict` when the id,
    /// or the subscription of that address to that page, is taken. Durable when it returns.
    fn restore_subscription(&self, sub: SubscriptionRecord) -> Result<()>;
    fn subscription(&self, id: u64) -> Result<Option<SubscriptionRecord>>;
    /// The subscription of `email` (lowercase) to a page.
    fn subscription_of(
        &self,
        site: &str,
        page_key: &str,
        email: &str,
    ) -> Result<Option<SubscriptionRecord>>;
    /// The subscriptions of a page in address order, after the address `after`.
    fn page_subscriptions(
        &self,
        site: &str,
        page_key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SubscriptionRecord>>;
    /// Notes that a confirmation request was mailed for subscription `id` at `at`.
    fn set_asked(&self, id: u64, at: i64) -> Result<()>;
    /// Remembers that `email` confirmed on `site` and confirms each of its subscriptions
    /// there, in one step. Returns how many were newly confirmed.
    fn confirm_address(&self, site: &str, email: &str, at: i64) -> Result<usize>;
    /// Whether `email` ever confirmed on `site` (and has not asked to be forgotten).
    fn address_confirmed(&self, site: &str, email: &str) -> Result<bool>;
    /// Ends one subscription (and forgets what it was mailed). False when there was none.
    fn unsubscribe(&self, id: u64) -> Result<bool>;
    /// Ends every subscription of `email` on `site` and forgets its confirmation.
    fn forget_address(&self, site: &str, email: &str) -> Result<usize>;
    /// Moves a page's subscriptions with its thread (an address subscribed on both keeps the
    /// wider scope).
    fn move_subscriptions(&self, site: &str, from: &str, to: &str) -> Result<usize>;
    /// Whether subscription `id` was already mailed about `comment`.
    fn was_mailed(&self, id: u64, comment: u64) -> Result<bool>;
    /// Records that subscription `id` was mailed about `comment`.
    fn set_mailed(&self, id: u64, comment: u64) -> Result<()>;
}

pub trait Store:
    Reads
    + Writes
    + Maintenance
    + Transfer
    + ChangeLog
    + Moderation
    + Accounts
    + SpamFilter
    + Subscriptions
    + 'static
{
}

impl<
    T: Reads
        + Writes
        + Maintenance
        + Transfer
        + ChangeLog
        + Moderation
        + Accounts
        + SpamFilter
        + Subscriptions
        + 'static,
> Store for T
{
}
