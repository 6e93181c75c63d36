//! Request and response types of API v1 (`/api/v1`).
//!
//! Within v1 fields are only ever added, each with `#[serde(default)]`, because blogs cache old
//! widget bundles while the server is upgraded underneath them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Block;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct CommentId(pub u64);

/// An id is a non-negative integer, which JSON may also write as `12.0` (JSON Schema calls it
/// an integer, and JavaScript numbers are floats): taken when whole and within range.
impl<'de> Deserialize<'de> for CommentId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Id;
        impl serde::de::Visitor<'_> for Id {
            type Value = CommentId;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a comment id")
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<CommentId, E> {
                Ok(CommentId(v))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<CommentId, E> {
                u64::try_from(v)
                    .map(CommentId)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<CommentId, E> {
                // Whole and exactly representable (2^53), as any id this server gives out is.
                if v.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&v) {
                    Ok(CommentId(v as u64))
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
                }
            }
        }
        deserializer.deserialize_u64(Id)
    }
}

impl std::fmt::Display for CommentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// Recursive: its schema names itself by reference.
#[cfg_attr(feature = "openapi", schema(no_recursion))]
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Oldest,
    Newest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ThreadQuery {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "demo", pattern = "^[A-Za-z0-9_-]{1,64}$")
    )]
    pub site: String,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "/2024/05/hello-world/", min_length = 1, max_length = 512)
    )]
    pub page: String,
    #[serde(default)]
    pub sort: Sort,
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThreadResponse {
    /// The normalised page key.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "/2024/05/hello-world/", min_length = 1, max_length = 512)
    )]
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
    /// The server mails follow-up comments to readers who ask (`CreateComment::notify`): the
    /// form offers "Notify me of follow-up comments".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mail: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct RepliesQuery {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "demo", pattern = "^[A-Za-z0-9_-]{1,64}$")
    )]
    pub site: String,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "/2024/05/hello-world/", min_length = 1, max_length = 512)
    )]
    pub page: String,
    /// The top-level comment.
    pub root: CommentId,
    /// Its `replies_cursor` (or the previous response's `next_cursor`).
    pub cursor: String,
}

/// Response of `GET /api/v1/replies`: replies oldest first, flat (each names its parent, which
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepliesResponse {
    pub replies: Vec<Comment>,
    /// Replies still left out after these.
    #[serde(default)]
    pub more_replies: u32,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "demo", pattern = "^[A-Za-z0-9_-]{1,64}$")
    )]
    pub site: String,
    /// A page key or URL; normalised by the server.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "/2024/05/hello-world/", min_length = 1, max_length = 512)
    )]
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
    #[cfg_attr(
        feature = "openapi",
        schema(example = "Thanks, this helped!", min_length = 1)
    )]
    pub body: String,
    /// The solved challenge of `GET /api/v1/challenge`: its `token`, a dot, and the number
    /// found. Without one, a comment counts as sent by a script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// The form's hidden field that people never see and bots fill in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trap: Option<String>,
    /// "Notify me of follow-up comments" by mail (needs `email`; the first mail asks the
    /// address to confirm, unless it already did on this site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<FollowUps>,
}

/// Which follow-up comments a reader wants mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FollowUps {
    /// Replies to the reader's own comments on the page.
    Replies,
    /// Every new comment on the page.
    Thread,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ChallengeQuery {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "demo", pattern = "^[A-Za-z0-9_-]{1,64}$")
    )]
    pub site: String,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "/2024/05/hello-world/", min_length = 1, max_length = 512)
    )]
    pub page: String,
}

/// Response of `GET /api/v1/challenge`: a signed, single-use form token bound to the site and
/// page, and its proof-of-work puzzle. The browser finds the number `n` in `0..=max` for which
/// SHA-256 of `salt` followed by `n` in decimal is `challenge` (hex), then sends
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChallengeResponse {
    pub token: String,
    pub salt: String,
    pub challenge: String,
    pub max: u32,
    /// Milliseconds since the Unix epoch after which the token is refused.
    pub expires: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateCommentResponse {
    pub comment: Comment,
    /// Shown once; the server keeps only its hash. Send it in [`crate::limits::EDIT_KEY_HEADER`].
    pub edit_key: String,
    /// Milliseconds since the Unix epoch after which edits are refused.
    pub editable_until: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EditComment {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditCommentResponse {
    pub comment: Comment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteCommentResponse {
    /// True when the comment had replies and remains as a tombstone.
    pub tombstone: bool,
}

/// Body of `POST /api/v1/comments/held`: the browser's own comments that were held for
/// moderation, each with its edit key, so it can show them as awaiting moderation until a
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldQuery {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "demo", pattern = "^[A-Za-z0-9_-]{1,64}$")
    )]
    pub site: String,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "/2024/05/hello-world/", min_length = 1, max_length = 512)
    )]
    pub page: String,
    /// `[id, edit key]` pairs; at most [`crate::limits::HELD_QUERY_LIMIT`].
    pub comments: Vec<(CommentId, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldResponse {
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CountsRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "demo", pattern = "^[A-Za-z0-9_-]{1,64}$")
    )]
    pub site: String,
    /// Page keys or URLs, at most [`crate::limits::MAX_COUNT_PAGES`].
    pub pages: Vec<String>,
    /// With a language (`en`, `de`, …), the response also words each count ("16 Responses").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CountsResponse {
    pub counts: BTreeMap<String, u32>,
    /// Each count in words, when the request named a language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewResponse {
    pub body: Vec<Block>,
}

/// Query of `GET /api/v1/live`: follow one thread's changes as they happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct LiveQuery {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "demo", pattern = "^[A-Za-z0-9_-]{1,64}$")
    )]
    pub site: String,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "/2024/05/hello-world/", min_length = 1, max_length = 512)
    )]
    pub page: String,
    /// Like `Last-Event-ID` (which wins when both are sent): the id of the last event seen,
    /// for a script that closed its stream (a hidden tab) and opens a new one.
    #[serde(default)]
    pub since: Option<u64>,
}

/// The SSE `event` name of every [`LiveEvent`] on `GET /api/v1/live`.
pub const LIVE_EVENT: &str = "update";

/// The SSE `event` of a stream's position (its `id`; `data` is `{}`): sent when the stream opens
/// and after a catch-up, so a browser can reconnect with `Last-Event-ID` even if nothing changed.
pub const LIVE_READY: &str = "ready";

/// What changed on a followed thread: the `data` of one Server-Sent Event (its `id` is the
/// change's sequence number, to send back as `Last-Event-ID` after a reconnect). Only what
/// readers may see is ever sent: comments awaiting moderation never appear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A comment readers can now see: new, or approved by a moderator (replace a placeholder
    /// with the same id).
    Added { comment: Comment },
    /// A shown comment changed: edited, or now a placeholder (deleted or hidden, with replies).
    Changed { comment: Comment },
    /// A comment gone from the thread (deleted or hidden, without replies).
    Removed { id: CommentId },
    /// More changed than events say (a page moved, deleted, locked or pinned, or events were
    /// missed): read the thread again.
    Reload,
}
