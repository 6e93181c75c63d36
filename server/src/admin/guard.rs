//! Who is asking: the session cookie (with the CSRF token and the `Origin` check on every
//! state change), or the command line's bearer token from the server's own machine; and the
//! back-off and lockout after failed sign-ins, per account and per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use actix_web::HttpRequest;
use actix_web::http::header;
use talkback_api::ErrorCode;
use talkback_api::admin::CSRF_HEADER;

use crate::AppState;
use crate::config::is_own_origin;
use crate::error::{Error, Result};
use crate::http::limit;
use crate::service::Actor;

/// The session cookie; scoped to `/admin` so the blog's pages never see it.
pub(crate) const COOKIE: &str = "tb_admin";
/// The cookie's name over HTTPS: browsers take a `__Secure-` cookie only from a secure origin
/// with the Secure flag, so a plain-HTTP page on the same host (or a sibling subdomain) cannot
/// plant or overwrite the session.
pub(crate) const SECURE_COOKIE: &str = "__Secure-tb_admin";

/// The session cookie's name for a request that came over HTTPS or not.
pub(crate) fn cookie_name(https: bool) -> &'static str {
    if https { SECURE_COOKIE } else { COOKIE }
}

/// Failures before the back-off starts.
const FREE_FAILURES: u32 = 3;
/// Failures after which the lockout is the longest.
const LOCKOUT_FAILURES: u32 = 10;
/// The longest wait, and how long failures are remembered.
const LOCKOUT_MS: i64 = 15 * 60 * 1000;
/// Clients and accounts remembered at most (oldest forgotten first when full).
const MAX_TRACKED: usize = 100_000;

/// Who asked, and how.
pub(crate) struct Caller {
    pub actor: Actor,
    /// The cookie value, for signing out (none for the command line).
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    last_ms: i64,
    locked_until_ms: i64,
}

/// Failed sign-ins by account and by client address (IPv6 by /64), and the passwords being
/// hashed right now.
pub(crate) struct SignInGuard {
    failures: Mutex<HashMap<String, Failures>>,
    /// Sign-ins hashing at once, process-wide: each argon2id takes 19 MiB and a core, so a
    /// burst beyond this is refused (429) instead of exhausting memory and the blocking pool.
    pub(crate) hashing: tokio::sync::Semaphore,
}

impl Default for SignInGuard {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            failures: Mutex::default(),
            hashing: tokio::sync::Semaphore::new(2 * cores),
        }
    }
}

/// The device cookie's name (over HTTPS with the `__Secure-` prefix, like the session's).
pub(crate) fn device_cookie_name(https: bool) -> &'static str {
    if https {
        "__Secure-tb_device"
    } else {
        "tb_device"
    }
}

/// Who an attempt counts against: the account and the client address; or, from a browser that
/// signed in to this account before (its device cookie), that device alone, so a stranger
/// running up the account's lockout or the shared address's never locks its owner out.
fn keys(name: &str, client: Option<IpAddr>, device: Option<&str>) -> Vec<String> {
    if let Some(device) = device {
        return vec![format!("device:{device}")];
    }
    let mut keys = vec![format!("account:{}", name.to_lowercase())];
    if let Some(ip) = client {
        keys.push(format!("client:{}", limit::bucket(ip)));
    }
    keys
}

impl SignInGuard {
    /// Takes an attempt's slot before its password is hashed: refused while the account or
    /// the client is locked out, else counted as a failure at once (forgiven on success), so
    /// a burst of concurrent attempts cannot all slip in before the first one fails.
    pub(crate) fn attempt(
        &self,
        name: &str,
        client: Option<IpAddr>,
        device: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let mut failures = self.lock()?;
        let keys = keys(name, client, device);
        refuse_locked(&failures, &keys, now)?;
        count_failure(&mut failures, keys, now);
        Ok(())
    }

    /// A failed attempt has been checked: its wait runs from now, not from when it was
    /// counted (hashing takes a while, longer on a busy machine).
    pub(crate) fn settle(
        &self,
        name: &str,
        client: Option<IpAddr>,
        device: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let mut failures = self.lock()?;
        for key in keys(name, client, device) {
            if let Some(f) = failures.get_mut(&key)
                && f.count > FREE_FAILURES
            {
                f.locked_until_ms = f.locked_until_ms.max(now + wait_after(f.count));
            }
        }
        Ok(())
    }

