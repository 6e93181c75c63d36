//! Who may moderate: accounts with argon2id password hashes, sessions (stored by the hash of
//! their cookie, with idle and absolute expiry) and the audit entries of signing in and out.
//! Per-client back-off and lockout are the HTTP layer's (`admin::guard`).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use talkback_api::ErrorCode;
use talkback_api::admin::{Account, AdminRole};
use talkback_store::{AdminRecord, Role, SessionRecord};

use super::{Service, now_ms};
use crate::error::{Error, Result};

/// Shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password hashed (argon2 takes any length; this bounds the work per sign-in).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// A session's `seen` is written at most this often.
const SEEN_EVERY_MS: i64 = 60_000;

/// A browser that just signed in: the cookie value to set (only its hash is stored).
pub struct SignedIn {
    pub cookie: String,
    pub session: SessionRecord,
    pub admin: AdminRecord,
}

/// Device cookies (OWASP's defence against lockout as a denial of service): a browser that
/// signed in to an account carries a cookie naming it, signed with a store secret, and its
/// later sign-ins to that account are counted against that device alone, never against the
/// account's lockout, which strangers can run up.
pub(crate) struct DeviceKeys {
    mac: hmac::Hmac<sha2::Sha256>,
}

impl DeviceKeys {
    pub(super) fn new(secret: &[u8]) -> Result<Self, talkback_store::Error> {
        use hmac::Mac;
        let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret)
            .map_err(|e| talkback_store::Error::Internal(format!("device secret: {e}")))?;
        Ok(Self { mac })
    }

    fn tag(&self, name: &str, device: &str) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        let mut m = self.mac.clone();
        m.update(name.to_lowercase().as_bytes());
        m.update(b"\0");
        m.update(device.as_bytes());
        m
    }
}

impl Service {
    /// A new device cookie's value for a browser that just signed in to `name`:
    /// `{device id}.{MAC of the name and the id}`.
    pub fn device_cookie(&self, name: &str) -> Result<String> {
        use hmac::Mac;
        let device = random_token()?;
        let tag = self.devices.tag(name, &device).finalize().into_bytes();
        Ok(format!(
            "{device}.{}",
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                &tag[..16]
            )
        ))
    }

    /// The device id in `cookie`, when it is genuine and was given for `name`.
    pub fn device_of(&self, name: &str, cookie: &str) -> Option<String> {
        use hmac::Mac;
        let (device, tag) = cookie.split_once('.')?;
        if device.len() > 64 {
            return None;
        }
        let tag =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, tag).ok()?;
        if tag.len() != 16 {
            return None;
        }
        self.devices
            .tag(name, device)
            .verify_truncated_left(&tag)
            .ok()?;
        Some(device.to_owned())
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::client(ErrorCode::InvalidJson, message)
}

fn random_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        bytes,
    ))
}

fn token_hash(token: &str) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()))
}

fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

/// Checks a password against a stored hash; a hash that does not parse never matches.
fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of a password nobody has, checked when the name is unknown so that a wrong name
/// takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("no account has this password").unwrap_or_default())
}

/// Account names: what a person types at the sign-in form.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

pub(crate) fn account(admin: &AdminRecord) -> Account {
    Account {
        name: admin.name.clone(),
        role: super::moderation::role(admin.role),
        sites: admin.sites.clone(),
        created: admin.created,
    }
}

impl Service {
    /// Creates an account, or replaces its password and rights (which signs it out everywhere).
    pub fn put_account(
        &self,
        name: &str,
        role: AdminRole,
        sites: &[String],
        password: &str,
    ) -> Result<Account> {
        if !valid_name(name) {
            return Err(invalid(
                "An account name is 1-64 letters, digits, '.', '_', '-' or '@'.",
            ));
        }
        if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
            return Err(invalid(format!(
                "A password needs at least {MIN_PASSWORD_CHARS} characters (and at most {MAX_PASSWORD_BYTES} bytes)."
            )));
        }
        if let Some(unknown) = sites.iter().find(|s| self.config.site(s).is_none()) {
            return Err(super::unknown_site(unknown));
        }
        let role = match role {
            AdminRole::Owner => Role::Owner,
            AdminRole::Moderator => Role::Moderator,
        };
        if role == Role::Moderator && sites.is_empty() {
            return Err(invalid("A moderator needs at least one site (--site)."));
        }
        let now = now_ms();
        let created = self.store.admin(name)?.map_or(now, |a| a.created);
        let record = AdminRecord {
            name: name.to_owned(),
            role,
            sites: sites.to_vec(),
            password_hash: hash_password(password)?,
            created,
            changed: now,
        };
        self.store.put_admin(record.clone())?;
        Ok(account(&record))
    }

    /// Removes an account and ends its sessions; false when there was none.
    pub fn remove_account(&self, name: &str) -> Result<bool> {
        Ok(self.store.remove_admin(name)?)
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        Ok(self.store.admins()?.iter().map(account).collect())
    }

    /// Checks a name and password; on success stores a new session. `None` for a wrong name
    /// or password (the two are not told apart).
    pub fn sign_in(&self, name: &str, password: &str) -> Result<Option<SignedIn>> {
        let admin = if password.len() > MAX_PASSWORD_BYTES {
            None
        } else {
            self.store.admin(name)?
        };
        let hash = admin
            .as_ref()
            .map_or(decoy_hash(), |a| a.password_hash.as_str());
        let matched = password_matches(password, hash);
        let Some(admin) = admin.filter(|_| matched) else {
            return Ok(None);
        };
        let cookie = random_token()?;
        let now = now_ms();
        let session = SessionRecord {
            id_hash: token_hash(&cookie),
            admin: admin.name.clone(),
            csrf: random_token()?,
            created: now,
            seen: now,
        };
        self.store.put_session(session.clone())?;
        self.audit_event(&admin.name, "sign_in")?;
        Ok(Some(SignedIn {
            cookie,
            session,
            admin,
        }))
    }

    /// The session a cookie belongs to and its account, unless it expired (idle for
    /// `idle_ms`, or older than `max_ms`), or the account was removed or changed since.
    pub fn session(
        &self,
        cookie: &str,
        idle_ms: i64,
        max_ms: i64,
    ) -> Result<Option<(SessionRecord, AdminRecord)>> {
        let hash = token_hash(cookie);
        let Some(mut session) = self.store.session(&hash)? else {
            return Ok(None);
        };
        let now = now_ms();
        let admin = self
            .store
            .admin(&session.admin)?
            .filter(|a| a.changed <= session.created);
        let expired = now.saturating_sub(session.seen) > idle_ms
            || now.saturating_sub(session.created) > max_ms;
        let Some(admin) = admin.filter(|_| !expired) else {
            self.store.remove_session(&hash)?;
            return Ok(None);
        };
        if now.saturating_sub(session.seen) > SEEN_EVERY_MS {
            session.seen = now;
            self.store.put_session(session.clone())?;
        }
        Ok(Some((session, admin)))
    }

    /// Ends the session a cookie belongs to.
    pub fn sign_out(&self, cookie: &str, name: &str) -> Result<()> {
        self.store.remove_session(&token_hash(cookie))?;
        self.audit_event(name, "sign_out")
    }

    /// Drops sessions idle for longer than `idle_ms`.
    pub fn prune_sessions(&self, idle_ms: i64) -> Result<usize> {
        Ok(self
            .store
            .prune_sessions(now_ms().saturating_sub(idle_ms))?)
    }
}
