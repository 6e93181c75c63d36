//! What the blogger is told about: readers' new comments, read from the change log for the
//! mail consumer (`notify`), with what a mail needs (the text, the author, the page).

use talkback_api::Comment;
use talkback_store::{ChangeKind, Status};

use super::{Error, Service, convert};
use crate::config::Notify;

/// A new comment the site's owner asked to hear about.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The change that created it: with the comment's id, the mail's idempotency key.
    pub seq: u64,
    /// When it was written (Unix ms).
    pub at: i64,
    pub site: String,
    pub owner: String,
    pub page_key: String,
    pub page_title: Option<String>,
    pub page_url: Option<String>,
    pub comment: Comment,
    /// What the reader wrote (Markdown), the mail's plain text.
    pub body_source: String,
    /// The commenter's address (the owner sees it, as in the dashboard).
    pub email: Option<String>,
    /// Waiting for a moderator, and why (reason codes).
    pub held: bool,
    pub held_for: Vec<String>,
}

impl Service {
    /// Where the consumer `name` of the change log stopped; a consumer never heard of starts
    /// at the newest change (so turning mail or a webhook on does not replay the past).
    pub fn consumer_cursor(&self, name: &str) -> Result<u64, Error> {
        match self.store.consumer_cursor(name)? {
            Some(cursor) => Ok(cursor),
            None => {
                let now = self.store.last_change()?;
                self.store.set_consumer_cursor(name, now)?;
                Ok(now)
            }
        }
    }

    /// Records that the consumer `name` handled every change up to `seq`.
    pub fn set_consumer_cursor(&self, name: &str, seq: u64) -> Result<(), Error> {
        Ok(self.store.set_consumer_cursor(name, seq)?)
    }

    /// The notices among the changes after `after` (at most `limit` changes read), and the
    /// change read up to. Imports notify nobody; a comment deleted since is skipped.
    pub fn notices_after(&self, after: u64, limit: usize) -> Result<(Vec<Notice>, u64), Error> {
        self.collect_notices(after, limit, None)
    }

    /// For a site whose owner wants a digest: every new comment (approved or waiting) among
    /// the changes after `after`, and the change read up to.
    pub fn digest_notices_after(
        &self,
        site: &str,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<Notice>, u64), Error> {
        self.collect_notices(after, limit, Some(site))
    }

    /// `digest`: the one site whose digest is being read; `None`: the sites mailed per comment.
    fn collect_notices(
        &self,
        after: u64,
        limit: usize,
        digest: Option<&str>,
    ) -> Result<(Vec<Notice>, u64), Error> {
        let changes = match self.store.changes_after(after, limit) {
            Ok(changes) => changes,
            Err(talkback_store::Error::Pruned { through }) => {
                tracing::warn!(from = after, to = through, "mail skipped pruned changes");
                return Ok((Vec::new(), through));
            }
            Err(e) => return Err(e.into()),
        };
        let upto = changes.last().map_or(after, |c| c.seq);
        let mut notices = Vec::new();
        for change in &changes {
            let ChangeKind::Created {
                status,
                imported: false,
                ..
            } = change.kind
            else {
                continue;
            };
            let (Some(site), Some(id)) = (self.config.site(&change.site), change.comment) else {
                continue;
            };
            let Some(owner) = site.owner_email.clone() else {
                continue;
            };
            let shown = matches!(status, Status::Approved | Status::Pending);
            let wanted = match (digest, site.notify) {
                (Some(digest), Notify::Hourly | Notify::Daily) => site.id == digest && shown,
                (Some(_), _) => false,
                (None, Notify::Each) => shown,
                (None, Notify::Held) => status == Status::Pending,
                (None, Notify::Hourly | Notify::Daily | Notify::None) => false,
            };
            if !wanted {
                continue;
            }
            let read = || -> Result<_, Error> {
                Ok(match self.store.comment(id)? {
                    Some(record) => {
                        Some((record, self.store.page(&change.site, &change.page_key)?))
                    }
                    None => None,
                })
            };
            let (record, page) = match read() {
                Ok(Some(found)) => found,
                Ok(None) => continue,
                Err(e) => {
                    super::skip_or_stop(e, "owner-mail", change.seq)?;
                    continue;
                }
            };
            notices.push(Notice {
                seq: change.seq,
                at: change.at,
                site: change.site.clone(),
                owner,
                page_key: change.page_key.clone(),
                page_title: page.as_ref().and_then(|p| p.title.clone()),
                page_url: page
                    .and_then(|p| p.url)
                    .filter(|u| talkback_api::is_web_address(u)),
                comment: convert::comment(&record, &self.avatar_key),
                body_source: record.body_source.clone(),
                email: record.email.clone(),
                held: status == Status::Pending,
                held_for: record.held_for.clone(),
            });
        }
        Ok((notices, upto))
    }
}

