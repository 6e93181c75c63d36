//! What leaves the server because of a write, read from the change log so that it never
//! delays or fails a reader's POST: mail to the blogger about new comments over SMTP, and each
//! site's webhooks (`webhooks`). Each consumer keeps its cursor in the store, so it resumes
//! after a restart where it stopped (a comment acknowledged just before a crash is still
//! mailed), and delivers at least once under a stable id (a mail's Message-ID is made of the
//! change and the comment; a webhook's `Talkback-Delivery` is the event's id). A relay or
//! receiver that is down is retried with back-off for `GIVE_UP`; then the delivery is given
//! up, and the log and `/metrics` say so.

mod compose;
mod digest;
mod readers;
mod smtp;
mod throttle;
mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::config::{Config, MailConfig};
use crate::service::Service;

pub use compose::compose;
pub use webhooks::{check as check_webhook, ping as ping_webhooks, signature};

/// The change-log consumer's name (its cursor in the store).
const CONSUMER: &str = "owner-mail";
/// How long one mail or webhook delivery is retried before it is given up.
const GIVE_UP: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// What the mailer and the webhooks did: counters for `/metrics` (`ops` registers them) and
/// the latest deliveries, for `GET /admin/api/deliveries` and `talkback webhooks log`.
#[derive(Clone, Default)]
pub struct Deliveries {
    recent: Arc<std::sync::Mutex<std::collections::VecDeque<talkback_api::admin::Delivery>>>,
    /// Webhook requests the receiver answered with 2xx.
    pub hooks_delivered: Counter,
    /// Webhook attempts refused or unanswered (each retry counts).
    pub hooks_failed_attempts: Counter,
    /// Webhook deliveries given up after `GIVE_UP`.
    pub hooks_given_up: Counter,
    /// Mails the relay accepted.
    pub sent: Counter,
    /// Attempts the relay refused or could not be reached for (each retry counts).
    pub failed_attempts: Counter,
    /// Mails given up after `GIVE_UP`.
    pub given_up: Counter,
    /// Changes written but not yet looked at by the mailer: its outbox.
    pub depth: Gauge,
}

/// Deliveries kept for the log (every site's together, newest first).
const RECENT: usize = 500;

impl Deliveries {
    /// Records one attempt's outcome.
    pub(crate) fn record(&self, delivery: talkback_api::admin::Delivery) {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.push_front(delivery);
        recent.truncate(RECENT);
    }

    /// The latest deliveries of the sites `may_see` admits, newest first.
    pub fn latest(&self, may_see: impl Fn(&str) -> bool) -> Vec<talkback_api::admin::Delivery> {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|d| may_see(&d.site))
            .cloned()
            .collect()
    }
}

/// Checks `[mail]` when the configuration loads: a relay URL it can use, a sender it can write.
pub fn check(mail: &MailConfig) -> Result<(), String> {
    if mail.smtp_url.is_empty() {
        return Ok(());
    }
    smtp::Relay::parse(&mail.smtp_url)?;
    mail.from
        .parse::<lettre::message::Mailbox>()
        .map_err(|e| format!("from {:?} is not a sender address: {e}", mail.from))?;
    if !mail.reply_to.is_empty() {
        mail.reply_to
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("reply_to {:?} is not an address: {e}", mail.reply_to))?;
    }
    Ok(())
}

/// Starts the mail consumer when mail is configured and some site has an owner to tell, and
/// one consumer per webhook.
pub(crate) fn spawn(service: Arc<Service>, config: &Config, metrics: Deliveries) {
    webhooks::spawn(&service, &config.sites, &metrics);
    if config.mail.smtp_url.is_empty() {
        return;
    }
    let relay = match smtp::Relay::from_config(&config.mail) {
        Ok(relay) => Arc::new(relay),
        Err(e) => {
            tracing::error!(error = %e, "mail is off: the relay cannot be used");
            return;
        }
    };
    let public_url = config.public_url();
    if config.public_url.is_empty() {
        // Links in mail would point at the listening address, which readers cannot reach
        // behind a proxy (or at all, on loopback).
        tracing::warn!(
            links = %public_url,
            "mail is on but public_url is not set: links in mails will point at the bind address; set public_url to the address readers use"
        );
    }
    readers::spawn(&service, &relay, &public_url, &metrics);
    digest::spawn(&service, &relay, &public_url, &config.sites, &metrics);
    if config.sites.iter().all(|s| s.owner_email.is_none()) {
        return;
    }
    // Place a new consumer's cursor now, before any reader can post: from here on, nothing
    // is missed (and nothing from before mail was turned on is sent).
    if let Err(e) = crate::off_runtime(|| service.consumer_cursor(CONSUMER)) {
        tracing::error!(error = %e, "mail is off: its cursor cannot be read");
        return;
    }
    actix_web::rt::spawn(async move {
        // Folded comments wait for their digest: a turn also comes when it is due.
        service
            .turns(CONSUMER)
            .run(
                throttle::Throttle::default(),
                "mail to site owners",
                async |throttle| catch_up(&service, &relay, &public_url, &metrics, throttle).await,
            )
            .await;
    });
}

