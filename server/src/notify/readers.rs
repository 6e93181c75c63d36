//! Mail to readers who ticked "Notify me of follow-up comments": a consumer of the change log
//! (cursor `reader-mail`) that sends what `Service::mail_for_readers_after` finds (requests
//! to confirm, follow-up comments), records each one done (so a replay after a crash sends it
//! at most once more, with the same Message-ID) and only then moves its cursor. Each
//! recipient gets at most `FOLLOW_UPS_PER_HOUR` follow-ups and `CONFIRMS_PER_DAY` requests
//! to confirm; beyond that a mail is logged as throttled and skipped, so nobody can use a
//! busy thread, or a stranger's address in the form, to flood an inbox.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use actix_web::web;

use super::{Deliveries, MailLog, compose, deliver, smtp};
use crate::service::{ReaderMail, ReaderMailKind, Service, now_ms};

const CONSUMER: &str = "reader-mail";
const FOLLOW_UPS_PER_HOUR: usize = 20;
const CONFIRMS_PER_DAY: usize = 3;
const HOUR_MS: i64 = 60 * 60 * 1000;

/// What each recipient was sent lately, by kind.
#[derive(Default)]
struct Throttle {
    sent: HashMap<(String, bool), VecDeque<i64>>,
}

impl Throttle {
    /// Whether `to` may get one more mail of this kind now; counts it if so.
    fn admit(&mut self, to: &str, confirm: bool, now: i64) -> bool {
        let (window, cap) = if confirm {
            (24 * HOUR_MS, CONFIRMS_PER_DAY)
        } else {
            (HOUR_MS, FOLLOW_UPS_PER_HOUR)
        };
        self.sent
            .retain(|_, times| times.back().is_some_and(|&t| now - t < 24 * HOUR_MS));
        let times = self.sent.entry((to.to_owned(), confirm)).or_default();
        while times.front().is_some_and(|&t| now - t >= window) {
            times.pop_front();
        }
        if times.len() >= cap {
            return false;
        }
        times.push_back(now);
        true
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
        let mut turns = service.turns(CONSUMER);
        let mut throttle = Throttle::default();
        while turns.next().await {
            let _held = turns.hold();
            if let Err(e) = catch_up(&service, &relay, &public_url, &metrics, &mut throttle).await {
                tracing::error!(error = %e, "mail to readers stopped for now");
            }
        }
    });
}

async fn catch_up(
    service: &Arc<Service>,
    relay: &Arc<smtp::Relay>,
    public_url: &str,
    metrics: &Deliveries,
    throttle: &mut Throttle,
) -> Result<(), String> {
    loop {
        let s = Arc::clone(service);
        let (mails, upto, cursor) = web::block(move || {
            let cursor = s.consumer_cursor(CONSUMER)?;
            s.mail_for_readers_after(cursor, 50)
                .map(|(m, upto)| (m, upto, cursor))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        if upto == cursor {
            return Ok(());
        }
        for mail in mails {
            send(service, relay, public_url, metrics, throttle, mail).await?;
        }
        let s = Arc::clone(service);
        web::block(move || s.set_consumer_cursor(CONSUMER, upto))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
}

async fn send(
    service: &Arc<Service>,
    relay: &Arc<smtp::Relay>,
    public_url: &str,
    metrics: &Deliveries,
    throttle: &mut Throttle,
    mail: ReaderMail,
) -> Result<(), String> {
    let confirm = mail.kind == ReaderMailKind::Confirm;
    let log = MailLog {
        site: &mail.subscription.site,
        to: &mail.subscription.email,
        kind: if confirm {
            "mail.confirm"
        } else {
            "mail.follow_up"
        },
    };
    match compose::compose_for_reader(&mail, public_url, relay.from(), relay.reply_to()) {
        Ok(message) => {
            deliver_unless_throttled(relay, message, &log, metrics, throttle, confirm).await;
        }
        Err(e) => super::unwritable(&log, metrics, e),
    }
    // Done either way: sent, given up, or throttled.
    let s = Arc::clone(service);
    web::block(move || s.mail_done(&mail))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

async fn deliver_unless_throttled(
    relay: &Arc<smtp::Relay>,
    message: lettre::Message,
    log: &MailLog<'_>,
    metrics: &Deliveries,
    throttle: &mut Throttle,
    confirm: bool,
) {
    if throttle.admit(log.to, confirm, now_ms()) {
        deliver(relay, message, log, metrics).await;
    } else {
        metrics.record(super::mail_delivery(
            log,
            &message,
            "throttled",
            "too many mails to this address lately".into(),
        ));
        tracing::warn!(site = %log.site, kind = log.kind, "mail to a reader throttled");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_recipient_gets_a_bounded_number_of_mails_per_window() {
        let mut throttle = Throttle::default();
        let sent = |t: &mut Throttle, to: &str, confirm: bool, at: i64| {
            (0..30).filter(|_| t.admit(to, confirm, at)).count()
        };
        assert_eq!(
            sent(&mut throttle, "a@x.org", false, 0),
            FOLLOW_UPS_PER_HOUR
        );
        assert_eq!(
            sent(&mut throttle, "b@x.org", false, 0),
            FOLLOW_UPS_PER_HOUR
        );
        assert_eq!(sent(&mut throttle, "a@x.org", true, 0), CONFIRMS_PER_DAY);
        assert_eq!(sent(&mut throttle, "a@x.org", false, HOUR_MS - 1), 0);
        assert_eq!(
            sent(&mut throttle, "a@x.org", false, HOUR_MS),
            FOLLOW_UPS_PER_HOUR
        );
        assert_eq!(sent(&mut throttle, "a@x.org", true, 2 * HOUR_MS), 0);
        assert_eq!(
            sent(&mut throttle, "a@x.org", true, 24 * HOUR_MS),
            CONFIRMS_PER_DAY
        );
    }
}
