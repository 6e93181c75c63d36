//! The records every backend stores: pages, comments and change-log entries. They are
//! serde types so a backend may keep them as documents (sled keeps JSON behind a version byte).

use serde::{Deserialize, Serialize};

/// Moderation state of a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Approved,
    Pending,
    Spam,
    /// Kept as a tombstone because it has replies.
    Deleted,
    /// An imported pingback or trackback: kept, never shown as a reader's comment.
    Pingback,
}

impl Status {
    /// The status as its serde form spells it (for columns, logs and events).
    pub fn name(self) -> &'static str {
        match self {
            Status::Approved => "approved",
            Status::Pending => "pending",
            Status::Spam => "spam",
            Status::Deleted => "deleted",
            Status::Pingback => "pingback",
        }
    }
}

/// A page (a blog post) of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRecord {
    pub id: u64,
    pub site: String,
    pub key: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Approved comments on the page, maintained on every write.
    pub count: u32,
    pub created: i64,
    /// Every stored comment of the page, whatever its status; the page goes when it reaches 0.
    #[serde(default)]
    pub comments: u32,
    /// The owner set the title: later comments no longer refresh it.
    #[serde(default)]
    pub title_by_owner: bool,
    /// The owner set the URL: later comments no longer refresh it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub url_by_owner: bool,
    /// A moderator closed the thread: readers see a notice instead of the form.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
}

impl PageRecord {
    /// What a new comment says of its page: an approved comment's title and URL replace the
    /// page's, a held or spam one's (it may come from anyone, with any `Origin`) only fill in
    /// what the page lacks (so a moderator's queue names a new thread), and nobody's replace
    /// what the owner set.
    pub fn learn_from(&mut self, new: &NewComment) {
        let approved = new.status == Status::Approved;
        if new.page_title.is_some() && !self.title_by_owner && (approved || self.title.is_none()) {
            self.title.clone_from(&new.page_title);
        }
        if new.page_url.is_some() && !self.url_by_owner && (approved || self.url.is_none()) {
            self.url.clone_from(&new.page_url);
        }
    }

    /// The owner corrects the title and URL (each when given): kept from then on.
    pub fn set_by_owner(&mut self, title: Option<String>, url: Option<String>) {
        if title.is_some() {
            self.title = title;
            self.title_by_owner = true;
        }
        if url.is_some() {
            self.url = url;
            self.url_by_owner = true;
        }
    }
}

/// A comment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentRecord {
    pub id: u64,
    pub page_id: u64,
    #[serde(default)]
    pub parent: Option<u64>,
    /// 0 for top-level comments.
    pub depth: u32,
    pub author: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    pub body_source: String,
    /// The serialised document tree, opaque to the store.
    pub body_tree: String,
    pub created: i64,
    #[serde(default)]
    pub edited: Option<i64>,
    pub status: Status,
    /// Hex SHA-256 of the edit key.
    #[serde(default)]
    pub edit_key_hash: Option<String>,
    /// Direct replies, tombstones included.
    #[serde(default)]
    pub children: u32,
    /// The top-level comment this reply is under (`None` for a top-level comment).
    #[serde(default)]
    pub root: Option<u64>,
    /// For a top-level comment: its replies at every depth, whatever their status.
    #[serde(default)]
    pub descendants: u32,
    /// Where an imported comment came from (its id in the export it was read from), so
    /// re-running an import adds nothing and a re-export keeps the same ids.
    #[serde(default)]
    pub source: Option<String>,
    /// The author's client address: recorded when a reader posts, or as an imported source
    /// had it. Shown to owners only, never sent to readers.
    #[serde(default)]
    pub ip: Option<String>,
    /// Why the comment was held for moderation (stable reason codes), empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_for: Vec<String>,
    /// A top-level comment a moderator pinned to the top of its thread.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// The last edit was a moderator's (readers are told).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moderator_edit: bool,
}

/// What the server hands over to create a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    pub site: String,
    pub page_key: String,
    /// Recorded on the page, replacing an earlier one unless the owner set the title.
    pub page_title: Option<String>,
    /// Recorded on the page, replacing an earlier one.
    pub page_url: Option<String>,
    pub parent: Option<u64>,
    pub max_depth: u32,
    pub author: String,
    pub email: Option<String>,
    pub website: Option<String>,
    pub body_source: String,
    pub body_tree: String,
    pub created: i64,
    pub status: Status,
    pub edit_key_hash: Option<String>,
    /// Set by imports: the last edit time.
    pub edited: Option<i64>,
    /// Set by imports: the comment's id at its source; a second insert with the same source
    /// on the same site fails with [`crate::Error::Conflict`].
    pub source: Option<String>,
    /// The author's client address (a reader's, or the one an import source recorded).
    pub ip: Option<String>,
    /// Why a held comment was held (reason codes).
    pub held_for: Vec<String>,
    /// Set by imports: pinned at the source (top-level comments only).
    pub pinned: bool,
    /// Set by imports: the last edit was a moderator's.
    pub moderator_edit: bool,
}

impl CommentRecord {
    /// Shown to readers: approved comments and tombstones.
    pub fn is_visible(&self) -> bool {
        matches!(self.status, Status::Approved | Status::Deleted)
    }

    /// Read into a thread: visible, or hidden (pending, spam) but with replies, which the
    /// server shows as a placeholder so the replies keep their place.
    pub fn in_thread(&self) -> bool {
        self.is_visible() || self.children > 0
    }
}

/// Who an author is for first-time moderation: the e-mail and the name, trimmed and lowercase
/// (`None` without an e-mail). Every backend counts approved comments under this key.
pub fn author_identity(email: Option<&str>, name: &str) -> Option<(String, String)> {
    Some((email?.trim().to_lowercase(), name.trim().to_lowercase()))
}

