//! "Notify me of follow-up comments": readers' mail subscriptions. A reader's wish is stored
//! with the comment that carries it, before the comment is acknowledged; what is mailed is
//! read from the change log (`mail_for_readers_after`, for the `notify` consumer): a request
//! to confirm for an address that never confirmed on the site (nothing else is ever sent to
//! it), and each approved comment to the confirmed subscribers who want it (the whole
//! thread, or replies to their own comments), never to its own author and never twice.
//! Links in mails carry signed tokens (HMAC-SHA256 with a secret of the store, one purpose
//! each), so they need no sign-in and cannot be guessed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use talkback_api::{Comment, ErrorCode, FollowUps};
use talkback_store::{Change, ChangeKind, CommentRecord, Scope, Status, SubscriptionRecord};

use super::{Error, Service, convert, now_ms};

/// Subscribers read per store call when a comment is mailed out.
const SUBSCRIBERS_PER_READ: usize = 200;
/// How long a confirmation request waits before the same subscription may be asked again.
const ASK_AGAIN_MS: i64 = 24 * 60 * 60 * 1000;

/// What a link in a mail may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    Unsubscribe,
}

impl Purpose {
    fn tag(self) -> &'static [u8] {
        match self {
            Purpose::Confirm => b"confirm",
            Purpose::Unsubscribe => b"unsubscribe",
        }
    }
}

/// Signs and opens the tokens in mails' links.
pub(super) struct Tokens {
    mac: Hmac<Sha256>,
}

impl Tokens {
    pub(super) fn new(secret: &[u8]) -> Result<Self, talkback_store::Error> {
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|e| talkback_store::Error::Internal(format!("subscription secret: {e}")))?;
        Ok(Self { mac })
    }

    fn mac(&self, purpose: Purpose, id: u64) -> Hmac<Sha256> {
        let mut m = self.mac.clone();
        m.update(purpose.tag());
        m.update(&id.to_be_bytes());
        m
    }

    /// `{id}-{first 128 bits of the MAC}`.
    pub(super) fn sign(&self, purpose: Purpose, id: u64) -> String {
        let tag = self.mac(purpose, id).finalize().into_bytes();
        format!("{id}-{}", B64.encode(&tag[..16]))
    }

    /// The subscription id a token is for, if it is genuine and for `purpose`.
    pub(super) fn open(&self, purpose: Purpose, token: &str) -> Option<u64> {
        let (id, tag) = token.split_once('-')?;
        let id: u64 = id.parse().ok()?;
        let tag = B64.decode(tag).ok()?;
        if tag.len() != 16 {
            return None;
        }
        self.mac(purpose, id).verify_truncated_left(&tag).ok()?;
        Some(id)
    }
}

/// A mail for a reader, read from the change log.
#[derive(Debug, Clone)]
pub struct ReaderMail {
    /// The change it comes from.
    pub seq: u64,
    pub kind: ReaderMailKind,
    pub subscription: SubscriptionRecord,
    pub page_title: Option<String>,
    pub page_url: Option<String>,
    /// The comment it is about (for a confirmation, the reader's own).
    pub comment: Comment,
    /// What its author wrote (Markdown), the mail's plain text.
    pub body_source: String,
    pub confirm_token: String,
    pub unsubscribe_token: String,
    /// Who sent the comment (an address, IPv6 by its /64), for the quota of requests to
    /// confirm one client may cause.
    pub client: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderMailKind {
    /// Asks the address to confirm; nothing else goes to it before it does.
    Confirm,
    /// Tells an address that confirmed before that it now follows another page, with the way
    /// to undo it (a stranger may have typed it into the form).
    Subscribed,
    /// A new comment on the page; `reply`: it answers one of the subscriber's own.
    FollowUp { reply: bool },
}

/// What a confirm or unsubscribe link is about, for its page.
#[derive(Debug, Clone)]
pub struct SubscriptionView {
    pub email: String,
    pub page_key: String,
    pub page_title: Option<String>,
    pub page_url: Option<String>,
    pub lang: String,
}

fn not_found() -> Error {
    Error::reader(ErrorCode::SubscriptionNotFound)
}

impl Service {
    /// Whether readers can ask for mail: the server has a relay to send it.
    pub fn mail_is_on(&self) -> bool {
        !self.config.mail.smtp_url.is_empty()
    }

    /// Records the wish of the reader who wrote `record` (kept only for comments that may be
    /// shown; a spam comment subscribes nobody). Failing here must not fail the comment.
    pub(super) fn subscribe_author(&self, record: &CommentRecord, wish: FollowUps, lang: &str) {
        let Some(email) = record.email.as_deref() else {
            return;
        };
        if !self.mail_is_on() || !matches!(record.status, Status::Approved | Status::Pending) {
            return;
        }
        let page = match self.page_of(record) {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(error = %e, comment = record.id, "subscription not recorded");
                return;
            }
        };
        let stored = self.store.subscribe(SubscriptionRecord {
            id: 0,
            site: page.site,
            page_key: page.key,
            email: email.to_lowercase(),
            scope: match wish {
                FollowUps::Replies => Scope::Replies,
                FollowUps::Thread => Scope::Thread,
            },
            lang: lang.to_owned(),
            created: record.created,
            origin: record.id,
            confirmed: false,
            asked: None,
        });
        if let Err(e) = stored {
            tracing::error!(error = %e, comment = record.id, "subscription not recorded");
        }
    }

