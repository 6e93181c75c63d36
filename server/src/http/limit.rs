//! Rate limits, keyed on the client's address: the TCP peer, or the last `X-Forwarded-For`
//! hop when the peer is a configured trusted proxy (so a client cannot pick its own bucket by
//! sending the header itself). IPv6 clients are counted per /64, the block one subscriber
//! usually holds, so rotating addresses inside it buys nothing. Writes and expensive reads
//! (previews, counts, thread reads the cache cannot answer) have separate budgets.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::sync::Arc;

use actix_web::{HttpRequest, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use talkback_api::ErrorCode;

use crate::error::Error;

/// Budgets every server sharing a database counts together (the service implements it over
/// its store; `http` knows nothing of either).
pub(crate) trait SharedCount: Send + Sync + 'static {
    /// Counts one use of the budget `key` in the one-minute window starting at `window_ms`;
    /// returns the uses in that window so far, on every server.
    fn count_use(&self, key: &str, window_ms: i64) -> Result<u32, Error>;
}

/// What a comment through the no-JS form costs of the client's write budget: it proves no
/// work, so a script using that path gets a quarter of the comments a reader's widget may post.
pub(crate) const PLAIN_FORM_COST: NonZeroU32 = NonZeroU32::new(4).expect("not zero");

/// Forget idle clients once at least this many are tracked.
const SWEEP_ABOVE: usize = 10_000;

/// One budget: a bucket per client.
struct Budget {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_minute: u32,
    /// Sweep idle buckets when more than this many are tracked. Doubling it after each sweep
    /// makes the sweeps' cost amortised O(1) per request, however many clients come.
    sweep_at: AtomicUsize,
    /// The budget for comment writes (else for expensive reads): it says which in its refusal.
    writes: bool,
}

impl Budget {
    fn new(per_minute: u32, writes: bool) -> Self {
        Self {
            limiter: NonZeroU32::new(per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n).allow_burst(n))),
            per_minute,
            sweep_at: AtomicUsize::new(SWEEP_ABOVE),
            writes,
        }
    }

    fn check(&self, client: IpAddr, cost: NonZeroU32) -> Result<(), Error> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let tracked = limiter.len();
        if tracked > self.sweep_at.load(Ordering::Relaxed) {
            limiter.retain_recent();
            let next = (limiter.len() * 2).max(SWEEP_ABOVE);
            self.sweep_at.store(next, Ordering::Relaxed);
        }
        let refused = |wait: u64| Error::RateLimited {
            retry_after_secs: wait,
            writes: self.writes,
        };
        // A budget smaller than the cost is spent whole, never refused for good.
        let cost = NonZeroU32::new(self.per_minute).map_or(cost, |all| cost.min(all));
        match limiter.check_key_n(&client, cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(refused(
                not_until
                    .wait_time_from(DefaultClock::default().now())
                    .as_secs()
                    + 1,
            )),
            // More than the whole minute's budget: never.
            Err(_) => Err(refused(60)),
        }
    }
}

/// Every budget of every client.
pub(crate) struct Limits {
    writes: Budget,
    reads: Budget,
    trusted: Vec<IpAddr>,
    /// On a database other servers share: the windows all of them count.
    shared: Option<Arc<dyn SharedCount>>,
}

impl Limits {
    pub(crate) fn new(
        writes_per_minute: u32,
        reads_per_minute: u32,
        trusted: Vec<IpAddr>,
        shared: Option<Arc<dyn SharedCount>>,
    ) -> Self {
        Self {
            writes: Budget::new(writes_per_minute, true),
            reads: Budget::new(reads_per_minute, false),
            trusted,
            shared,
        }
    }

    /// Counts one write (post, edit, delete).
    pub(crate) async fn write(&self, req: &HttpRequest) -> Result<(), Error> {
        self.count(req, &self.writes, NonZeroU32::MIN).await
    }

    /// Counts a write that costs the client `cost` writes (a comment through the no-JS form,
    /// which proves no work: [`PLAIN_FORM_COST`]).
    pub(crate) async fn write_costing(
        &self,
        req: &HttpRequest,
        cost: NonZeroU32,
    ) -> Result<(), Error> {
        self.count(req, &self.writes, cost).await
    }

