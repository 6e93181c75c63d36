//! The relay mail goes through, from `[mail]`: `smtp://` with STARTTLS required (spoken
//! plainly only to a relay on this machine, unless `?tls=` says otherwise) or `smtps://` with
//! TLS from the start; credentials from the environment, never from the configuration file.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use crate::config::MailConfig;

/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    StartTls,
    Wrapper,
}

/// Where and how to reach the relay.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Target {
    host: String,
    port: u16,
    security: Security,
}

pub(super) struct Relay {
    transport: SmtpTransport,
    from: Mailbox,
    reply_to: Option<Mailbox>,
}

impl Relay {
    /// Reads an `smtp://` or `smtps://` URL.
    pub(super) fn parse(url: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("smtp_url {url:?}: {why}");
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("write smtp://host:port or smtps://host:port"))?;
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && (!h.contains(':') || h.ends_with(']')) => (
                h.to_owned(),
                Some(
                    p.parse::<u16>()
                        .map_err(|_| bad("the port is not a number"))?,
                ),
            ),
            _ => (authority.to_owned(), None),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(bad(
                "no host (credentials go in TALKBACK_SMTP_USERNAME and _PASSWORD)",
            ));
        }
        let asked = match query {
            "" => None,
            "tls=none" => Some(Security::Plain),
            "tls=required" => Some(Security::StartTls),
            _ => return Err(bad("the only option is ?tls=none or ?tls=required")),
        };
        let local = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let (security, default_port) = match scheme {
            "smtp" => (
                asked.unwrap_or(if local {
                    Security::Plain
                } else {
                    Security::StartTls
                }),
                587,
            ),
            "smtps" if asked.is_none() => (Security::Wrapper, 465),
            "smtps" => return Err(bad("smtps:// is always TLS")),
            _ => return Err(bad("the scheme is smtp:// or smtps://")),
        };
        Ok(Target {
            host,
            port: port.unwrap_or(default_port),
            security,
        })
    }

    pub(super) fn from_config(mail: &MailConfig) -> Result<Self, String> {
        let target = Self::parse(&mail.smtp_url)?;
        let tls = || {
            TlsParameters::new(target.host.clone())
                .map_err(|e| format!("TLS for {}: {e}", target.host))
        };
        let security = match target.security {
            Security::Plain => Tls::None,
            Security::StartTls => Tls::Required(tls()?),
            Security::Wrapper => Tls::Wrapper(tls()?),
        };
        let mut builder = SmtpTransport::builder_dangerous(target.host.as_str())
            .port(target.port)
            .tls(security)
            .timeout(Some(TIMEOUT));
        if let (Ok(user), Ok(password)) = (
            std::env::var("TALKBACK_SMTP_USERNAME"),
            std::env::var("TALKBACK_SMTP_PASSWORD"),
        ) {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Self {
            transport: builder.build(),
            from: mail.from.parse().map_err(|e| format!("from: {e}"))?,
            reply_to: match mail.reply_to.as_str() {
                "" => None,
                r => Some(r.parse().map_err(|e| format!("reply_to: {e}"))?),
            },
        })
    }

    pub(super) fn from(&self) -> &Mailbox {
        &self.from
    }

    pub(super) fn reply_to(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref()
    }

    /// Sends `message`; an error says why and whether trying again could help (a 5xx answer
    /// is the relay's final word: retrying it for a day would only hold up the mail behind).
    pub(super) fn send(&self, message: &Message) -> Result<(), super::Failure> {
        self.transport
            .send(message)
            .map(|_| ())
            .map_err(|e| super::Failure {
                permanent: e.is_permanent(),
                why: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_say_how_to_speak_to_the_relay() {
        let target = |host: &str, port, security| {
            Ok(Target {
                host: host.to_owned(),
                port,
                security,
            })
        };
        let cases = [
            (
                "smtp://127.0.0.1:2525",
                target("127.0.0.1", 2525, Security::Plain),
            ),
            (
                "smtp://localhost",
                target("localhost", 587, Security::Plain),
            ),
            ("smtp://[::1]:25", target("::1", 25, Security::Plain)),
            (
                "smtp://mail.example.com",
                target("mail.example.com", 587, Security::StartTls),
            ),
            (
                "smtp://mail.example.com:25?tls=none",
                target("mail.example.com", 25, Security::Plain),
            ),
            (
                "smtp://localhost?tls=required",
                target("localhost", 587, Security::StartTls),
            ),
            (
                "smtps://mail.example.com",
                target("mail.example.com", 465, Security::Wrapper),
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(Relay::parse(url), expected, "{url}");
        }
        for bad in [
            "mail.example.com",
            "http://mail.example.com",
            "smtp://user:pw@mail.example.com",
            "smtp://mail.example.com:x",
            "smtp://mail.example.com?tls=maybe",
            "smtps://mail.example.com?tls=none",
            "smtp://",
        ] {
            assert!(Relay::parse(bad).is_err(), "{bad}");
        }
    }
}