    /// The mails for readers among the changes after `after` (at most `limit` changes read),
    /// and the change read up to. Moves subscriptions with moved threads as it reads.
    pub fn mail_for_readers_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<ReaderMail>, u64), Error> {
        let changes = match self.store.changes_after(after, limit) {
            Ok(changes) => changes,
            Err(talkback_store::Error::Pruned { through }) => {
                tracing::warn!(
                    from = after,
                    to = through,
                    "reader mail skipped pruned changes"
                );
                return Ok((Vec::new(), through));
            }
            Err(e) => return Err(e.into()),
        };
        // Only what was published: a comment's change is in the log before the subscription
        // its form asked for is stored and before it is flushed; read earlier (a turn running
        // for another reason), its request to confirm would be missed for good.
        let published = *self.published.borrow();
        let changes: Vec<_> = changes
            .into_iter()
            .take_while(|c| c.seq <= published)
            .collect();
        let upto = changes.last().map_or(after, |c| c.seq);
        let mut mails = Vec::new();
        for change in &changes {
            if let Err(e) = self.reader_mail_for(change, &mut mails) {
                super::skip_or_stop(e, "reader-mail", change.seq)?;
            }
        }
        Ok((mails, upto))
    }

    /// What one change asks of reader mail, added to `mails`.
    fn reader_mail_for(&self, change: &Change, mails: &mut Vec<ReaderMail>) -> Result<(), Error> {
        let approved = match &change.kind {
            ChangeKind::Created {
                imported: false,
                status,
                ..
            } => *status == Status::Approved,
            ChangeKind::StatusChanged { status, .. } => *status == Status::Approved,
            ChangeKind::PageMoved { to, .. } => {
                self.store
                    .move_subscriptions(&change.site, &change.page_key, to)?;
                return Ok(());
            }
            ChangeKind::PageDeleted { .. } => {
                self.forget_deleted_thread(&change.site, &change.page_key)?;
                return Ok(());
            }
            _ => return Ok(()),
        };
        let Some(id) = change.comment else {
            return Ok(());
        };
        let Some(record) = self.store.comment(id)? else {
            return Ok(());
        };
        let created = matches!(change.kind, ChangeKind::Created { .. });
        if created && let Some(mail) = self.confirmation(change.seq, &record)? {
            mails.push(mail);
        }
        // Only what readers can see now is sent (a comment approved, then deleted or
        // hidden again before the mail went, is not).
        if approved && record.status == Status::Approved {
            self.follow_ups(change.seq, &record, mails)?;
        }
        Ok(())
    }

    /// Drops the subscriptions to a thread the owner deleted: those whose comment went with
    /// it. A reader who subscribed since, on the thread begun anew at the same address, keeps
    /// theirs (its comment exists).
    fn forget_deleted_thread(&self, site: &str, page_key: &str) -> Result<(), Error> {
        let mut after: Option<String> = None;
        loop {
            let subs = self
                .store
                .page_subscriptions(site, page_key, after.as_deref(), 256)?;
            let Some(last) = subs.last() else {
                return Ok(());
            };
            after = Some(last.email.clone());
            for sub in &subs {
                if self.store.comment(sub.origin)?.is_none() {
                    self.store.unsubscribe(sub.id)?;
                }
            }
        }
    }

    /// The confirmation request for the subscription `record`'s form asked for, if its
    /// address has not confirmed and was not asked lately.
    fn confirmation(&self, seq: u64, record: &CommentRecord) -> Result<Option<ReaderMail>, Error> {
        let Some(email) = record.email.as_deref() else {
            return Ok(None);
        };
        if !matches!(record.status, Status::Approved | Status::Pending) {
            return Ok(None);
        }
        let page = self.page_of(record)?;
        let email = email.to_lowercase();
        let Some(sub) = self.store.subscription_of(&page.site, &page.key, &email)? else {
            return Ok(None);
        };
        if sub.origin != record.id {
            return Ok(None);
        }
        // Confirmed before, elsewhere on the site: no confirmation needed, but the address
        // hears of it once, with the way out.
        if sub.confirmed {
            return Ok(sub
                .asked
                .is_none()
                .then(|| self.reader_mail(seq, ReaderMailKind::Subscribed, sub, &page, record)));
        }
        let asked_lately = sub
            .asked
            .is_some_and(|at| now_ms().saturating_sub(at) < ASK_AGAIN_MS);
        if asked_lately {
            return Ok(None);
        }
        Ok(Some(self.reader_mail(
            seq,
            ReaderMailKind::Confirm,
            sub,
            &page,
            record,
        )))
    }

    /// The follow-up mails of an approved comment.
    fn follow_ups(
        &self,
        seq: u64,
        record: &CommentRecord,
        mails: &mut Vec<ReaderMail>,
    ) -> Result<(), Error> {
        let page = self.page_of(record)?;
        let author = record.email.as_deref().map(str::to_lowercase);
        let parent_email = match record.parent {
            Some(parent) => self
                .store
                .comment(parent)?
                .and_then(|p| p.email)
                .map(|e| e.to_lowercase()),
            None => None,
        };
        let mut after: Option<String> = None;
        loop {
            let subs = self.store.page_subscriptions(
                &page.site,
                &page.key,
                after.as_deref(),
                SUBSCRIBERS_PER_READ,
            )?;
            let Some(last) = subs.last() else { break };
            after = Some(last.email.clone());
            let full = subs.len() == SUBSCRIBERS_PER_READ;
            for sub in subs {
                let reply = parent_email.as_deref() == Some(sub.email.as_str());
                let wanted = sub.confirmed
                    && author.as_deref() != Some(sub.email.as_str())
                    && (reply || sub.scope == Scope::Thread)
                    && !self.store.was_mailed(sub.id, record.id)?;
                if wanted {
                    mails.push(self.reader_mail(
                        seq,
                        ReaderMailKind::FollowUp { reply },
                        sub,
                        &page,
                        record,
                    ));
                }
            }
            if !full {
                break;
            }
        }
        Ok(())
    }

    fn reader_mail(
        &self,
        seq: u64,
        kind: ReaderMailKind,
        subscription: SubscriptionRecord,
        page: &talkback_store::PageRecord,
        record: &CommentRecord,
    ) -> ReaderMail {
        ReaderMail {
            seq,
            kind,
            confirm_token: self.tokens.sign(Purpose::Confirm, subscription.id),
            unsubscribe_token: self.tokens.sign(Purpose::Unsubscribe, subscription.id),
            subscription,
            page_title: page.title.clone(),
            page_url: page.url.clone().filter(|u| talkback_api::is_web_address(u)),
            comment: convert::comment(record, &self.avatar_key),
            body_source: record.body_source.clone(),
            client: record
                .ip
                .as_deref()
                .and_then(|ip| ip.parse().ok())
                .map(|ip| crate::http::limit::bucket(ip).to_string()),
        }
    }

    /// Counts one use of the budget `key` in the window of `length_ms` starting at
    /// `window_ms`, kept in the store (every server, every restart); the uses so far.
    pub fn count_in_window(&self, key: &str, window_ms: i64, length_ms: i64) -> Result<u32, Error> {
        Ok(self.store.count_use(key, window_ms, length_ms)?)
    }

    /// Records that `mail` went (or was given up), so it is not sent again.
    pub fn mail_done(&self, mail: &ReaderMail) -> Result<(), Error> {
        match mail.kind {
            ReaderMailKind::Confirm | ReaderMailKind::Subscribed => {
                self.store.set_asked(mail.subscription.id, now_ms())?;
            }
            ReaderMailKind::FollowUp { .. } => self
                .store
                .set_mailed(mail.subscription.id, mail.comment.id.0)?,
        }
        Ok(())
    }

    /// The subscription a link's token is for, on `site`.
    fn by_token(
        &self,
        site: &str,
        purpose: Purpose,
        token: &str,
    ) -> Result<SubscriptionRecord, Error> {
        let id = self.tokens.open(purpose, token).ok_or_else(not_found)?;
        self.store
            .subscription(id)?
            .filter(|s| s.site == site)
            .ok_or_else(not_found)
    }

    fn view(&self, sub: &SubscriptionRecord) -> Result<SubscriptionView, Error> {
        let page = self.store.page(&sub.site, &sub.page_key)?;
        Ok(SubscriptionView {
            email: sub.email.clone(),
            page_key: sub.page_key.clone(),
            page_title: page.as_ref().and_then(|p| p.title.clone()),
            page_url: page
                .and_then(|p| p.url)
                .filter(|u| talkback_api::is_web_address(u)),
            lang: sub.lang.clone(),
        })
    }

    /// What a confirm or unsubscribe link is about (for the page with the button).
    pub fn subscription_view(
        &self,
        site: &str,
        purpose: Purpose,
        token: &str,
    ) -> Result<SubscriptionView, Error> {
        self.view(&self.by_token(site, purpose, token)?)
    }

    /// Confirms the link's address on the site (and with it each of its subscriptions there).
    pub fn confirm_subscription(&self, site: &str, token: &str) -> Result<SubscriptionView, Error> {
        let sub = self.by_token(site, Purpose::Confirm, token)?;
        self.store.confirm_address(site, &sub.email, now_ms())?;
        self.view(&sub)
    }

    /// Ends the link's subscription, or with `everything`, every subscription of its address
    /// on the site and its confirmation.
    pub fn unsubscribe(
        &self,
        site: &str,
        token: &str,
        everything: bool,
    ) -> Result<SubscriptionView, Error> {
        let sub = self.by_token(site, Purpose::Unsubscribe, token)?;
        if everything {
            self.store.forget_address(site, &sub.email)?;
        } else {
            self.store.unsubscribe(sub.id)?;
        }
        self.view(&sub)
    }
}
