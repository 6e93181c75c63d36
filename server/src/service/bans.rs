//! Bans by e-mail, name or client address (an IPv6 address bans its /64), for a while or for
//! ever, on one site or (the owner's alone) on every site. A moderator sees, adds and lifts
//! only the bans of the sites they moderate. A banned reader's comment is not refused: it is kept as spam with the reason
//! `banned` (its author sees it as awaiting moderation), so a ban tells a spammer nothing and
//! a mistaken one loses nothing.

use std::net::IpAddr;

use talkback_api::ErrorCode;
use talkback_api::admin::{Ban, BanBy, NewBan};
use talkback_store::{BanKind, BanRecord};

use super::{Actor, Service, now_ms};
use crate::error::{Error, Result};
use crate::http::limit;

fn invalid(message: impl Into<String>) -> Error {
    Error::client(ErrorCode::InvalidJson, message)
}

/// `30d`, `12h`, `90m` or `45s` as milliseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.len().checked_sub(1)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

/// The value a ban stores: what every comment's value is compared with.
fn normalised(by: BanBy, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.len() > 320 {
        return Err(invalid("A ban needs a value of at most 320 bytes."));
    }
    Ok(match by {
        BanBy::Email | BanBy::Name => value.to_lowercase(),
        BanBy::Ip => {
            let ip: IpAddr = value
                .parse()
                .map_err(|_| invalid("That is not an IP address (2001:db8::1 or 192.0.2.7)."))?;
            limit::bucket(ip).to_string()
        }
    })
}

fn kind(by: BanBy) -> BanKind {
    match by {
        BanBy::Email => BanKind::Email,
        BanBy::Name => BanKind::Name,
        BanBy::Ip => BanKind::Ip,
    }
}

fn wire(ban: BanRecord) -> Ban {
    Ban {
        id: ban.id,
        by: match ban.kind {
            BanKind::Email => BanBy::Email,
            BanKind::Name => BanBy::Name,
            BanKind::Ip => BanBy::Ip,
        },
        value: ban.value,
        created: ban.created,
        until: ban.until,
        actor: ban.by,
        site: ban.site,
    }
}

/// Whether `actor` may see and lift `ban`: an owner every ban, a moderator those of their sites.
fn may_handle(actor: &Actor, ban: &BanRecord) -> bool {
    match &ban.site {
        Some(site) => actor.may_see(site),
        None => actor.is_owner(),
    }
}

impl Service {
    /// A ban on one site the actor moderates, or (an owner's) on every site.
    pub fn add_ban(&self, actor: &Actor, ban: &NewBan) -> Result<Ban> {
        match ban.site.as_deref() {
            Some(site) if self.config.site(site).is_none() => {
                return Err(super::unknown_site(site));
            }
            Some(site) if !actor.may_see(site) => return Err(super::not_permitted()),
            None if !actor.is_owner() => {
                return Err(Error::client(
                    ErrorCode::NotPermitted,
                    "Only an owner may ban on every site: name one of your sites.",
                ));
            }
            _ => {}
        }
        let value = normalised(ban.by, &ban.value)?;
        let now = now_ms();
        let until = match ban.duration.as_deref().filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => Some(
                now.saturating_add(
                    parse_duration(d)
                        .ok_or_else(|| invalid("A duration looks like 30d, 12h, 90m or 45s."))?,
                ),
            ),
        };
        let stored = self.store.put_ban(BanRecord {
            id: 0,
            kind: kind(ban.by),
            value,
            created: now,
            until,
            by: actor.name.clone(),
            site: ban.site.clone(),
        })?;
        self.audit_event(
            &actor.name,
            &format!(
                "ban {:?} {} on {}",
                stored.kind,
                stored.value,
                stored.site.as_deref().unwrap_or("every site")
            ),
        )?;
        Ok(wire(stored))
    }

    /// Bans still in force that `actor` may see.
    pub fn bans(&self, actor: &Actor) -> Result<Vec<Ban>> {
        let now = now_ms();
        Ok(self
            .store
            .bans()?
            .into_iter()
            .filter(|b| b.until.is_none_or(|u| u > now) && may_handle(actor, b))
            .map(wire)
            .collect())
    }

    /// Lifts a ban `actor` may handle; false when there is none such (another site's ban
    /// answers like one that does not exist).
    pub fn remove_ban(&self, actor: &Actor, id: u64) -> Result<bool> {
        let Some(ban) = self.store.bans()?.into_iter().find(|b| b.id == id) else {
            return Ok(false);
        };
        if !may_handle(actor, &ban) {
            return Ok(false);
        }
        let removed = self.store.remove_ban(id)?;
        if removed {
            self.audit_event(&actor.name, &format!("unban {id}"))?;
        }
        Ok(removed)
    }

    /// Whether a comment on `site` by this e-mail, name or client address is banned now.
    pub(super) fn banned(
        &self,
        site: &str,
        email: Option<&str>,
        name: &str,
        client: Option<IpAddr>,
    ) -> Result<bool> {
        let bans = self.store.bans()?;
        if bans.is_empty() {
            return Ok(false);
        }
        let now = now_ms();
        let email = email.map(str::to_lowercase);
        let name = name.to_lowercase();
        let net = client.map(|ip| limit::bucket(ip).to_string());
        Ok(bans.iter().any(|b| {
            b.until.is_none_or(|u| u > now)
                && b.site.as_deref().is_none_or(|s| s == site)
                && match b.kind {
                    BanKind::Email => email.as_deref() == Some(b.value.as_str()),
                    BanKind::Name => !name.is_empty() && name == b.value,
                    BanKind::Ip => net.as_deref() == Some(b.value.as_str()),
                }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        let cases = [
            ("30d", Some(30 * 86_400_000)),
            ("12h", Some(12 * 3_600_000)),
            ("90m", Some(90 * 60_000)),
            ("45s", Some(45_000)),
            ("2w", Some(14 * 86_400_000)),
            (" 1d ", Some(86_400_000)),
            ("0d", None),
            ("-1d", None),
            ("d", None),
            ("10", None),
            ("1y", None),
            ("99999999999999999d", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), expected, "{text:?}");
        }
    }
}
