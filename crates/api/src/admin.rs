//! The moderation API (`/admin/api`), shared by the dashboard, the command line and the
//! server: sign-in, listings, decisions, the audit log and accounts. Same-origin only; every
//! state change carries the session's CSRF token in [`CSRF_HEADER`].

use serde::{Deserialize, Serialize};

use crate::CommentId;

/// The header every state change of a signed-in browser must carry.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// `POST /admin/api/session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    pub name: String,
    pub password: String,
}

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// Every site, and commenters' client addresses.
    Owner,
    /// Only the sites given.
    Moderator,
}

/// `GET /admin/api/session`: who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub name: String,
    pub role: AdminRole,
    /// The sites this account may moderate.
    pub sites: Vec<String>,
    /// Send back in [`CSRF_HEADER`] with every state change.
    pub csrf: String,
}

/// A comment's moderation state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModStatus {
    Approved,
    Pending,
    Spam,
    Deleted,
    Pingback,
}

/// Query of `GET /admin/api/comments`, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    /// `queue` (pending and spam, the default), `pending`, `spam`, `approved` or `all`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    /// Words to find in the text, names, e-mail, website, client address or page.
    #[serde(default)]
    pub q: Option<String>,
    /// Created on or after this day (`YYYY-MM-DD`, UTC).
    #[serde(default)]
    pub from: Option<String>,
    /// Created on or before this day (`YYYY-MM-DD`, UTC).
    #[serde(default)]
    pub to: Option<String>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A comment as a moderator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModComment {
    pub id: CommentId,
    pub site: String,
    pub page: String,
    #[serde(default)]
    pub page_title: Option<String>,
    #[serde(default)]
    pub page_url: Option<String>,
    /// The comment this one replies to.
    #[serde(default)]
    pub parent: Option<ParentExcerpt>,
    pub author: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    /// Owners only.
    #[serde(default)]
    pub ip: Option<String>,
    /// The Markdown source, shown as text.
    pub text: String,
    pub created: i64,
    #[serde(default)]
    pub edited: Option<i64>,
    pub status: ModStatus,
    /// Why it was held, in words.
    #[serde(default)]
    pub held_for: Vec<HeldReason>,
    #[serde(default)]
    pub pinned: bool,
    /// Its thread is locked.
    #[serde(default)]
    pub locked: bool,
}

/// The start of the comment a held one replies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentExcerpt {
    pub id: CommentId,
    pub author: String,
    pub excerpt: String,
}

/// A reason a comment was held: a stable code and its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldReason {
    pub code: String,
    pub text: String,
}

/// `GET /admin/api/comments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListResponse {
    pub comments: Vec<ModComment>,
    /// Pass as `before` for the next (older) page; absent at the end.
    #[serde(default)]
    pub next: Option<String>,
}

/// A decision on comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModAction {
    Approve,
    Spam,
    /// Back to the queue.
    Pending,
    /// Removed (a tombstone stays when it has replies).
    Delete,
    /// To the top of its thread, marked (top-level comments only).
    Pin,
    Unpin,
}

/// `POST /admin/api/moderate`: one decision on one or many comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moderate {
    pub action: ModAction,
    pub ids: Vec<CommentId>,
}

/// What happened to each comment of a [`Moderate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerateResponse {
    pub results: Vec<ModResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModResult {
    pub id: CommentId,
    /// The status after the decision (`deleted` also when it was removed entirely).
    #[serde(default)]
    pub status: Option<ModStatus>,
    /// Set when this comment was not changed: an error code (`comment_not_found`,
    /// `not_permitted`).
    #[serde(default)]
    pub error: Option<String>,
}

/// One entry of `GET /admin/api/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub comment: Option<CommentId>,
    #[serde(default)]
    pub before: Option<ModStatus>,
    #[serde(default)]
    pub after: Option<ModStatus>,
}

/// `PUT /admin/api/accounts/{name}`: creates an account or replaces its password and rights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutAccount {
    pub role: AdminRole,
    #[serde(default)]
    pub sites: Vec<String>,
    pub password: String,
}

/// An account as listed (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    pub role: AdminRole,
    pub sites: Vec<String>,
    pub created: i64,
}

/// Whether new comments on a site wait for approval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationMode {
    /// Comments appear at once.
    #[default]
    None,
    /// A commenter's first comment waits; once one is approved, their comments (same e-mail
    /// and name) appear at once.
    FirstTime,
    /// Comments with links wait for approval; the others appear at once.
    Links,
    /// Every comment waits for approval.
    All,
}

/// `GET`/`PUT /admin/api/sites/{site}`: a site's settings in force (the config file's, with
/// what the dashboard or the command line changed on top). A `PUT` may leave fields out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSettings {
    #[serde(default)]
    pub moderation: Option<ModerationMode>,
    /// How long readers may edit or delete their comments, in seconds.
    #[serde(default)]
    pub edit_window_secs: Option<u64>,
    /// No new comments on any page of the site.
    #[serde(default)]
    pub read_only: Option<bool>,
}

/// `POST /admin/api/pages/lock`: close a thread to new comments, or open it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockPage {
    pub site: String,
    pub page: String,
    pub locked: bool,
}

/// `POST /admin/api/comments/{id}/edit`: a moderator's new text for a comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModEdit {
    pub body: String,
}

/// What a ban matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanBy {
    Email,
    Name,
    /// A client address; for IPv6 its whole /64.
    Ip,
}

/// `POST /admin/api/bans`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBan {
    pub by: BanBy,
    pub value: String,
    /// How long, e.g. `30d`, `12h`, `90m`; absent for ever.
    #[serde(default)]
    pub duration: Option<String>,
    /// The site it holds on (one the account moderates); absent: every site, which only an
    /// owner may ban on.
    #[serde(default)]
    pub site: Option<String>,
}

/// A ban as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub id: u64,
    pub by: BanBy,
    pub value: String,
    pub created: i64,
    #[serde(default)]
    pub until: Option<i64>,
    pub actor: String,
    /// The site it holds on; absent: every site.
    #[serde(default)]
    pub site: Option<String>,
}

/// `POST /admin/api/pages/meta`: correct a page's title (kept from then on) or URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageMeta {
    pub site: String,
    pub page: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// `POST /admin/api/pages/move`: move threads to new page keys (merged where one exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovePages {
    pub site: String,
    /// `[from, to]` pairs, keys or URLs.
    pub moves: Vec<(String, String)>,
}

/// What a page operation did, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub done: Vec<String>,
}

/// Response of `GET /admin/api/spam`: what the anti-spam layers decided since the server
/// started, by outcome (`accepted`, `held`, `spam`, `refused`) and by outcome and reason
/// (`spam.honeypot`), added up over the caller's sites and per site.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpamCounts {
    pub counts: std::collections::BTreeMap<String, u64>,
    pub sites: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
}

/// One delivery of mail or a webhook event (`GET /admin/api/deliveries`, newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub site: String,
    /// `mail` or `webhook`.
    pub channel: String,
    /// The recipient: an address, or a webhook's scheme and host (its path may hold a token).
    pub target: String,
    /// The event (`evt-42`) or the mail's Message-ID.
    pub event: String,
    /// `comment.created`, …, or `mail`.
    pub kind: String,
    /// `delivered`, `retrying` or `given_up`.
    pub outcome: String,
    /// Why it failed, if it did.
    #[serde(default)]
    pub detail: String,
}

/// Response of `GET /admin/api/deliveries`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deliveries {
    pub deliveries: Vec<Delivery>,
}

/// Body of `POST /admin/api/webhooks/test`: send a `ping` event to each of the site's webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestWebhooks {
    pub site: String,
}