    /// A successful sign-in: forgets the account's (or the device's) failures, and the
    /// client's one counted up front for this attempt (its earlier failures stay).
    pub(crate) fn forgive(
        &self,
        name: &str,
        client: Option<IpAddr>,
        device: Option<&str>,
    ) -> Result<()> {
        let mut failures = self.lock()?;
        let mut keys = keys(name, client, device).into_iter();
        if let Some(account) = keys.next() {
            failures.remove(&account);
        }
        for key in keys {
            if let Some(f) = failures.get_mut(&key) {
                f.count = f.count.saturating_sub(1);
                if f.count <= FREE_FAILURES {
                    f.locked_until_ms = 0;
                }
            }
        }
        Ok(())
    }

    /// Refuses while the account or the client is locked out.
    #[cfg(test)]
    fn check(&self, name: &str, client: Option<IpAddr>, now: i64) -> Result<()> {
        refuse_locked(&*self.lock()?, &keys(name, client, None), now)
    }

    /// Counts a failure: after the first few, each one doubles the wait (1 s, 2 s, 4 s …), up
    /// to the full lockout.
    #[cfg(test)]
    fn failed(&self, name: &str, client: Option<IpAddr>, now: i64) -> Result<()> {
        count_failure(&mut *self.lock()?, keys(name, client, None), now);
        Ok(())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Failures>>> {
        self.failures
            .lock()
            .map_err(|_| Error::Internal("sign-in guard poisoned".into()))
    }
}

fn refuse_locked(failures: &HashMap<String, Failures>, keys: &[String], now: i64) -> Result<()> {
    let until = keys
        .iter()
        .filter_map(|k| failures.get(k))
        .map(|f| f.locked_until_ms)
        .max()
        .unwrap_or(0);
    if until > now {
        let secs = u64::try_from((until - now + 999) / 1000).unwrap_or(1);
        return Err(Error::Locked {
            retry_after_secs: secs.max(1),
        });
    }
    Ok(())
}

fn count_failure(failures: &mut HashMap<String, Failures>, keys: Vec<String>, now: i64) {
    if failures.len() >= MAX_TRACKED {
        failures.retain(|_, f| now - f.last_ms < LOCKOUT_MS);
        if failures.len() >= MAX_TRACKED {
            failures.clear();
        }
    }
    for key in keys {
        let f = failures.entry(key).or_default();
        if now - f.last_ms > LOCKOUT_MS {
            *f = Failures::default();
        }
        f.count += 1;
        f.last_ms = now;
        if f.count > FREE_FAILURES {
            f.locked_until_ms = now + wait_after(f.count);
        }
    }
}

/// How long a client waits after its `count`th failure: nothing for the first few, then 1 s,
/// 2 s, 4 s … up to the full lockout.
fn wait_after(count: u32) -> i64 {
    if count >= LOCKOUT_FAILURES {
        LOCKOUT_MS
    } else if count > FREE_FAILURES {
        (1000i64 << (count - FREE_FAILURES - 1).min(20)).min(LOCKOUT_MS)
    } else {
        0
    }
}

/// The browser's request comes from the server's own origin (`Origin` must be sent: every
/// browser sends it with a POST, PUT or DELETE).
pub(crate) fn same_origin(req: &HttpRequest) -> Result<()> {
    let host = req.headers().get(header::HOST).map(|h| h.as_bytes());
    match req.headers().get(header::ORIGIN) {
        Some(origin) if is_own_origin(origin.as_bytes(), host) => Ok(()),
        _ => Err(Error::client(
            ErrorCode::CsrfRejected,
            "This request did not come from the dashboard's own page.",
        )),
    }
}

fn is_loopback(req: &HttpRequest) -> bool {
    req.peer_addr().is_some_and(|a| a.ip().is_loopback())
}

/// What a request presents, read off it on the async worker (a request cannot travel to the
/// blocking pool); `resolve` then looks the session up.
pub(crate) enum Credentials {
    /// The command line's bearer token, from a loopback peer.
    CommandLine(String),
    /// A session cookie and, for a state change, the CSRF token sent.
    Cookie {
        cookie: String,
        csrf: Option<Vec<u8>>,
    },
    None,
}

/// Reads the caller's credentials; `changes` for every state change, which then must come from
/// the server's own origin and carry the CSRF token.
pub(crate) fn credentials(req: &HttpRequest, changes: bool, https: bool) -> Result<Credentials> {
    if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !is_loopback(req) || token.is_empty() {
            return Err(signed_out());
        }
        return Ok(Credentials::CommandLine(token.to_owned()));
    }
    // Over HTTPS only the prefixed cookie counts (an unprefixed one may have been planted).
    let Some(cookie) = req.cookie(cookie_name(https)).map(|c| c.value().to_owned()) else {
        return Ok(Credentials::None);
    };
    let csrf = if changes {
        same_origin(req)?;
        Some(
            req.headers()
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes().to_vec())
                .unwrap_or_default(),
        )
    } else {
        None
    };
    Ok(Credentials::Cookie { cookie, csrf })
}