/// What a webhook is told about a change (`comment.created`, `comment.held`, …).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    /// `evt-` and the change's sequence number: the delivery's idempotency key.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the change was written (Unix milliseconds).
    pub created: i64,
    pub site: String,
    pub page: EventPage,
    pub comment: EventComment,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EventPage {
    pub key: String,
    pub title: Option<String>,
    pub url: Option<String>,
}

/// A comment as a webhook sees it: never the e-mail or the client address.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventComment {
    pub id: u64,
    pub parent: Option<u64>,
    pub author: String,
    pub website: Option<String>,
    /// What the reader wrote (Markdown).
    pub text: String,
    pub status: &'static str,
}

impl Service {
    /// The webhook events of `site` among the changes after `after` (at most `limit` read),
    /// and the change read up to. Imports send none.
    pub fn events_after(
        &self,
        site: &str,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<Event>, u64), Error> {
        let changes = match self.store.changes_after(after, limit) {
            Ok(changes) => changes,
            Err(talkback_store::Error::Pruned { through }) => return Ok((Vec::new(), through)),
            Err(e) => return Err(e.into()),
        };
        let upto = changes.last().map_or(after, |c| c.seq);
        let mut events = Vec::new();
        for change in changes.iter().filter(|c| c.site == site) {
            let kind = match change.kind {
                ChangeKind::Created {
                    imported: false,
                    status,
                    ..
                } => match status {
                    Status::Approved => "comment.created",
                    Status::Pending => "comment.held",
                    Status::Spam => "comment.spam",
                    _ => continue,
                },
                ChangeKind::StatusChanged { status, .. } => match status {
                    Status::Approved => "comment.approved",
                    Status::Pending => "comment.held",
                    Status::Spam => "comment.spam",
                    _ => continue,
                },
                ChangeKind::Edited { .. } => "comment.edited",
                ChangeKind::Deleted { .. } => "comment.deleted",
                _ => continue,
            };
            let Some(id) = change.comment else { continue };
            let read = || -> Result<_, Error> {
                Ok((
                    self.store.comment(id)?,
                    self.store.page(&change.site, &change.page_key)?,
                ))
            };
            let (record, page) = match read() {
                Ok(found) => found,
                Err(e) => {
                    super::skip_or_stop(e, "webhooks", change.seq)?;
                    continue;
                }
            };
            let comment = match &record {
                Some(r) => EventComment {
                    id,
                    parent: r.parent,
                    author: r.author.clone(),
                    website: r.website.clone(),
                    text: if r.status == Status::Deleted {
                        String::new()
                    } else {
                        r.body_source.clone()
                    },
                    status: r.status.name(),
                },
                // Gone since (deleted without replies).
                None => EventComment {
                    id,
                    parent: None,
                    author: String::new(),
                    website: None,
                    text: String::new(),
                    status: "deleted",
                },
            };
            events.push(Event {
                id: format!("evt-{}", change.seq),
                kind,
                created: change.at,
                site: change.site.clone(),
                page: EventPage {
                    key: change.page_key.clone(),
                    title: page.as_ref().and_then(|p| p.title.clone()),
                    url: page
                        .and_then(|p| p.url)
                        .filter(|u| talkback_api::is_web_address(u)),
                },
                comment,
            });
        }
        Ok((events, upto))
    }
}
