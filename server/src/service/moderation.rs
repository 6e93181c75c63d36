//! The moderator's side of the write path: listings of comments as moderators see them, and
//! decisions (approve, spam, back to pending, delete) on one or many comments. Every decision
//! is checked against the account's sites, written through the store with its change record,
//! flushed and published like any write, and entered in the audit log.

use talkback_api::admin::{
    AdminRole, AuditEntry, HeldReason, ListQuery, ListResponse, LockPage, ModAction, ModComment,
    ModResult, ModStatus, Moderate, ModerateResponse, ParentExcerpt,
};
use talkback_api::{CommentId, ErrorCode};
use talkback_store::{
    AdminRecord, AuditRecord, CommentQuery, CommentRecord, Edit, Listed, Role, Status,
};

use super::{Service, now_ms};
use crate::content::validate;
use crate::error::{Error, Result};

/// Who is acting: a signed-in account, or the command line through the running server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The account's name (`cli` for the command line).
    pub name: String,
    pub role: Role,
    pub sites: Vec<String>,
}

impl Actor {
    /// The command line on the server's own machine: an owner.
    pub fn command_line() -> Self {
        Self {
            name: "cli".into(),
            role: Role::Owner,
            sites: Vec::new(),
        }
    }

    pub fn of(admin: &AdminRecord) -> Self {
        Self {
            name: admin.name.clone(),
            role: admin.role,
            sites: admin.sites.clone(),
        }
    }

    pub fn may_see(&self, site: &str) -> bool {
        self.role == Role::Owner || self.sites.iter().any(|s| s == site)
    }

    pub fn is_owner(&self) -> bool {
        self.role == Role::Owner
    }
}

pub(crate) fn role(role: Role) -> AdminRole {
    match role {
        Role::Owner => AdminRole::Owner,
        Role::Moderator => AdminRole::Moderator,
    }
}

pub(crate) fn mod_status(status: Status) -> ModStatus {
    match status {
        Status::Approved => ModStatus::Approved,
        Status::Pending => ModStatus::Pending,
        Status::Spam => ModStatus::Spam,
        Status::Deleted => ModStatus::Deleted,
        Status::Pingback => ModStatus::Pingback,
    }
}

/// Most comments one listing returns.
const LIST_LIMIT: u32 = 100;
/// Most comments one decision may name.
pub const MODERATE_LIMIT: usize = 500;
/// Characters of a parent comment shown as its excerpt.
const EXCERPT_CHARS: usize = 160;

/// Words for a held reason's code (from the write path's moderation and anti-spam layers;
/// the filter's carries its score, `filter:97`).
fn held_reason(code: &str) -> HeldReason {
    if let Some(score) = code.strip_prefix("filter:") {
        return HeldReason {
            code: code.to_owned(),
            text: format!("The spam filter finds it {score} % likely to be spam."),
        };
    }
    let text = match code {
        "moderation_all" => "Every comment on this site waits for approval.",
        "contains_links" => "It contains links, and this site holds comments with links.",
        "first_time" => "Its author has no approved comment on this site yet.",
        "edited" => "Its author edited it, and edits on this site wait for approval.",
        "banned" => "Its author's e-mail, name or address is banned.",
        "proof_missing" => {
            "It was sent without the widget's proof of work (a script posting directly)."
        }
        "proof_invalid" => "Its proof of work was forged or wrong.",
        "token_other_page" => "Its form token was issued for another page.",
        "token_reused" => "Its form token was used before (a replayed request).",
        "token_expired" => "Its form had expired (the page was open a long time).",
        "too_fast" => "It was sent seconds after the form loaded, faster than people write.",
        "honeypot" => "It filled in the form's hidden field, which people never see.",
        "too_many_links" => "It has more links than this site allows.",
        "duplicate" => "The same text was posted on this site shortly before (refused).",
        "blocked_word" => "It contains a blocked word.",
        "blocked_email" => "Its e-mail address is blocked.",
        "blocked_address" => "It came from a blocked address.",
        "blocked_domain" => "Its website or a link is on a blocked domain.",
        _ => "Held by a rule of this site.",
    };
    HeldReason {
        code: code.to_owned(),
        text: text.to_owned(),
    }
}

fn bad_query(message: &str) -> Error {
    Error::client(ErrorCode::InvalidQuery, message)
}

/// `YYYY-MM-DD` (UTC) as Unix milliseconds at the start of that day (`next_day`: of the day
/// after, for an inclusive end).
fn day_ms(day: &str, next_day: bool) -> Result<i64> {
    let date: jiff::civil::Date = day
        .parse()
        .map_err(|_| bad_query("Dates must look like 2026-12-31."))?;
    let start: jiff::Timestamp = format!("{date}T00:00:00Z")
        .parse()
        .map_err(|_| bad_query("That date is out of range."))?;
    let day_ms = if next_day { 86_400_000 } else { 0 };
    Ok(start.as_millisecond().saturating_add(day_ms))
}

