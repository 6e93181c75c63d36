//! Rate limits on comment writes, keyed on the client's IP address: the TCP peer, or the
//! last `X-Forwarded-For` hop when the peer is a configured trusted proxy (so a client cannot
//! pick its own bucket by sending the header itself).

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use talkback_api::ErrorCode;

use crate::error::Error;

/// Buckets of all clients; `None` when limits are off.
pub(crate) struct WriteLimiter {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    trusted: Vec<IpAddr>,
}

/// Forget idle clients once this many are tracked.
const RETAIN_ABOVE: usize = 10_000;

impl WriteLimiter {
    pub(crate) fn new(per_minute: u32, trusted: Vec<IpAddr>) -> Self {
        let limiter = NonZeroU32::new(per_minute)
            .map(|n| RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)));
        Self { limiter, trusted }
    }

    /// The address a request is counted against.
    pub(crate) fn client(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted.contains(&peer) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .last();
        forwarded
            .and_then(|v| v.rsplit(',').next())
            .and_then(|ip| ip.trim().parse().ok())
            .or(Some(peer))
    }

    /// Counts one write; `rate_limited` (429) when the client is over its quota.
    pub(crate) fn check(&self, req: &HttpRequest) -> Result<(), Error> {
        let (Some(limiter), Some(ip)) = (&self.limiter, self.client(req)) else {
            return Ok(());
        };
        if limiter.len() > RETAIN_ABOVE {
            limiter.retain_recent();
        }
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                + 1;
            Error::client(
                ErrorCode::RateLimited,
                format!("You are commenting too fast. Please wait {wait} seconds and try again."),
            )
        })
    }
}