/// The caller the credentials name, if they are valid.
pub(crate) fn resolve(state: &AppState, credentials: Credentials) -> Result<Caller> {
    let (cookie, csrf) = match credentials {
        Credentials::CommandLine(token)
            if crate::http::same_bytes(token.as_bytes(), state.cli_token.as_bytes()) =>
        {
            return Ok(Caller {
                actor: Actor::command_line(),
                cookie: None,
                csrf: None,
            });
        }
        Credentials::CommandLine(_) | Credentials::None => return Err(signed_out()),
        Credentials::Cookie { cookie, csrf } => (cookie, csrf),
    };
    let config = &state.config;
    let idle_ms = minutes_ms(config.admin_idle_minutes);
    let max_ms = minutes_ms(config.admin_session_hours.saturating_mul(60));
    let Some((session, admin)) = state.service.session(&cookie, idle_ms, max_ms)? else {
        return Err(signed_out());
    };
    if let Some(sent) = csrf
        && !crate::http::same_bytes(&sent, session.csrf.as_bytes())
    {
        return Err(Error::client(
            ErrorCode::CsrfRejected,
            "This request lacks the dashboard's security token; reload the page.",
        ));
    }
    Ok(Caller {
        actor: Actor::of(&admin),
        cookie: Some(cookie),
        csrf: Some(session.csrf),
    })
}

pub(crate) fn minutes_ms(minutes: u64) -> i64 {
    i64::try_from(minutes.saturating_mul(60_000)).unwrap_or(i64::MAX)
}

pub(crate) fn signed_out() -> Error {
    Error::client(
        ErrorCode::SignInRequired,
        "You are signed out (or your session expired). Sign in again.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_then_lock_out_per_account_and_client() {
        let guard = SignInGuard::default();
        let ip: IpAddr = "2001:db8:1:2::7".parse().unwrap();
        let neighbour: IpAddr = "2001:db8:1:2::8".parse().unwrap();
        let t = 1_000_000;
        for _ in 0..FREE_FAILURES {
            guard.check("zoe", Some(ip), t).unwrap();
            guard.failed("zoe", Some(ip), t).unwrap();
        }
        guard.check("zoe", Some(ip), t).unwrap();
        guard.failed("zoe", Some(ip), t).unwrap();
        // The fourth failure costs a second, for the account and for the /64 alike.
        assert!(matches!(
            guard.check("zoe", None, t),
            Err(Error::Locked {
                retry_after_secs: 1
            })
        ));
        assert!(guard.check("other", Some(neighbour), t).is_err());
        assert!(guard.check("other", None, t).is_ok());
        guard.check("zoe", Some(ip), t + 1000).unwrap();
        let mut now = t + 1000;
        for _ in FREE_FAILURES + 1..LOCKOUT_FAILURES {
            guard.failed("zoe", Some(ip), now).unwrap();
            now += 1;
        }
        match guard.check("zoe", None, now) {
            Err(Error::Locked { retry_after_secs }) => assert_eq!(retry_after_secs, 900),
            other => panic!("expected the full lockout, got {other:?}"),
        }
        // A success forgets the account's failures, not the client's.
        guard.forgive("zoe", None, None).unwrap();
        assert!(guard.check("zoe", None, now).is_ok());
        assert!(guard.check("zoe", Some(ip), now).is_err());
        // After the lockout, failures are forgotten.
        assert!(guard.check("zoe", Some(ip), now + LOCKOUT_MS).is_ok());
    }

    #[test]
    fn an_attempt_counts_before_its_password_is_hashed_and_a_success_is_forgiven() {
        let guard = SignInGuard::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t = 1_000_000;
        // A burst at one instant: only the free attempts get in, whatever the passwords.
        let admitted = (0..200)
            .filter(|_| guard.attempt("owner", Some(ip), None, t).is_ok())
            .count();
        assert_eq!(admitted, FREE_FAILURES as usize + 1);
        // The right password on the last one: the account is free again, the client keeps
        // its earlier failures but not the forgiven one.
        guard.forgive("owner", Some(ip), None).unwrap();
        assert!(guard.check("owner", None, t).is_ok());
        assert!(guard.check("owner", Some(ip), t).is_ok());
    }
}
