//! On-disk records. Each value is one format-version byte followed by JSON, so a later
//! format can be read alongside this one.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{Error, Result};

/// The record format written by this build.
pub(crate) const FORMAT_VERSION: u8 = 1;

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

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = vec![FORMAT_VERSION];
    serde_json::to_writer(&mut out, value).map_err(|e| Error::Corrupt(e.to_string()))?;
    Ok(out)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, rest)) => {
            serde_json::from_slice(rest).map_err(|e| Error::Corrupt(e.to_string()))
        }
        Some((v, _)) => Err(Error::Corrupt(format!("unknown record format {v}"))),
        None => Err(Error::Corrupt("empty record".into())),
    }
}
