//! When a consumer of the change log (owner mail, readers' mail, a webhook, a digest, the spam
//! trainer) takes its turn. On one server: at start, then after every published change. On
//! servers sharing a database, only the one holding the consumer's lease works it, so each
//! item is worked by one server; the others retry the lease every [`LEASE_RETRY`] and take
//! over once the holder's claim runs out (a server that died holds it [`LEASE`] at most).

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tokio::sync::watch;

use super::{Service, now_ms};

/// How long a claim lasts; the holder renews it at each turn (and every [`LEASE_RETRY`]).
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a server that does not hold a lease (or has nothing to do) tries again.
pub const LEASE_RETRY: Duration = Duration::from_secs(5);
/// When a failed turn is tried again if no change comes first (a relay or a database back).
const RETRY_FAILED_TURN: Duration = Duration::from_secs(60);

/// The turns of one consumer.
pub struct Turns {
    service: Arc<Service>,
    name: String,
    published: watch::Receiver<u64>,
    first: bool,
}

impl Service {
    /// The turns of the consumer `name` on this server.
    pub fn turns(self: &Arc<Self>, name: &str) -> Turns {
        Turns {
            service: Arc::clone(self),
            name: name.to_owned(),
            published: self.changes(),
            first: true,
        }
    }
}

/// Keeps renewing a consumer's lease while a turn lasts (see [`Turns::hold`]).
pub struct Held(Option<tokio::task::JoinHandle<()>>);

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(renewing) = self.0.take() {
            renewing.abort();
        }
    }
}

impl Turns {
    /// Works a consumer for as long as the service lives: a turn at start and after each
    /// change, holding the lease meanwhile; when a turn says something waits (mail over a
    /// quota or an hourly share), another once that is due too, whichever comes first. A
    /// failed turn is logged as `what` and tried again at the next change, or after
    /// `RETRY_FAILED_TURN`. Every consumer of the change log runs here.
    pub async fn run<S>(
        mut self,
        mut state: S,
        what: &str,
        mut turn: impl AsyncFnMut(&mut S) -> Result<Option<Duration>, String>,
    ) {
        let mut more = self.next().await;
        while more {
            let held = self.hold();
            let due = turn(&mut state).await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "{what} stopped for now");
                Some(RETRY_FAILED_TURN)
            });
            drop(held);
            more = match due {
                None => self.next().await,
                Some(wait) => tokio::select! {
                    more = self.next() => more,
                    () = actix_web::rt::time::sleep(wait) => true,
                },
            };
        }
    }

    /// Keeps the lease while the returned guard lives: a turn may outlast [`LEASE`] (a relay
    /// or a receiver retried with back-off), and another server must not take the consumer
    /// over meanwhile and work the same items again. Renewed every third of the lease.
    pub fn hold(&self) -> Held {
        if !self.service.shared_store() {
            return Held(None);
        }
        let (service, name) = (Arc::clone(&self.service), self.name.clone());
        Held(Some(actix_web::rt::spawn(async move {
            loop {
                actix_web::rt::time::sleep(LEASE / 3).await;
                let lease = Turns {
                    service: Arc::clone(&service),
                    name: name.clone(),
                    published: service.changes(),
                    first: false,
                };
                if !lease.lead().await {
                    tracing::warn!(consumer = %name, "lost the lease during a turn");
                }
            }
        })))
    }

    /// Waits for the next turn: at once the first time, then after a published change (and,
    /// on a shared database, at least every [`LEASE_RETRY`], renewing the lease). False once
    /// the service is gone.
    pub async fn next(&mut self) -> bool {
        loop {
            if !self.first && !self.wait().await {
                return false;
            }
            self.first = false;
            if self.lead().await {
                return true;
            }
        }
    }

    /// Whether this server may work the consumer now (claiming or renewing its lease).
    async fn lead(&self) -> bool {
        if !self.service.shared_store() {
            return true;
        }
        let (service, name) = (Arc::clone(&self.service), self.name.clone());
        let claimed = web::block(move || {
            let now = now_ms();
            let until = now.saturating_add(i64::try_from(LEASE.as_millis()).unwrap_or(30_000));
            service.store().claim(&name, &service.instance, now, until)
        })
        .await;
        match claimed {
            Ok(Ok(mine)) => mine,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, consumer = %self.name, "cannot claim the consumer");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, consumer = %self.name, "claiming task failed");
                false
            }
        }
    }

    /// Waits for a published change (or, on a shared database, [`LEASE_RETRY`] at most).
    async fn wait(&mut self) -> bool {
        if !self.service.shared_store() {
            return self.published.changed().await.is_ok();
        }
        tokio::select! {
            changed = self.published.changed() => changed.is_ok(),
            () = actix_web::rt::time::sleep(LEASE_RETRY) => true,
        }
    }
}