/// One entry of the change log: what a write did, to which page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// 1, 2, 3 … in commit order, with no gaps.
    pub seq: u64,
    /// When it was written (Unix milliseconds, the store's clock).
    pub at: i64,
    pub site: String,
    /// The page's key (for a move: the key it had before).
    pub page_key: String,
    /// The comment written, for comment changes.
    #[serde(default)]
    pub comment: Option<u64>,
    pub kind: ChangeKind,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new comment; `imported` when it came from an import rather than a reader.
    Created {
        status: Status,
        parent: Option<u64>,
        imported: bool,
    },
    /// A new body; `was` is the status before (it differs when the edit sent it to moderation).
    Edited { status: Status, was: Status },
    /// Deleted, or left as a tombstone because it has replies.
    Deleted { tombstone: bool },
    /// A moderator changed the comment's status (approved, spam, back to pending).
    StatusChanged { status: Status, was: Status },
    /// The owner deleted the page's whole thread.
    PageDeleted { comments: u32 },
    /// The owner corrected the page's title or URL, or locked or unlocked the thread.
    PageUpdated,
    /// A moderator pinned or unpinned a top-level comment.
    Pinned { pinned: bool },
    /// The thread moved to another key (merged there if it had comments).
    PageMoved { to: String, comments: u32 },
    /// The site's stored settings changed (moderation, edit window, read-only): every page of
    /// it may look different. Its `page_key` is empty.
    SiteChanged,
}

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Every site, and the client addresses of commenters.
    Owner,
    /// Only the sites it was given.
    Moderator,
}

/// A person who may sign in to moderate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRecord {
    pub name: String,
    pub role: Role,
    /// The sites a moderator may see (owners see every site).
    #[serde(default)]
    pub sites: Vec<String>,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub created: i64,
    /// When the password or the rights last changed: sessions signed in before are void.
    pub changed: i64,
}

impl AdminRecord {
    pub fn may_see(&self, site: &str) -> bool {
        self.role == Role::Owner || self.sites.iter().any(|s| s == site)
    }
}

/// A signed-in browser. Stored by the hash of its cookie value, never the value itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Hex SHA-256 of the cookie value.
    pub id_hash: String,
    pub admin: String,
    /// The token every state change must carry (sent in a header, never in a cookie).
    pub csrf: String,
    pub created: i64,
    /// Last request (for idle expiry; refreshed at most once a minute).
    pub seen: i64,
}

/// One moderator action, kept for the owner to review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 1, 2, 3 … given by the store.
    #[serde(default)]
    pub seq: u64,
    pub at: i64,
    /// The account (or `cli:NAME` for the command line).
    pub actor: String,
    /// What was done (`approve`, `spam`, `delete`, `sign_in`, …).
    pub action: String,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub page_key: Option<String>,
    #[serde(default)]
    pub comment: Option<u64>,
    #[serde(default)]
    pub before: Option<Status>,
    #[serde(default)]
    pub after: Option<Status>,
}

/// What a ban matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanKind {
    /// An e-mail address (compared case-insensitively).
    Email,
    /// An author name (compared case-insensitively).
    Name,
    /// A client address; an IPv6 value is its /64.
    Ip,
}

/// A ban: comments matching it are refused, on every site, until it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    /// Given by the store.
    #[serde(default)]
    pub id: u64,
    pub kind: BanKind,
    /// Normalised by the server (lowercase e-mail or name; an address or a /64 prefix).
    pub value: String,
    pub created: i64,
    /// Unix ms; `None` for ever.
    #[serde(default)]
    pub until: Option<i64>,
    pub by: String,
    /// The site it holds on; `None`: every site (bans stored before sites had their own are
    /// such).
    #[serde(default)]
    pub site: Option<String>,
}

/// What the blogger decided a comment is, as the spam filter learns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    Spam,
    Ham,
}

/// Learned counts for some tokens: per token, in how many spam and ham comments it appeared;
/// and how many spam and ham comments were learned in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenCounts {
    pub tokens: Vec<(u32, u32)>,
    pub spam_docs: u32,
    pub ham_docs: u32,
}

/// What a subscriber hears about on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Replies to the subscriber's own comments on the page.
    Replies,
    /// Every new comment on the page.
    Thread,
}

/// A reader's wish to hear by mail about new comments on one page: one per site, page and
/// address. Nothing but the confirmation request is mailed until it is `confirmed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    /// Given by the store.
    #[serde(default)]
    pub id: u64,
    pub site: String,
    pub page_key: String,
    /// Lowercase (the server normalises it).
    pub email: String,
    pub scope: Scope,
    /// The language the reader used when subscribing: the mails' language.
    pub lang: String,
    pub created: i64,
    /// The comment whose form asked for it (the confirmation mail is about it).
    pub origin: u64,
    pub confirmed: bool,
    /// When a confirmation request was last mailed for it.
    #[serde(default)]
    pub asked: Option<i64>,
}

impl SubscriptionRecord {
    /// The same reader's new wish for a page they already follow (`self`): the wider scope,
    /// confirmed once the address is, and while unconfirmed the newest comment is the one a
    /// confirmation mail quotes. `kernel::SubscriptionTx::subscribe` applies this.
    pub fn widen(&mut self, wish: &SubscriptionRecord, address_confirmed: bool) {
        self.scope = self.scope.max(wish.scope);
        self.confirmed |= address_confirmed;
        if !self.confirmed {
            self.origin = wish.origin;
        }
    }

    /// Takes in a subscription of the same address moved onto this one's page: one
    /// subscription, the wider scope, confirmed if either was.
    pub fn absorb(&mut self, moved: &SubscriptionRecord) {
        self.scope = self.scope.max(moved.scope);
        self.confirmed |= moved.confirmed;
    }
}
