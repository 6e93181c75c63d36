//! Readers' writes: posting, editing and deleting their own comments. Each is acknowledged
//! only after it is on disk and the cache has dropped the page.

use base64::Engine;
use sha2::{Digest, Sha256};
use talkback_api::limits::{HELD_QUERY_LIMIT, MAX_REPLY_DEPTH};
use talkback_api::{
    ChallengeQuery, ChallengeResponse, CreateComment, CreateCommentResponse, DeleteCommentResponse,
    EditComment, EditCommentResponse, ErrorCode, HeldQuery, HeldResponse,
};
use talkback_store::{CommentRecord, Deleted, Edit, NewComment, Status};

use super::antispam::{Candidate, Path, Verdict};
use super::{Service, convert, now_ms};
use crate::config::Moderation;
use crate::content::validate;
use crate::error::{Error, Result};

/// Where a reader's request came from, as the HTTP layer saw it.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The request's `Origin` is one of the site's configured ones: only a page on the blog
    /// itself may say what it is called and where it lives.
    pub from_site: bool,
    /// The request's `Host`: the server's own origin counts as one of every site's.
    pub host: Option<String>,
    /// The client's address (through trusted proxies), kept with the comment for moderators.
    pub client: Option<std::net::IpAddr>,
    /// How the comment was sent (the widget proves work; a plain form cannot).
    pub path: Path,
    /// The language the reader reads the page in (mail to them is in it).
    pub lang: &'static str,
}

/// Why a new or edited comment must wait for approval under `settings` (empty: it need not);
/// `known`: its author already has an approved comment on the site.
fn hold_reasons(
    settings: &super::Settings,
    tree: &[talkback_api::Block],
    known: bool,
) -> Vec<String> {
    match settings.moderation {
        Moderation::None => Vec::new(),
        Moderation::FirstTime if known => Vec::new(),
        Moderation::FirstTime => vec!["first_time".into()],
        Moderation::Links if talkback_api::Block::link_count(tree) == 0 => Vec::new(),
        Moderation::Links => vec!["contains_links".into()],
        Moderation::All => vec!["moderation_all".into()],
    }
}

/// A hold for the site's moderation reasons (none: accept).
fn held(reasons: Vec<String>) -> Verdict {
    if reasons.is_empty() {
        Verdict::Accept
    } else {
        Verdict::Hold {
            reasons,
            spam: false,
        }
    }
}

/// Whether the presented key's hash is the comment's (compared in constant time).
fn key_matches(record: &CommentRecord, presented_hash: &str) -> bool {
    record
        .edit_key_hash
        .as_deref()
        .is_some_and(|stored| crate::http::same_bytes(stored.as_bytes(), presented_hash.as_bytes()))
}

