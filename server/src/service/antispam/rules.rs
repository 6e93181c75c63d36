//! Layer 4, the site's content rules: too many links holds a comment; the site's blocklists
//! (words, e-mail addresses and domains, client addresses and networks, website domains) send
//! it to spam. The duplicate rule needs memory and lives in [`super::Antispam`]; bans are the
//! moderators' and live in `service::bans`.

use std::net::IpAddr;

use ipnet::IpNet;
use sha2::{Digest, Sha256};
use talkback_api::Block;

use super::{Candidate, Verdict};
use crate::config::SpamRules;

/// A blocked address as the configuration writes it: one address, or a network in CIDR form.
pub fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The hosts of the web addresses in `text` (`http://` and `https://`, any case), lowercase,
/// without user, port or path.
pub(super) fn web_hosts(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut hosts = Vec::new();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("http") {
        rest = &rest[at + 4..];
        let after = rest
            .strip_prefix("s://")
            .or_else(|| rest.strip_prefix("://"));
        let Some(after) = after else { continue };
        let authority: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || "-.:@_%".contains(*c))
            .collect();
        let host = authority.rsplit('@').next().unwrap_or_default();
        let host = host
            .split(':')
            .next()
            .unwrap_or_default()
            .trim_end_matches('.');
        if !host.is_empty() && !hosts.iter().any(|h| h == host) {
            hosts.push(host.to_owned());
        }
    }
    hosts
}

/// How many links a comment carries: those its Markdown makes, or the web addresses written
/// out in it, whichever is more (a bare address is still an advertisement).
pub(super) fn link_count(tree: &[Block], source: &str) -> usize {
    let lower = source.to_lowercase();
    let written = lower.matches("http://").count() + lower.matches("https://").count();
    Block::link_count(tree).max(written)
}

/// Holds a comment with more than `max` links.
pub(super) fn links(tree: &[Block], source: &str, max: u32) -> Verdict {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    if link_count(tree, source) > max {
        Verdict::hold("too_many_links")
    } else {
        Verdict::Accept
    }
}

/// True when `host` is `domain` or below it.
fn on_domain(host: &str, domain: &str) -> bool {
    let domain = domain.trim().trim_start_matches('.').to_lowercase();
    !domain.is_empty()
        && (host == domain
            || host
                .strip_suffix(domain.as_str())
                .is_some_and(|rest| rest.ends_with('.')))
}

/// A stable fingerprint of a body for the duplicate rule: case and spacing do not matter.
pub(super) fn body_fingerprint(source: &str) -> [u8; 16] {
    let normal = source
        .split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ");
    let digest = Sha256::digest(normal.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// The links rule and the blocklists.
pub(super) fn check(c: &Candidate<'_>, rules: &SpamRules) -> Verdict {
    let mut verdict = links(c.tree, c.body_source, rules.max_links);
    let text = format!("{}\n{}", c.author, c.body_source).to_lowercase();
    if rules
        .blocked_words
        .iter()
        .map(|w| w.trim().to_lowercase())
        .any(|w| !w.is_empty() && text.contains(&w))
    {
        verdict = verdict.and(Verdict::spam("blocked_word"));
    }
    if let Some(email) = c.email.map(str::to_lowercase) {
        let domain = email.rsplit('@').next().unwrap_or_default().to_owned();
        let blocked = rules.blocked_emails.iter().any(|b| {
            let b = b.trim().to_lowercase();
            match b.strip_prefix('@') {
                Some(d) => on_domain(&domain, d),
                None => !b.is_empty() && b == email,
            }
        });
        if blocked {
            verdict = verdict.and(Verdict::spam("blocked_email"));
        }
    }
    if let Some(ip) = c.client {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if rules
            .blocked_addresses
            .iter()
            .filter_map(|a| parse_network(a))
            .any(|net| net.contains(&ip))
        {
            verdict = verdict.and(Verdict::spam("blocked_address"));
        }
    }
    let mut hosts = web_hosts(c.body_source);
    hosts.extend(c.website.map(web_hosts).unwrap_or_default());
    if hosts
        .iter()
        .any(|h| rules.blocked_domains.iter().any(|d| on_domain(h, d)))
    {
        verdict = verdict.and(Verdict::spam("blocked_domain"));
    }
    verdict
}