impl Service {
    /// A listing for `actor`: only the sites it may see; client addresses for owners only.
    pub fn list_comments(&self, actor: &Actor, query: &ListQuery) -> Result<ListResponse> {
        let statuses = match query.status.as_deref().unwrap_or("queue") {
            "queue" | "" => vec![Status::Pending, Status::Spam],
            "pending" => vec![Status::Pending],
            "spam" => vec![Status::Spam],
            "approved" => vec![Status::Approved],
            "all" => Vec::new(),
            _ => {
                return Err(bad_query(
                    "status must be queue, pending, spam, approved or all.",
                ));
            }
        };
        let sites: Vec<String> = match query.site.as_deref().filter(|s| !s.is_empty()) {
            Some(site) => {
                if self.config.site(site).is_none() {
                    return Err(super::unknown_site(site));
                }
                if !actor.may_see(site) {
                    return Err(not_permitted());
                }
                vec![site.to_owned()]
            }
            None if actor.is_owner() => self.config.sites.iter().map(|s| s.id.clone()).collect(),
            None => actor.sites.clone(),
        };
        let text = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if text.is_some_and(|t| t.chars().count() > 200) {
            return Err(bad_query("Search for at most 200 characters."));
        }
        let before = match query.before.as_deref() {
            None | Some("") => None,
            Some(b) => Some(b.parse::<u64>().map_err(|_| {
                Error::client(ErrorCode::InvalidCursor, "That page cursor is not valid.")
            })?),
        };
        let day = |d: &Option<String>, next| {
            d.as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| day_ms(d, next))
                .transpose()
        };
        let list = self.store.list_comments(&CommentQuery {
            sites: Some(sites),
            statuses,
            text: text.map(str::to_owned),
            from: day(&query.from, false)?,
            to: day(&query.to, true)?,
            before,
            limit: query.limit.unwrap_or(50).clamp(1, LIST_LIMIT) as usize,
            ..CommentQuery::default()
        })?;
        let comments = list
            .items
            .iter()
            .map(|listed| self.mod_comment(actor, listed))
            .collect::<Result<_>>()?;
        Ok(ListResponse {
            comments,
            next: list.next_before.map(|b| b.to_string()),
        })
    }

    fn mod_comment(&self, actor: &Actor, listed: &Listed) -> Result<ModComment> {
        let Listed { comment: c, page } = listed;
        let parent = match c.parent {
            Some(id) => self.store.comment(id)?.map(|p| ParentExcerpt {
                id: CommentId(p.id),
                author: p.author.clone(),
                excerpt: excerpt(&p),
            }),
            None => None,
        };
        Ok(ModComment {
            id: CommentId(c.id),
            site: page.site.clone(),
            page: page.key.clone(),
            page_title: page.title.clone(),
            page_url: page.url.clone(),
            parent,
            author: c.author.clone(),
            email: c.email.clone(),
            website: c.website.clone(),
            ip: c.ip.clone().filter(|_| actor.is_owner()),
            text: c.body_source.clone(),
            created: c.created,
            edited: c.edited,
            status: mod_status(c.status),
            held_for: c.held_for.iter().map(|r| held_reason(r)).collect(),
            pinned: c.pinned,
            locked: page.locked,
        })
    }

    /// One decision on many comments, each checked on its own: one the actor may not touch,
    /// or that is gone, is reported and the others still go ahead. All are flushed together.
    pub fn moderate(&self, actor: &Actor, request: &Moderate) -> Result<ModerateResponse> {
        if request.ids.is_empty() || request.ids.len() > MODERATE_LIMIT {
            return Err(Error::client(
                ErrorCode::InvalidJson,
                format!("Name between 1 and {MODERATE_LIMIT} comments."),
            ));
        }
        let mut batch = self.batch();
        let mut results = Vec::with_capacity(request.ids.len());
        let mut audit = Vec::new();
        for &CommentId(id) in &request.ids {
            let failed = |code: &str| ModResult {
                id: CommentId(id),
                status: None,
                error: Some(code.to_owned()),
            };
            let Some(before) = self
                .store
                .comment(id)?
                .filter(|c| c.status != Status::Deleted)
            else {
                results.push(failed("comment_not_found"));
                continue;
            };
            let page = self.page_of(&before)?;
            if !actor.may_see(&page.site) {
                results.push(failed("not_permitted"));
                continue;
            }
            if matches!(request.action, ModAction::Pin) && before.parent.is_some() {
                results.push(failed("not_top_level"));
                continue;
            }
            let outcome = match request.action {
                ModAction::Approve => self.store.set_status(id, Status::Approved),
                ModAction::Spam => self.store.set_status(id, Status::Spam),
                ModAction::Pending => self.store.set_status(id, Status::Pending),
                ModAction::Pin => self.store.set_pinned(id, true),
                ModAction::Unpin => self.store.set_pinned(id, false),
                ModAction::Delete => self.store.delete_comment(id).map(|(_, seq)| {
                    let gone = CommentRecord {
                        status: Status::Deleted,
                        ..before.clone()
                    };
                    (gone, seq)
                }),
            };
            let after = match outcome {
                Ok((record, seq)) => {
                    batch.wrote(seq, &page.site, &page.key);
                    record.status
                }
                Err(talkback_store::Error::NotFound(_)) => {
                    results.push(failed("comment_not_found"));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            results.push(ModResult {
                id: CommentId(id),
                status: Some(mod_status(after)),
                error: None,
            });
            audit.push(AuditRecord {
                seq: 0,
                at: now_ms(),
                actor: actor.name.clone(),
                action: action_name(request.action).to_owned(),
                site: Some(page.site.clone()),
                page_key: Some(page.key.clone()),
                comment: Some(id),
                before: Some(before.status),
                after: Some(after),
            });
        }
        batch.commit()?;
        for entry in audit {
            self.store.append_audit(entry)?;
        }
        Ok(ModerateResponse { results })
    }

    /// A moderator's new text for a comment (readers see "edited by a moderator"); its status
    /// stays as it is.
    pub fn edit_as_moderator(&self, actor: &Actor, id: u64, body: &str) -> Result<ModComment> {
        let Some(before) = self
            .store
            .comment(id)?
            .filter(|c| c.status != Status::Deleted)
        else {
            return Err(Error::reader(ErrorCode::CommentNotFound));
        };
        let page = self.page_of(&before)?;
        if !actor.may_see(&page.site) {
            return Err(not_permitted());
        }
        let (source, tree) = validate::body(body)?;
        let mut batch = self.batch();
        let (record, seq) = self.store.edit_comment(
            id,
            Edit {
                body_source: source,
                body_tree: serde_json::to_string(&tree)?,
                edited_at: now_ms(),
                status: None,
                by_moderator: true,
                held_for: None,
            },
        )?;
        batch.wrote(seq, &page.site, &page.key);
        batch.commit()?;
        self.store.append_audit(AuditRecord {
            seq: 0,
            at: now_ms(),
            actor: actor.name.clone(),
            action: "edit".into(),
            site: Some(page.site.clone()),
            page_key: Some(page.key.clone()),
            comment: Some(id),
            before: Some(before.status),
            after: Some(record.status),
        })?;
        self.mod_comment(
            actor,
            &Listed {
                comment: record,
                page,
            },
        )
    }

    /// Closes a thread to new comments (readers see a notice instead of the form), or opens it.
    pub fn lock_page(&self, actor: &Actor, request: &LockPage) -> Result<()> {
        let site = self.moderated_site(actor, &request.site)?;
        let key = validate::page_key(&request.page, site)?;
        let mut batch = self.batch();
        let (page, seq) = self.store.set_locked(&site.id, &key, request.locked)?;
        batch.wrote(seq, &page.site, &page.key);
        batch.commit()?;
        self.store.append_audit(AuditRecord {
            seq: 0,
            at: now_ms(),
            actor: actor.name.clone(),
            action: if request.locked { "lock" } else { "unlock" }.into(),
            site: Some(page.site),
            page_key: Some(page.key),
            comment: None,
            before: None,
            after: None,
        })?;
        Ok(())
    }

    /// Enters an action that is not a decision on a comment (signing in, account changes).
    pub fn audit_event(&self, actor: &str, action: &str) -> Result<()> {
        self.store.append_audit(AuditRecord {
            seq: 0,
            at: now_ms(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            site: None,
            page_key: None,
            comment: None,
            before: None,
            after: None,
        })?;
        Ok(())
    }

    /// The audit log, newest first: owners see all of it, moderators what concerns their
    /// sites and themselves.
    pub fn audit_log(&self, actor: &Actor, before: Option<u64>) -> Result<Vec<AuditEntry>> {
        let entries = self.store.audit_log(before, 200)?;
        Ok(entries
            .into_iter()
            .filter(|e| {
                actor.is_owner()
                    || e.actor == actor.name
                    || e.site.as_deref().is_some_and(|s| actor.may_see(s))
            })
            .map(|e| AuditEntry {
                seq: e.seq,
                at: e.at,
                actor: e.actor,
                action: e.action,
                site: e.site,
                page: e.page_key,
                comment: e.comment.map(CommentId),
                before: e.before.map(mod_status),
                after: e.after.map(mod_status),
            })
            .collect())
    }
}

fn action_name(action: ModAction) -> &'static str {
    match action {
        ModAction::Approve => "approve",
        ModAction::Spam => "spam",
        ModAction::Pending => "pending",
        ModAction::Delete => "delete",
        ModAction::Pin => "pin",
        ModAction::Unpin => "unpin",
    }
}

pub(crate) fn not_permitted() -> Error {
    Error::client(
        ErrorCode::NotPermitted,
        "Your account may not moderate that site.",
    )
}

/// The first characters of a comment's text, on one line.
fn excerpt(c: &CommentRecord) -> String {
    let flat: String = c
        .body_source
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match flat.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}
