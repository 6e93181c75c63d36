//! The blogger's digest (`notify = "hourly"` or `"daily"`): one consumer of the change log
//! per such site (cursor `owner-digest:SITE`). It waits until the oldest comment not yet
//! mailed is a period old, then mails every new comment since in one message and only then
//! moves its cursor, so a restart loses nothing and sends the same digest again at worst.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use super::{Deliveries, MailLog, compose, deliver, smtp};
use crate::config::SiteConfig;
use crate::service::{Notice, Service, now_ms};

/// Changes read per store call, and at most this many calls for one digest.
const BATCH: usize = 500;
const MAX_BATCHES: usize = 20;
/// Comments listed in one digest; the rest are counted.
const MAX_LISTED: usize = 100;

pub(super) fn spawn(
    service: &Arc<Service>,
    relay: &Arc<smtp::Relay>,
    public_url: &str,
    sites: &[SiteConfig],
    metrics: &Deliveries,
) {
    for site in sites {
        let (Some(period), Some(_)) = (site.digest_period_ms(), &site.owner_email) else {
            continue;
        };
        let cursor = format!("owner-digest:{}", site.id);
        if let Err(e) = crate::off_runtime(|| service.consumer_cursor(&cursor)) {
            tracing::error!(error = %e, site = %site.id, "the digest is off: its cursor cannot be read");
            continue;
        }
        let (service, relay, metrics) = (Arc::clone(service), Arc::clone(relay), metrics.clone());
        let (site, public_url) = (site.id.clone(), public_url.to_owned());
        actix_web::rt::spawn(async move {
            let what = format!("the digest of {site}");
            let turns = service.turns(&cursor);
            turns
                .run((), &what, async |()| {
                    step(
                        &service,
                        &relay,
                        &public_url,
                        &metrics,
                        &site,
                        &cursor,
                        period,
                    )
                    .await
                })
                .await;
        });
    }
}

/// Mails the digest if it is due. `None`: nothing waits; `Some(wait)`: due after `wait`.
async fn step(
    service: &Arc<Service>,
    relay: &Arc<smtp::Relay>,
    public_url: &str,
    metrics: &Deliveries,
    site: &str,
    cursor_name: &str,
    period_ms: i64,
) -> Result<Option<Duration>, String> {
    let (s, name, site_id) = (Arc::clone(service), cursor_name.to_owned(), site.to_owned());
    let (listed, more, upto, cursor) = web::block(move || {
        let cursor = s.consumer_cursor(&name)?;
        let (mut listed, mut more, mut upto) = (Vec::<Notice>::new(), 0, cursor);
        for _ in 0..MAX_BATCHES {
            let (notices, read_to) = s.digest_notices_after(&site_id, upto, BATCH)?;
            for notice in notices {
                if listed.len() < MAX_LISTED {
                    listed.push(notice);
                } else {
                    more += 1;
                }
            }
            if read_to == upto {
                break;
            }
            upto = read_to;
        }
        Ok::<_, crate::error::Error>((listed, more, upto, cursor))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let Some(first) = listed.first() else {
        if upto != cursor {
            set_cursor(service, cursor_name, upto).await?;
        }
        return Ok(None);
    };
    let due = first.at.saturating_add(period_ms);
    let now = now_ms();
    if now < due {
        return Ok(Some(Duration::from_millis(
            u64::try_from(due - now).unwrap_or(0),
        )));
    }
    let log = MailLog {
        site,
        to: &first.owner,
        kind: "mail.digest",
    };
    match compose::compose_digest(&listed, more, public_url, relay.from(), relay.reply_to()) {
        Ok(message) => {
            deliver(relay, message, &log, metrics).await;
        }
        Err(e) => super::unwritable(&log, metrics, e),
    }
    set_cursor(service, cursor_name, upto).await?;
    // More may have come in meanwhile: look again at once.
    Ok(Some(Duration::ZERO))
}

async fn set_cursor(service: &Arc<Service>, name: &str, seq: u64) -> Result<(), String> {
    let (s, name) = (Arc::clone(service), name.to_owned());
    web::block(move || s.set_consumer_cursor(&name, seq))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}
