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
    /// The author's IP address as an imported source recorded it (never sent to readers).
    #[serde(default)]
    pub ip: Option<String>,
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
    /// Set by imports: the author's IP address at the source.
    pub ip: Option<String>,
}

impl CommentRecord {
    /// Shown to readers: approved comments and tombstones.
    pub fn is_visible(&self) -> bool {
        matches!(self.status, Status::Approved | Status::Deleted)
    }
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
    /// The owner deleted the page's whole thread.
    PageDeleted { comments: u32 },
    /// The owner corrected the page's title or URL.
    PageUpdated,
    /// The thread moved to another key (merged there if it had comments).
    PageMoved { to: String, comments: u32 },
}
