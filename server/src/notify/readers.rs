//! Mail to readers who ticked "Notify me of follow-up comments": a consumer of the change log
//! (cursor `reader-mail`) that sends what `Service::mail_for_readers_after` finds (requests
//! to confirm, notices of a new subscription, follow-up comments), records each one done (so a
//! replay after a crash sends it at most once more, with the same Message-ID) and only then
//! moves its cursor.
//!
//! Quotas, counted in the store (so every server and every restart sees the same): each
//! address gets at most `FOLLOW_UPS_PER_HOUR` follow-ups and `CONFIRMS_PER_DAY` requests to
//! confirm (or notices); a client's comments cause at most `CONFIRMS_PER_CLIENT_PER_DAY` of
//! those, a site at most `CONFIRMS_PER_SITE_PER_HOUR`. A mail over a quota waits for its next
//! window instead of being dropped: the stored cursor stays before it, the log is read on past
//! it, and mail to other addresses goes on. Nobody can use a busy thread, or strangers'
//! addresses in the form, to flood inboxes.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use super::{Deliveries, MailLog, compose, deliver, smtp};
use crate::service::{ReaderMail, ReaderMailKind, Service, now_ms};

const CONSUMER: &str = "reader-mail";
const FOLLOW_UPS_PER_HOUR: u32 = 20;
const CONFIRMS_PER_DAY: u32 = 3;
const CONFIRMS_PER_CLIENT_PER_DAY: u32 = 10;
const CONFIRMS_PER_SITE_PER_HOUR: u32 = 60;
const HOUR_MS: i64 = 60 * 60 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// One budget a mail spends: its key in the store, its window's length and its cap.
#[derive(Debug, PartialEq, Eq)]
struct Quota {
    key: String,
    window_ms: i64,
    cap: u32,
}

/// Whether a mail asks (or tells) an address about a subscription, rather than carrying a
/// follow-up: those are the ones a stranger's form can cause.
fn asks(mail: &ReaderMail) -> bool {
    matches!(
        mail.kind,
        ReaderMailKind::Confirm | ReaderMailKind::Subscribed
    )
}

/// The budgets a mail to `to` on `site` spends: a follow-up, or (`asks`) a request to confirm
/// or a notice, which a client's comment caused.
fn quotas(asks: bool, to: &str, site: &str, client: Option<&str>) -> Vec<Quota> {
    if !asks {
        return vec![Quota {
            key: format!("mail:follow:{to}"),
            window_ms: HOUR_MS,
            cap: FOLLOW_UPS_PER_HOUR,
        }];
    }
    let mut quotas = vec![
        Quota {
            key: format!("mail:ask:{to}"),
            window_ms: DAY_MS,
            cap: CONFIRMS_PER_DAY,
        },
        Quota {
            key: format!("mail:ask-site:{site}"),
            window_ms: HOUR_MS,
            cap: CONFIRMS_PER_SITE_PER_HOUR,
        },
    ];
    if let Some(client) = client {
        quotas.push(Quota {
            key: format!("mail:ask-client:{client}"),
            window_ms: DAY_MS,
            cap: CONFIRMS_PER_CLIENT_PER_DAY,
        });
    }
    quotas
}

/// Spends `mail`'s budgets now: `None` when it may go, else when to try again (the end of the
/// window that is full).
fn admit(
    service: &Service,
    mail: &ReaderMail,
    now: i64,
) -> Result<Option<i64>, crate::error::Error> {
    let sub = &mail.subscription;
    for quota in quotas(asks(mail), &sub.email, &sub.site, mail.client.as_deref()) {
        let window = now - now.rem_euclid(quota.window_ms);
        if service.count_in_window(&quota.key, window, quota.window_ms)? > quota.cap {
            return Ok(Some(window + quota.window_ms));
        }
    }
    Ok(None)
}

/// The consumer's memory between turns: mails waiting for their window, how far the log was
/// read past the stored cursor, and the cursor it stored last.
#[derive(Default)]
struct Waiting {
    mails: Vec<(ReaderMail, i64)>,
    read_to: u64,
    stored: Option<u64>,
}

impl Waiting {
    /// Starts over from the stored cursor when it is not the one this server left (another
    /// server worked the consumer meanwhile): what waited here is read again from there.
    fn resync(&mut self, stored: u64) {
        if self.stored != Some(stored) {
            self.mails.clear();
            self.read_to = stored;
            self.stored = Some(stored);
        }
    }

    /// Whether a mail to `to` waits already (later ones wait behind it, keeping their order).
    fn holds(&self, to: &str) -> bool {
        self.mails.iter().any(|(m, _)| m.subscription.email == to)
    }

    /// Where the stored cursor may go: before the first waiting mail's change, or as far as
    /// the log was read.
    fn cursor(&self) -> u64 {
        self.mails
            .iter()
            .map(|(m, _)| m.seq.saturating_sub(1))
            .min()
            .map_or(self.read_to, |w| w.min(self.read_to))
    }

    fn next_due(&self, now: i64) -> Option<Duration> {
        self.mails
            .iter()
            .map(|(_, due)| due - now)
            .min()
            .map(|ms| Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0) + 1))
    }
}