/// Mails every notice after the cursor (singly, or folded into a digest past a site's hourly
/// share: `throttle`), moving the stored cursor after each batch; how long until a folded
/// digest is due, if one waits.
async fn catch_up(
    service: &Arc<Service>,
    relay: &Arc<smtp::Relay>,
    public_url: &str,
    metrics: &Deliveries,
    throttle: &mut throttle::Throttle,
) -> Result<Option<Duration>, String> {
    loop {
        let s = Arc::clone(service);
        let cursor = web::block(move || s.consumer_cursor(CONSUMER))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        throttle.resync(cursor);
        // Past the stored cursor while folded comments hold it back.
        let from = cursor.max(throttle.read_to);
        let s = Arc::clone(service);
        let (notices, upto, last) = web::block(move || {
            let last = s.last_change()?;
            s.notices_after(from, 100).map(|(n, upto)| (n, upto, last))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        metrics
            .depth
            .set(i64::try_from(last.saturating_sub(cursor)).unwrap_or(i64::MAX));
        throttle.read_to = upto;
        let plan = throttle.plan(notices, crate::service::now_ms());
        for notice in &plan.singles {
            let log = MailLog {
                site: &notice.site,
                to: &notice.owner,
                kind: "mail",
            };
            match compose(notice, public_url, relay.from(), relay.reply_to()) {
                Ok(message) => {
                    deliver(relay, message, &log, metrics).await;
                }
                Err(e) => unwritable(&log, metrics, e),
            }
        }
        for folded in &plan.digests {
            let Some(first) = folded.first() else {
                continue;
            };
            let log = MailLog {
                site: &first.site,
                to: &first.owner,
                kind: "mail.digest",
            };
            match compose::compose_digest(folded, 0, public_url, relay.from(), relay.reply_to()) {
                Ok(message) => {
                    deliver(relay, message, &log, metrics).await;
                }
                Err(e) => unwritable(&log, metrics, e),
            }
        }
        let to = throttle.cursor();
        if to != cursor {
            let s = Arc::clone(service);
            web::block(move || s.set_consumer_cursor(CONSUMER, to))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        }
        throttle.stored(to);
        if upto == from {
            return Ok(throttle.next_due(crate::service::now_ms()));
        }
    }
}

/// Who a mail is for, for the delivery log.
pub(super) struct MailLog<'a> {
    pub site: &'a str,
    pub to: &'a str,
    /// `mail` (to the site's owner), `mail.confirm` or `mail.follow_up` (to a reader).
    pub kind: &'static str,
}

/// Sends one mail, retrying with back-off until it goes or `GIVE_UP` passes; whether it went.
async fn deliver(
    relay: &Arc<smtp::Relay>,
    message: lettre::Message,
    log: &MailLog<'_>,
    metrics: &Deliveries,
) -> bool {
    let started = Instant::now();
    let mut wait = Duration::from_secs(1);
    loop {
        let (r, m) = (Arc::clone(relay), message.clone());
        let sent = web::block(move || r.send(&m)).await;
        match sent {
            Ok(Ok(())) => {
                metrics.sent.inc();
                metrics.record(mail_delivery(log, &message, "delivered", String::new()));
                tracing::info!(site = %log.site, kind = log.kind, "mail sent");
                return true;
            }
            Ok(Err(e)) if !e.permanent && started.elapsed() < GIVE_UP => {
                metrics.failed_attempts.inc();
                metrics.record(mail_delivery(log, &message, "retrying", e.why.clone()));
                tracing::warn!(error = %e.why, retry_in = ?wait, site = %log.site, kind = log.kind, "mail not sent yet");
            }
            Ok(Err(e)) => {
                metrics.given_up.inc();
                metrics.record(mail_delivery(log, &message, "given_up", e.why.clone()));
                tracing::error!(error = %e.why, permanent = e.permanent, site = %log.site, kind = log.kind, "mail given up");
                return false;
            }
            Err(e) => {
                tracing::error!(error = %e, "mail task failed");
                return false;
            }
        }
        actix_web::rt::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_BACKOFF);
    }
}

/// Why a mail or a webhook's request was not delivered, and whether trying again could help
/// (a relay's 5xx, a receiver's 4xx: retrying for a day would only hold up what comes after).
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub permanent: bool,
    pub why: String,
}

/// A mail that cannot be written (an address or a header lettre refuses): given up at once
/// and recorded, so the consumer goes on with the mail behind it instead of stopping on it.
pub(super) fn unwritable(log: &MailLog<'_>, metrics: &Deliveries, e: String) {
    metrics.given_up.inc();
    tracing::error!(error = %e, site = %log.site, kind = log.kind, "mail given up: it cannot be written");
    metrics.record(talkback_api::admin::Delivery {
        at: crate::service::now_ms(),
        site: log.site.to_owned(),
        channel: "mail".into(),
        target: log.to.to_owned(),
        event: String::new(),
        kind: log.kind.into(),
        outcome: "given_up".into(),
        detail: e,
    });
}

/// A mail's entry in the delivery log.
fn mail_delivery(
    log: &MailLog<'_>,
    message: &lettre::Message,
    outcome: &str,
    detail: String,
) -> talkback_api::admin::Delivery {
    let id = message
        .headers()
        .get_raw("Message-ID")
        .unwrap_or_default()
        .to_owned();
    talkback_api::admin::Delivery {
        at: crate::service::now_ms(),
        site: log.site.to_owned(),
        channel: "mail".into(),
        target: log.to.to_owned(),
        event: id,
        kind: log.kind.into(),
        outcome: outcome.into(),
        detail,
    }
}