    /// Counts one read that costs the server real work.
    pub(crate) async fn read(&self, req: &HttpRequest) -> Result<(), Error> {
        self.count(req, &self.reads, NonZeroU32::MIN).await
    }

    /// This server's limiter first; then, on a database other servers share, the window all
    /// of them count together (so a client spreading requests over N servers gets no more).
    async fn count(
        &self,
        req: &HttpRequest,
        budget: &Budget,
        cost: NonZeroU32,
    ) -> Result<(), Error> {
        let Some(ip) = self.client(req)? else {
            return Ok(());
        };
        let client = bucket(ip);
        budget.check(client, cost)?;
        let (Some(shared), Some(_)) = (&self.shared, &budget.limiter) else {
            return Ok(());
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let window = now - now.rem_euclid(60_000);
        let key = format!("{}:{client}", if budget.writes { "w" } else { "r" });
        let shared = Arc::clone(shared);
        let counted = move || {
            let mut used = 0;
            for _ in 0..cost.get() {
                used = shared.count_use(&key, window)?;
            }
            Ok(used)
        };
        let used = match web::block(counted).await? {
            Ok(used) => used,
            // The shared window cannot be counted now (a full disk under the database): reads
            // go on within this server's own limit, which the client has already passed.
            Err(Error::Unavailable(why)) if !budget.writes => {
                tracing::warn!(reason = %why, "the shared read budget is not counted for now");
                0
            }
            Err(e) => return Err(e),
        };
        if used > budget.per_minute {
            return Err(Error::RateLimited {
                retry_after_secs: u64::try_from((window + 60_000 - now) / 1000 + 1).unwrap_or(60),
                writes: budget.writes,
            });
        }
        Ok(())
    }

    /// Whether `peer` is a configured trusted proxy.
    pub(crate) fn trusts(&self, peer: Option<SocketAddr>) -> bool {
        peer.is_some_and(|a| self.trusted.contains(&a.ip()))
    }

    /// Whether the client reached the server over HTTPS: TLS here, or a trusted proxy's
    /// `X-Forwarded-Proto: https` (anyone else's header is ignored).
    pub(crate) fn is_https(&self, req: &HttpRequest) -> bool {
        if req.app_config().secure() {
            return true;
        }
        let from_proxy = req
            .peer_addr()
            .is_some_and(|a| self.trusted.contains(&a.ip()));
        from_proxy
            && req
                .headers()
                .get_all("x-forwarded-proto")
                .last()
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.rsplit(',')
                        .next()
                        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
                })
    }

    /// The address a request comes from. A trusted proxy's last `X-Forwarded-For` hop must be
    /// an address: one the server cannot read is refused rather than counted against the
    /// proxy, where every client behind it would share one bucket.
    pub(crate) fn client(&self, req: &HttpRequest) -> Result<Option<IpAddr>, Error> {
        let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
            return Ok(None);
        };
        if !self.trusted.contains(&peer) {
            return Ok(Some(peer));
        }
        let Some(last) = req
            .headers()
            .get_all("x-forwarded-for")
            .last()
            .map(|v| v.to_str().unwrap_or("?"))
        else {
            // The proxy itself (a health check, say).
            return Ok(Some(peer));
        };
        let hop = last.rsplit(',').next().unwrap_or_default().trim();
        parse_hop(hop).map(Some).ok_or_else(|| {
            Error::client(
                ErrorCode::InvalidClientAddress,
                "The proxy in front of this server sent an X-Forwarded-For header it cannot read.",
            )
        })
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse().ok())
        })
}

/// The bucket an address counts against: IPv4 as is (also when mapped into IPv6), IPv6 by /64.
pub(crate) fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(Ipv6Addr::from(s))
            }
        },
    }
}

/// Live streams open at once on one site, and on the whole server: each is a connection and
/// a follower held open, so neither one site's readers (or one botnet) nor all together may
/// hold more.
pub(crate) const STREAMS_PER_SITE: u32 = 8_000;
pub(crate) const STREAMS_IN_ALL: u32 = 16_000;

/// Open live streams per client address (IPv6 per /64), within `live_streams_per_client`,
/// per site within [`STREAMS_PER_SITE`] and in all within [`STREAMS_IN_ALL`].
pub(crate) struct StreamSlots {
    open: std::sync::Mutex<Open>,
    max: u32,
}