fn new_edit_key() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl Service {
    /// Posts a reader's comment.
    pub fn post(&self, input: CreateComment, from: &Provenance) -> Result<CreateCommentResponse> {
        let site = self
            .config
            .site(&input.site)
            .ok_or_else(|| unknown_site(&input.site))?;
        let page_key = validate::page_key(&input.page, site)?;
        let settings = self.settings(site)?;
        // A locked thread is refused by the store, inside the insert's transaction.
        if settings.read_only {
            return Err(Error::reader(ErrorCode::CommentsClosed));
        }
        let page_title = validate::title(input.title.as_deref())?;
        let mut page_url = validate::page_url(input.url.as_deref(), site)?;
        if let Some(url) = &page_url {
            let origin = validate::url_origin(url);
            // A page's link is recorded only on a configured origin: the request's `Host` is
            // the client's to choose. A page on the server's own origin (the demo, the no-JS
            // page) may post, but its address is not the post's.
            // Anything else is left out and the comment still taken: the reader is not to
            // blame for where the blog's page claims to be.
            let configured = origin.is_some_and(|o| site.has_origin(o.as_bytes(), None));
            if !configured {
                tracing::info!(site = %site.id, "a page URL off the site's origins was not recorded");
                page_url = None;
            }
        }
        let (page_title, page_url) = if from.from_site {
            (page_title, page_url)
        } else {
            (None, None)
        };
        let author = validate::author(input.author.as_deref())?;
        let email = validate::email(input.email.as_deref())?;
        if input.notify.is_some() && email.is_none() {
            return Err(Error::client(
                ErrorCode::InvalidEmail,
                "An e-mail address is needed to be notified of follow-up comments.",
            ));
        }
        let website = validate::website(input.website.as_deref())?;
        let (body_source, tree) = validate::body(&input.body)?;
        let edit_key = new_edit_key()?;
        let created = now_ms();
        let banned = self.banned(&site.id, email.as_deref(), &author, from.client)?;
        let known = settings.moderation == Moderation::FirstTime
            && match &email {
                Some(email) => self.store.approved_comments_by(&site.id, email, &author)? > 0,
                None => false,
            };
        let candidate = Candidate {
            site: &site.id,
            page_key: &page_key,
            path: from.path,
            proof: input.proof.as_deref(),
            trap: input.trap.as_deref(),
            author: &author,
            email: email.as_deref(),
            website: website.as_deref(),
            body_source: &body_source,
            tree: &tree,
            client: from.client,
            now_ms: created,
        };
        let judged = self.antispam.judge(&candidate, &site.spam, &*self.store)?;
        let verdict = judged
            .and(held(hold_reasons(&settings, &tree, known)))
            .and(if banned {
                Verdict::spam("banned")
            } else {
                Verdict::Accept
            });
        let held_for = verdict.reasons();
        let new = NewComment {
            site: site.id.clone(),
            page_key,
            page_title,
            page_url,
            parent: input.parent.map(|p| p.0),
            max_depth: MAX_REPLY_DEPTH,
            author,
            email,
            website,
            body_source,
            body_tree: serde_json::to_string(&tree)?,
            created,
            status: match &verdict {
                Verdict::Accept => Status::Approved,
                Verdict::Hold { spam: false, .. } => Status::Pending,
                Verdict::Hold { spam: true, .. } | Verdict::Reject { .. } => Status::Spam,
            },
            edit_key_hash: Some(hash_key(&edit_key)),
            edited: None,
            source: None,
            ip: from.client.map(|ip| ip.to_string()),
            held_for,
            pinned: false,
            moderator_edit: false,
        };
        let mut batch = self.batch();
        let record = batch.insert(new)?;
        // Stored before the comment is acknowledged and its change published, so the mail
        // consumer finds it when it reads the change.
        if let Some(wish) = input.notify {
            self.subscribe_author(&record, wish, from.lang);
        }
        batch.commit()?;
        self.antispam
            .remember_body(&site.id, &record.body_source, created, &site.spam);
        self.antispam
            .record(&site.id, &verdict, from.client, created);
        if let Verdict::Reject { code, .. } = verdict {
            return Err(Error::reader(code));
        }
        Ok(CreateCommentResponse {
            comment: convert::comment(&record, &self.avatar_key),
            edit_key,
            editable_until: created.saturating_add(settings.edit_window_ms()),
        })
    }

    /// A form token and proof-of-work puzzle for a reader about to write on a page; harder
    /// when the site is busy or the client's recent comments were spam.
    pub fn challenge(
        &self,
        query: &ChallengeQuery,
        client: Option<std::net::IpAddr>,
    ) -> Result<ChallengeResponse> {
        let site = self.site(&query.site)?;
        let page_key = validate::page_key(&query.page, site)?;
        let now = now_ms();
        let max = self.antispam.difficulty(&site.id, &site.spam, client, now);
        let lifetime = site.spam.form_token_ms();
        self.antispam
            .challenges
            .issue(&site.id, &page_key, max, lifetime, now)
    }

    /// Replaces the body of a reader's own comment (on a moderated site it goes back to the
    /// queue: a new text is a new thing to approve).
    pub fn edit(&self, id: u64, key: &str, input: &EditComment) -> Result<EditCommentResponse> {
        let before = self.authorised(id, key)?;
        let (source, tree) = validate::body(&input.body)?;
        let page = self.page_of(&before)?;
        let verdict = match self.config.site(&page.site) {
            // Its author is known; a new text is judged like a new comment's, but without the
            // form's layers (the edit comes with the comment's key, not a form).
            Some(site) => {
                let moderation = hold_reasons(&self.settings(site)?, &tree, true);
                let candidate = Candidate {
                    site: &site.id,
                    page_key: &page.key,
                    path: Path::Widget,
                    proof: None,
                    trap: None,
                    author: &before.author,
                    email: before.email.as_deref(),
                    website: before.website.as_deref(),
                    body_source: &source,
                    tree: &tree,
                    client: before.ip.as_deref().and_then(|ip| ip.parse().ok()),
                    now_ms: now_ms(),
                };
                let judged = self
                    .antispam
                    .judge_edit(&candidate, &site.spam, &*self.store)?;
                judged.and(held(moderation))
            }
            None => Verdict::Accept,
        };
        // Only an approved comment goes back to the queue (or to spam).
        let status = match &verdict {
            _ if before.status != Status::Approved => None,
            Verdict::Accept => None,
            Verdict::Hold { spam: false, .. } => Some(Status::Pending),
            Verdict::Hold { spam: true, .. } | Verdict::Reject { .. } => Some(Status::Spam),
        };
        let mut reasons = vec!["edited".to_owned()];
        reasons.extend(verdict.reasons());
        let edit = Edit {
            body_source: source,
            body_tree: serde_json::to_string(&tree)?,
            edited_at: now_ms(),
            held_for: status.is_some().then_some(reasons),
            status,
            by_moderator: false,
        };
        let mut batch = self.batch();
        let (record, seq) = self.store.edit_comment(id, edit)?;
        batch.wrote(seq, &page.site, &page.key);
        batch.commit()?;
        Ok(EditCommentResponse {
            comment: convert::comment(&record, &self.avatar_key),
        })
    }

    /// Deletes a reader's own comment (a tombstone stays when it has replies).
    pub fn delete(&self, id: u64, key: &str) -> Result<DeleteCommentResponse> {
        let record = self.authorised(id, key)?;
        let page = self.page_of(&record)?;
        let mut batch = self.batch();
        let (outcome, seq) = self.store.delete_comment(id)?;
        batch.wrote(seq, &page.site, &page.key);
        batch.commit()?;
        Ok(DeleteCommentResponse {
            tombstone: outcome == Deleted::Tombstone,
        })
    }

    /// The browser's own held comments that still wait for a decision: each must carry its
    /// edit key and be on the page asked about (so ids cannot be probed). No edit window
    /// applies: the author sees theirs until a moderator decides.
    pub fn held(&self, query: &HeldQuery) -> Result<HeldResponse> {
        let site = self.site(&query.site)?;
        let page_key = validate::page_key(&query.page, site)?;
        if query.comments.len() > HELD_QUERY_LIMIT {
            return Err(Error::client(
                ErrorCode::InvalidJson,
                format!("Ask about at most {HELD_QUERY_LIMIT} comments at once."),
            ));
        }
        let Some(page) = self.store.page(&site.id, &page_key)? else {
            return Ok(HeldResponse { comments: vec![] });
        };
        let mut comments = Vec::new();
        for (id, key) in &query.comments {
            let Some(record) = self.store.comment(id.0)? else {
                continue;
            };
            let theirs = !key.is_empty() && key_matches(&record, &hash_key(key));
            if theirs && record.page_id == page.id && record.status == Status::Pending {
                comments.push(convert::comment(&record, &self.avatar_key));
            }
        }
        Ok(HeldResponse { comments })
    }

    /// The page a comment belongs to (looked up before a write, which may remove it).
    pub(super) fn page_of(&self, record: &CommentRecord) -> Result<talkback_store::PageRecord> {
        self.store.page_by_id(record.page_id)?.ok_or_else(|| {
            Error::Internal(format!("page {} of a comment is missing", record.page_id))
        })
    }

    /// Loads the comment and checks the edit key and window. A comment that does not exist (or
    /// is deleted) is refused exactly like a wrong key, so ids cannot be probed.
    fn authorised(&self, id: u64, key: &str) -> Result<CommentRecord> {
        let presented = hash_key(key);
        let record = self
            .store
            .comment(id)?
            .filter(|r| r.status != Status::Deleted);
        let record = match record {
            Some(r) if !key.is_empty() && key_matches(&r, &presented) => r,
            _ => return Err(Error::reader(ErrorCode::EditKeyInvalid)),
        };
        let window = match self
            .store
            .page_by_id(record.page_id)?
            .and_then(|p| self.config.site(&p.site))
        {
            Some(site) => self.settings(site)?.edit_window_ms(),
            None => self.edit_window_ms(),
        };
        if now_ms() > record.created.saturating_add(window) {
            return Err(Error::reader(ErrorCode::EditWindowExpired));
        }
        Ok(record)
    }
}

/// The error for a site this server does not keep.
pub fn unknown_site(id: &str) -> Error {
    Error::client(
        ErrorCode::UnknownSite,
        format!("There is no site called {id:?} on this server."),
    )
}