pub(super) fn spawn(
    service: &Arc<Service>,
    relay: &Arc<smtp::Relay>,
    public_url: &str,
    metrics: &Deliveries,
) {
    // Placed now, before any reader can post (see `owner-mail`).
    if let Err(e) = crate::off_runtime(|| service.consumer_cursor(CONSUMER)) {
        tracing::error!(error = %e, "mail to readers is off: its cursor cannot be read");
        return;
    }
    let (service, relay, metrics) = (Arc::clone(service), Arc::clone(relay), metrics.clone());
    let public_url = public_url.to_owned();
    actix_web::rt::spawn(async move {
        // Mail over a quota waits: a turn also comes when its window does.
        service
            .turns(CONSUMER)
            .run(Waiting::default(), "mail to readers", async |waiting| {
                catch_up(&service, &relay, &public_url, &metrics, waiting).await
            })
            .await;
    });
}

fn failed(e: impl std::fmt::Display) -> String {
    e.to_string()
}

async fn catch_up(
    service: &Arc<Service>,
    relay: &Arc<smtp::Relay>,
    public_url: &str,
    metrics: &Deliveries,
    waiting: &mut Waiting,
) -> Result<Option<Duration>, String> {
    let s = Arc::clone(service);
    let cursor = web::block(move || s.consumer_cursor(CONSUMER))
        .await
        .map_err(failed)?
        .map_err(failed)?;
    waiting.resync(cursor);
    // Mails whose window came round, oldest first.
    let now = now_ms();
    let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut waiting.mails)
        .into_iter()
        .partition(|(_, at)| *at <= now);
    waiting.mails = later;
    for (mail, _) in due {
        offer(service, relay, public_url, metrics, waiting, mail).await?;
    }
    loop {
        let s = Arc::clone(service);
        let from = cursor.max(waiting.read_to);
        let (mails, upto) = web::block(move || s.mail_for_readers_after(from, 50))
            .await
            .map_err(failed)?
            .map_err(failed)?;
        for mail in mails {
            offer(service, relay, public_url, metrics, waiting, mail).await?;
        }
        waiting.read_to = upto;
        let to = waiting.cursor();
        if waiting.stored != Some(to) {
            let s = Arc::clone(service);
            web::block(move || s.set_consumer_cursor(CONSUMER, to))
                .await
                .map_err(failed)?
                .map_err(failed)?;
            waiting.stored = Some(to);
        }
        if upto == from {
            return Ok(waiting.next_due(now_ms()));
        }
    }
}

/// Sends `mail` if its budgets allow (and nothing to its address waits before it), else keeps
/// it waiting for its window.
async fn offer(
    service: &Arc<Service>,
    relay: &Arc<smtp::Relay>,
    public_url: &str,
    metrics: &Deliveries,
    waiting: &mut Waiting,
    mail: ReaderMail,
) -> Result<(), String> {
    let log = MailLog {
        site: &mail.subscription.site,
        to: &mail.subscription.email,
        kind: match mail.kind {
            ReaderMailKind::Confirm => "mail.confirm",
            ReaderMailKind::Subscribed => "mail.subscribed",
            ReaderMailKind::FollowUp { .. } => "mail.follow_up",
        },
    };
    let now = now_ms();
    let retry = if waiting.holds(&mail.subscription.email) {
        // Behind an earlier mail to the same address: try again with it.
        waiting
            .mails
            .iter()
            .filter(|(m, _)| m.subscription.email == mail.subscription.email)
            .map(|(_, at)| *at)
            .max()
    } else {
        let (s, m) = (Arc::clone(service), mail.clone());
        web::block(move || admit(&s, &m, now))
            .await
            .map_err(failed)?
            .map_err(failed)?
    };
    if let Some(at) = retry {
        tracing::info!(site = %log.site, kind = log.kind, "mail to a reader waits for its quota");
        waiting.mails.push((mail, at));
        return Ok(());
    }
    match compose::compose_for_reader(&mail, public_url, relay.from(), relay.reply_to()) {
        Ok(message) => {
            deliver(relay, message, &log, metrics).await;
        }
        Err(e) => super::unwritable(&log, metrics, e),
    }
    // Done either way: sent or given up.
    let s = Arc::clone(service);
    web::block(move || s.mail_done(&mail))
        .await
        .map_err(failed)?
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_to_confirm_spend_the_addresss_the_clients_and_the_sites_budgets() {
        let keys = |asks, client: Option<&str>| -> Vec<(String, i64, u32)> {
            quotas(asks, "ann@example.org", "blog", client)
                .into_iter()
                .map(|q| (q.key, q.window_ms, q.cap))
                .collect()
        };
        assert_eq!(
            keys(false, Some("192.0.2.1")),
            [(
                "mail:follow:ann@example.org".to_owned(),
                HOUR_MS,
                FOLLOW_UPS_PER_HOUR
            )]
        );
        assert_eq!(
            keys(true, Some("192.0.2.1")),
            [
                (
                    "mail:ask:ann@example.org".to_owned(),
                    DAY_MS,
                    CONFIRMS_PER_DAY
                ),
                (
                    "mail:ask-site:blog".to_owned(),
                    HOUR_MS,
                    CONFIRMS_PER_SITE_PER_HOUR
                ),
                (
                    "mail:ask-client:192.0.2.1".to_owned(),
                    DAY_MS,
                    CONFIRMS_PER_CLIENT_PER_DAY
                ),
            ]
        );
        assert_eq!(keys(true, None).len(), 2);
    }
}