#[derive(Default)]
struct Open {
    clients: std::collections::HashMap<IpAddr, u32>,
    sites: std::collections::HashMap<String, u32>,
    all: u32,
}

/// One open stream; dropping it (the stream ends) frees the slot.
pub(crate) struct StreamSlot {
    slots: std::sync::Arc<StreamSlots>,
    client: Option<IpAddr>,
    site: String,
}

/// Takes one from a count, forgetting the key at zero.
fn release<K: std::hash::Hash + Eq>(counts: &mut std::collections::HashMap<K, u32>, key: &K) {
    if let Some(held) = counts.get_mut(key) {
        *held = held.saturating_sub(1);
        if *held == 0 {
            counts.remove(key);
        }
    }
}

impl StreamSlots {
    pub(crate) fn new(max: u32) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            open: Default::default(),
            max,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for `client` on `site` (a configured one), or `429 rate_limited` when the client
    /// holds all of its own, or the site or the server is full.
    pub(crate) fn take(
        self: &std::sync::Arc<Self>,
        client: Option<IpAddr>,
        site: &str,
    ) -> Result<StreamSlot, Error> {
        let client = client.map(bucket);
        let mut open = self.lock();
        if client.is_some_and(|ip| open.clients.get(&ip).copied().unwrap_or(0) >= self.max) {
            return Err(Error::client(
                ErrorCode::RateLimited,
                "Too many live streams from your address: close some tabs.",
            ));
        }
        if open.all >= STREAMS_IN_ALL
            || open.sites.get(site).copied().unwrap_or(0) >= STREAMS_PER_SITE
        {
            return Err(Error::client(
                ErrorCode::RateLimited,
                "Too many readers are following threads live right now: try again later.",
            ));
        }
        if let Some(ip) = client {
            *open.clients.entry(ip).or_default() += 1;
        }
        *open.sites.entry(site.to_owned()).or_default() += 1;
        open.all += 1;
        Ok(StreamSlot {
            slots: std::sync::Arc::clone(self),
            client,
            site: site.to_owned(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(ip) = self.client {
            release(&mut open.clients, &ip);
        }
        release(&mut open.sites, &self.site);
        open.all = open.all.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_streams_are_capped_per_site_and_in_all() {
        let slots = StreamSlots::new(u32::MAX);
        let ip = |n: u32| Some(IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8]));
        let blog: Vec<StreamSlot> = (0..STREAMS_PER_SITE)
            .map(|n| slots.take(ip(n), "blog").unwrap())
            .collect();
        assert!(slots.take(ip(1 << 20), "blog").is_err(), "the site is full");
        let other: Vec<StreamSlot> = (0..STREAMS_IN_ALL - STREAMS_PER_SITE)
            .map(|n| slots.take(ip(n), "other").unwrap())
            .collect();
        assert!(slots.take(None, "third").is_err(), "the server is full");
        drop(other);
        assert!(slots.take(None, "third").is_ok(), "slots come back");
        drop(blog);
        let open = slots.lock();
        assert_eq!(open.all, 0);
        assert!(open.sites.is_empty() && open.clients.is_empty());
    }

    #[test]
    fn addresses_are_bucketed_per_ipv4_and_ipv6_slash_64() {
        let cases = [
            ("192.0.2.7", "192.0.2.7"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"),
            ("2001:db8:1:2:ffff::1", "2001:db8:1:2::"),
            ("2001:db8:1:3::1", "2001:db8:1:3::"),
        ];
        for (ip, expected) in cases {
            let got = bucket(ip.parse().unwrap());
            assert_eq!(got.to_string(), expected, "{ip}");
        }
    }

    #[test]
    fn forwarded_hops_parse_in_the_forms_proxies_write() {
        let cases = [
            ("203.0.113.9", Some("203.0.113.9")),
            ("203.0.113.9:443", Some("203.0.113.9")),
            ("2001:db8::9", Some("2001:db8::9")),
            ("[2001:db8::9]:443", Some("2001:db8::9")),
            ("[2001:db8::9]", Some("2001:db8::9")),
            ("unknown", None),
            ("", None),
            ("1.2.3", None),
        ];
        for (hop, expected) in cases {
            let got = parse_hop(hop).map(|ip| ip.to_string());
            assert_eq!(got.as_deref(), expected, "{hop:?}");
        }
    }
}
