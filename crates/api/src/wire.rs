//! Request and response types of API v1 (`/api/v1`).
//!
//! Within v1 fields are only ever added, each with `#[serde(default)]`, because blogs cache old
//! widget bundles while the server is upgraded underneath them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Block;

/// A comment id: time-ordered, unique per server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CommentId(pub u64);

impl std::fmt::Display for CommentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A comment as readers see it. The author's e-mail is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: CommentId,
    #[serde(default)]
    pub parent: Option<CommentId>,
    /// Empty for a tombstone.
    pub author: String,
    #[serde(default)]
    pub website: Option<String>,
    /// A hex seed for the locally drawn identicon (a hash; never the e-mail itself).
    pub avatar: String,
    /// Empty for a tombstone.
    pub body: Vec<Block>,
    /// Milliseconds since the Unix epoch.
    pub created: i64,
    #[serde(default)]
    pub edited: Option<i64>,
    /// A deleted comment kept as a tombstone because it has replies.
    #[serde(default)]
    pub deleted: bool,
    /// Held for moderation: only ever seen by its author, in the response to posting it.
    #[serde(default)]
    pub pending: bool,
    /// Pinned to the top of the thread by a moderator.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// The last edit was a moderator's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moderator_edit: bool,
    #[serde(default)]
    pub replies: Vec<Comment>,
    /// On a top-level comment: replies below it that this response leaves out (at most this
    /// many show; some may be hidden). Fetch them with `replies_cursor`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more_replies: u32,
    /// Pass as `cursor` to `GET /api/v1/replies` for the next replies under this comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies_cursor: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Order of top-level comments in a thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Oldest,
    Newest,
}

/// Query of `GET /api/v1/threads`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadQuery {
    pub site: String,
    pub page: String,
    #[serde(default)]
    pub sort: Sort,
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One page of a thread: top-level comments with all their replies nested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadResponse {
    /// The normalised page key.
    pub page: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Visible comments on the page, replies included.
    pub total: u32,
    pub comments: Vec<Comment>,
    /// Pass as `cursor` to read the next page; `None` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
    /// Closed to new comments (the thread is locked, or the site read-only): show a notice
    /// instead of the form.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
}

/// Query of `GET /api/v1/replies`: the next replies under one top-level comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepliesQuery {
    pub site: String,
    pub page: String,
    /// The top-level comment.
    pub root: CommentId,
    /// Its `replies_cursor` (or the previous response's `next_cursor`).
    pub cursor: String,
}

/// Response of `GET /api/v1/replies`: replies oldest first, flat (each names its parent, which
/// comes earlier in this response or in an earlier one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepliesResponse {
    pub replies: Vec<Comment>,
    /// Replies still left out after these.
    #[serde(default)]
    pub more_replies: u32,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Body of `POST /api/v1/comments`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    pub site: String,
    /// A page key or URL; normalised by the server.
    pub page: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub parent: Option<CommentId>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    /// Markdown source.
    pub body: String,
    /// The solved challenge of `GET /api/v1/challenge`: its `token`, a dot, and the number
    /// found. Without one, a comment counts as sent by a script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// The form's hidden field that people never see and bots fill in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trap: Option<String>,
}

/// Query of `GET /api/v1/challenge`: a form for this page is about to be filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeQuery {
    pub site: String,
    pub page: String,
}

/// Response of `GET /api/v1/challenge`: a signed, single-use form token bound to the site and
/// page, and its proof-of-work puzzle. The browser finds the number `n` in `0..=max` for which
/// SHA-256 of `salt` followed by `n` in decimal is `challenge` (hex), then sends
/// `token.n` as the comment's `proof`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeResponse {
    pub token: String,
    pub salt: String,
    pub challenge: String,
    pub max: u32,
    /// Milliseconds since the Unix epoch after which the token is refused.
    pub expires: i64,
}

/// Response of `POST /api/v1/comments` (201).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateCommentResponse {
    pub comment: Comment,
    /// Shown once; the server keeps only its hash. Send it in [`crate::limits::EDIT_KEY_HEADER`].
    pub edit_key: String,
    /// Milliseconds since the Unix epoch after which edits are refused.
    pub editable_until: i64,
}

/// Body of `PUT /api/v1/comments/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditComment {
    pub body: String,
}

/// Response of `PUT /api/v1/comments/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditCommentResponse {
    pub comment: Comment,
}

/// Response of `DELETE /api/v1/comments/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteCommentResponse {
    /// True when the comment had replies and remains as a tombstone.
    pub tombstone: bool,
}

/// Body of `POST /api/v1/comments/held`: the browser's own comments that were held for
/// moderation, each with its edit key, so it can show them as awaiting moderation until a
/// moderator decides. (A POST so the keys never appear in a URL.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldQuery {
    pub site: String,
    pub page: String,
    /// `[id, edit key]` pairs; at most [`crate::limits::HELD_QUERY_LIMIT`].
    pub comments: Vec<(CommentId, String)>,
}

/// Response of `POST /api/v1/comments/held`: those still waiting (the others were decided).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldResponse {
    pub comments: Vec<Comment>,
}

/// Body of `POST /api/v1/counts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountsRequest {
    pub site: String,
    /// Page keys or URLs, at most [`crate::limits::MAX_COUNT_PAGES`].
    pub pages: Vec<String>,
}

/// Response of `POST /api/v1/counts`: visible comments per page, keyed as the request sent them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountsResponse {
    pub counts: BTreeMap<String, u32>,
}

/// Body of `POST /api/v1/preview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub body: String,
}

/// Response of `POST /api/v1/preview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewResponse {
    pub body: Vec<Block>,
}
