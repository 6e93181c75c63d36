//! Server configuration: one [`Config`] from a TOML file plus `TALKBACK_*` environment
//! variables (nested keys joined by `__`, e.g. `TALKBACK_EDIT_WINDOW_SECS=600`).

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything the server can be told. Every field has a default; `examples/talkback.toml`
/// spells the defaults out (a test keeps the two equal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on. Port 0 picks a free port.
    pub bind: String,
    /// Directory of the sled database (created on first start), or the URL of a PostgreSQL
    /// database (`postgres://user:password@host:5432/talkback`) that any number of servers share.
    pub database: PathBuf,
    /// sled's page cache in MiB (memory held for hot data; threads are read from the thread
    /// cache first, so a small one costs little).
    pub cache_mb: u64,
    /// On PostgreSQL: connections this server keeps open to the database, at most.
    pub database_connections: u32,
    /// Directory holding the built widget and dashboard (`cargo xtask build-widget` writes
    /// it), for development. Unset: the assets built into the binary (`cargo xtask dist`), or
    /// `target/talkback-widget` when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assets_dir: Option<PathBuf>,
    /// Directory of example pages served at `/`; empty to serve none.
    pub examples_dir: PathBuf,
    /// How long after posting a reader may edit or delete a comment, in seconds.
    pub edit_window_secs: u64,
    /// Comment writes (post, edit, delete) allowed per client IP address (IPv6: per /64) and
    /// minute; 0 for no limit.
    pub rate_limit_per_minute: u32,
    /// Expensive reads (previews, counts, thread reads the cache cannot answer) allowed per
    /// client address and minute; 0 for no limit. Cached thread reads are never limited.
    pub read_rate_limit_per_minute: u32,
    /// Memory for cached thread pages (bodies and compressed copies), in MiB.
    pub thread_cache_mb: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed; every other peer is rate-limited by
    /// its own address, whatever headers it sends.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Directory for automatic backups (gzipped exports); empty for none.
    pub backup_dir: PathBuf,
    /// Seconds between backups (at least 60).
    pub backup_interval_secs: u64,
    /// Backups kept per site; older ones are deleted.
    pub backup_keep: usize,
    /// Days the change log keeps its entries (what notifications, webhooks and live updates
    /// read); 0 keeps them for ever.
    pub change_log_days: u64,
    /// A moderator's session ends after this many minutes without a request.
    pub admin_idle_minutes: u64,
    /// A moderator's session ends this many hours after signing in, however busy.
    pub admin_session_hours: u64,
    /// On SIGTERM or SIGINT the server stops accepting connections and waits at most this
    /// many seconds for requests in flight, then flushes and exits.
    pub shutdown_timeout_secs: u64,
    /// Besides this machine (loopback), the addresses or networks that may read `/metrics`
    /// (e.g. your Prometheus server's); a `TALKBACK_METRICS_TOKEN` environment variable also
    /// lets anyone with that bearer token read them.
    pub metrics_allow: Vec<String>,
    /// Live update streams (`/api/v1/live`) one client address (IPv6: /64) may hold open.
    pub live_streams_per_client: u32,
    /// `text` for people, `json` (one object per line) for log collectors. `RUST_LOG` picks
    /// what is logged.
    pub log_format: LogFormat,
    /// The server's address as readers reach it (`https://comments.example.com`), for links in
    /// mail; empty: `http://` and the `bind` address.
    pub public_url: String,
    /// Outgoing mail (`[mail]`); without an `smtp_url`, none is sent.
    pub mail: MailConfig,
    /// The sites whose comments this server keeps.
    pub sites: Vec<SiteConfig>,
}

/// Outgoing mail. The relay's credentials come from the environment only
/// (`TALKBACK_SMTP_USERNAME`, `TALKBACK_SMTP_PASSWORD`), so `talkback config` never prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `smtp://host:port` (STARTTLS required, except to a relay on this machine, which is spoken
    /// to plainly; `?tls=none` or `?tls=required` say otherwise) or `smtps://host:port` (TLS
    /// from the start). Empty: no mail.
    pub smtp_url: String,
    /// The sender, e.g. `Talkback <comments@blog.example>`.
    pub from: String,
    /// Where replies go; empty: to `from`.
    pub reply_to: String,
}

/// Which new comments a site's owner is mailed about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    /// Those waiting for a moderator.
    #[default]
    Held,
    /// Every new comment (and those waiting).
    Each,
    /// One mail an hour at most, listing the new comments (those waiting marked).
    Hourly,
    /// One mail a day at most, likewise.
    Daily,
    None,
}

/// How log lines are written (to standard error).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A blog that embeds the widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The id given as `data-site` in the snippet.
    pub id: String,
    /// Origins (`scheme://host[:port]`) whose pages may call the API for this site. Pages served
    /// by Talkback itself are always allowed.
    #[serde(default)]
    pub origins: Vec<String>,
    /// Whether new comments wait for approval.
    #[serde(default)]
    pub moderation: Moderation,
    /// Query parameters that name a page (WordPress's plain permalinks `/?p=4`, `/?page_id=7`,
    /// and `cat`, `tag` by default); every other parameter (`utm_*`, `fbclid`, …) is dropped
    /// from page keys. `[]` keys pages by their path alone.
    #[serde(default = "default_page_params")]
    pub page_params: Vec<String>,
    /// How the site keeps spam out (`[sites.spam]`).
    #[serde(default)]
    pub spam: SpamRules,
    /// The blogger's address, for mail about new comments (`notify`); none: no mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    /// Which new comments the owner is mailed about: `held` (waiting for a moderator, the
    /// default), `each`, `hourly` or `daily` (a digest of every new one), or `none`.
    #[serde(default)]
    pub notify: Notify,
    /// Another period for the digest than `notify` names, such as `"6h"` or `"30m"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_every: Option<String>,
    /// Where the site's events are POSTed (`[[sites.webhooks]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<Webhook>,
    /// Whether pingbacks and trackbacks (imported from WordPress) are listed under the thread,
    /// as WordPress did.
    #[serde(default)]
    pub show_pingbacks: bool,
}

/// A receiver of a site's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// An http or https address.
    pub url: String,
    /// What is sent: `json` (Talkback's events, signed; the default), or a chat message for a
    /// `slack`, `discord` or `telegram` incoming webhook.
    #[serde(default)]
    pub format: HookFormat,
    /// The key of `json` events' signatures (at least 16 characters); never printed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret: String,
    /// Telegram's chat (with `format = "telegram"`; the URL names the bot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    /// Only these events (`comment.created`, `comment.held`, …); empty: every one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// The shape of a webhook's requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookFormat {
    #[default]
    Json,
    Slack,
    Discord,
    Telegram,
}

/// A site's spam defences. Every check runs on the server; readers never solve a puzzle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpamRules {
    /// Comments from the widget carry a proof of work its browser computed while the reader
    /// typed; a comment sent without one (a script posting JSON directly) goes to spam.
    pub proof_of_work: bool,
    /// The proof's difficulty when the site is quiet: the browser tries up to this many hashes,
    /// half of them on average. It grows with the site's write load and for clients whose
    /// recent comments were spam.
    pub pow_max_number: u32,
    /// A comment sent sooner than this many seconds after its form was loaded is held: people
    /// take longer to write one.
    pub min_fill_secs: u64,
    /// Hours a form (its signed token and challenge) stays valid; a comment sent with an
    /// expired one is held.
    pub form_token_hours: u64,
    /// A comment with more links than this is held.
    pub max_links: u32,
    /// The same text posted again anywhere on the site within this many minutes is refused
    /// (and kept as spam); 0 turns the rule off.
    pub duplicate_minutes: u64,
    /// Comments containing any of these words or phrases (case-insensitive) go to spam.
    pub blocked_words: Vec<String>,
    /// Comments from these e-mail addresses, or any address at `@domain`, go to spam.
    pub blocked_emails: Vec<String>,
    /// Comments from these client addresses or networks (`203.0.113.7`, `2001:db8:1:2::/64`)
    /// go to spam.
    pub blocked_addresses: Vec<String>,
    /// Comments whose website or links are on these domains (or below them) go to spam.
    pub blocked_domains: Vec<String>,
    /// The learning filter holds a comment it finds at least this likely spam, in percent;
    /// 0 turns it off.
    pub filter_threshold_percent: u8,
    /// New comments one page takes per minute from everybody together (a burst is refused
    /// with 429); 0 for no limit.
    pub page_burst_per_minute: u32,
}

impl Default for SpamRules {
    fn default() -> Self {
        Self {
            proof_of_work: true,
            pow_max_number: 50_000,
            min_fill_secs: 3,
            form_token_hours: 24,
            max_links: 2,
            duplicate_minutes: 24 * 60,
            blocked_words: Vec::new(),
            blocked_emails: Vec::new(),
            blocked_addresses: Vec::new(),
            blocked_domains: Vec::new(),
            filter_threshold_percent: 80,
            page_burst_per_minute: 10,
        }
    }
}

/// `n` units of `unit_ms` milliseconds, saturating.
fn ms(n: u64, unit_ms: u64) -> i64 {
    i64::try_from(n.saturating_mul(unit_ms)).unwrap_or(i64::MAX)
}

impl SpamRules {
    /// The duplicate rule's window in milliseconds (0: off).
    pub fn duplicate_window_ms(&self) -> i64 {
        ms(self.duplicate_minutes, 60_000)
    }

    /// How long a form token lives, in milliseconds.
    pub fn form_token_ms(&self) -> i64 {
        ms(self.form_token_hours, 3_600_000)
    }

    /// The least time a person takes to write a comment, in milliseconds.
    pub fn min_fill_ms(&self) -> i64 {
        ms(self.min_fill_secs, 1000)
    }

    /// Every check off (tests of other features, and sites that want none).
    pub fn off() -> Self {
        Self {
            proof_of_work: false,
            min_fill_secs: 0,
            max_links: u32::MAX,
            duplicate_minutes: 0,
            filter_threshold_percent: 0,
            page_burst_per_minute: 0,
            ..Self::default()
        }
    }
}

fn default_page_params() -> Vec<String> {
    talkback_api::DEFAULT_PAGE_PARAMS
        .iter()
        .map(|p| (*p).to_owned())
        .collect()
}

impl SiteConfig {
    /// A site with the given id and origins and every other setting at its default.
    pub fn new(id: &str, origins: &[&str]) -> Self {
        Self {
            id: id.to_owned(),
            origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            moderation: Moderation::None,
            page_params: default_page_params(),
            spam: SpamRules::default(),
            owner_email: None,
            notify: Notify::default(),
            digest_every: None,
            webhooks: Vec::new(),
            show_pingbacks: false,
        }
    }

    /// How long the owner's digest collects comments (the first is mailed this long after it
    /// came); `None` when the owner is not mailed digests.
    pub fn digest_period_ms(&self) -> Option<i64> {
        let named = match self.notify {
            Notify::Hourly => 60 * 60 * 1000,
            Notify::Daily => 24 * 60 * 60 * 1000,
            _ => return None,
        };
        Some(
            self.digest_every
                .as_deref()
                .and_then(crate::service::parse_duration)
                .unwrap_or(named),
        )
    }

    /// True when `origin` (`scheme://host[:port]`) is one of the site's, or the server's own:
    /// `host` is the request's `Host`, and pages Talkback serves itself belong to every site.
    pub fn has_origin(&self, origin: &[u8], host: Option<&[u8]>) -> bool {
        self.origins
            .iter()
            .any(|o| o.as_bytes().eq_ignore_ascii_case(origin))
            || is_own_origin(origin, host)
    }
}

/// True when `origin` is the server's own: its host equals the request's `Host`.
pub fn is_own_origin(origin: &[u8], host: Option<&[u8]>) -> bool {
    let Some(host) = host else { return false };
    let rest = std::str::from_utf8(origin)
        .ok()
        .and_then(talkback_api::links::after_web_scheme);
    rest.is_some_and(|r| r.as_bytes() == host)
}

/// Moderation mode of a site (the wire's, so the dashboard and the config file agree).
pub use talkback_api::admin::ModerationMode as Moderation;

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            database: "talkback-data/db".into(),
            cache_mb: 16,
            database_connections: 10,
            assets_dir: None,
            examples_dir: "examples".into(),
            edit_window_secs: 15 * 60,
            rate_limit_per_minute: 20,
            read_rate_limit_per_minute: 300,
            thread_cache_mb: 16,
            trusted_proxies: Vec::new(),
            backup_dir: "".into(),
            backup_interval_secs: 24 * 60 * 60,
            backup_keep: 7,
            change_log_days: 30,
            admin_idle_minutes: 60,
            admin_session_hours: 12,
            shutdown_timeout_secs: 10,
            log_format: LogFormat::Text,
            metrics_allow: Vec::new(),
            live_streams_per_client: 8,
            public_url: String::new(),
            mail: MailConfig::default(),
            sites: vec![SiteConfig::new(
                "demo",
                &["http://localhost:8080", "http://127.0.0.1:8080"],
            )],
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Parse(#[from] Box<figment::Error>),
    #[error("site id {0:?} must be 1-64 letters, digits, '-' or '_'")]
    BadSiteId(String),
    #[error("origin {0:?} must look like https://blog.example or http://host:port (no path)")]
    BadOrigin(String),
    #[error("origin \"*\" is not allowed: list the blog's origins")]
    Wildcard,
    #[error("blocked address {0:?} must be an IP address or a network like 2001:db8::/64")]
    BadBlockedAddress(String),
    #[error("metrics_allow entry {0:?} must be an IP address or a network like 10.0.0.0/8")]
    BadMetricsAddress(String),
    #[error("[mail]: {0}")]
    BadMail(String),
    #[error("a webhook of site {0:?}: {1}")]
    BadWebhook(String, String),
    #[error("public_url {0:?} must be an http or https address like https://comments.example.com")]
    BadPublicUrl(String),
}

/// Where the records live, as `database` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend<'a> {
    /// A sled directory: one server process.
    Sled(&'a Path),
    /// A PostgreSQL URL: any number of servers.
    Postgres(&'a str),
}

impl Config {
    /// Which backend `database` names: a `postgres://` or `postgresql://` URL, else a directory.
    pub fn backend(&self) -> Backend<'_> {
        match self.database.to_str() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Backend::Postgres(url)
            }
            _ => Backend::Sled(&self.database),
        }
    }

    /// The sled directory (`None` on PostgreSQL): where the server also keeps what belongs
    /// beside its database (the command line's access file, uploads being imported).
    pub fn database_dir(&self) -> Option<&Path> {
        match self.backend() {
            Backend::Sled(dir) => Some(dir),
            Backend::Postgres(_) => None,
        }
    }

    /// `database` as messages and logs show it: a URL without its password.
    pub fn database_shown(&self) -> String {
        match self.backend() {
            Backend::Sled(dir) => dir.display().to_string(),
            Backend::Postgres(url) => without_password(url),
        }
    }
}

/// A database URL with its password (between `user:` and `@`) replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

impl Config {
    /// Loads defaults, then the TOML file (if given), then `TALKBACK_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            .merge(
                Env::prefixed("TALKBACK_")
                    .ignore(&["config", "metrics_token", "smtp_username", "smtp_password"])
                    .split("__"),
            )
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML text on top of the defaults, without the environment (for tests).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for address in &self.metrics_allow {
            if crate::service::antispam::parse_network(address).is_none() {
                return Err(ConfigError::BadMetricsAddress(address.clone()));
            }
        }
        for site in &self.sites {
            let ok_id = !site.id.is_empty()
                && site.id.len() <= 64
                && site
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok_id {
                return Err(ConfigError::BadSiteId(site.id.clone()));
            }
            for origin in &site.origins {
                if origin == "*" {
                    return Err(ConfigError::Wildcard);
                }
                match talkback_api::links::after_web_scheme(origin) {
                    Some(host) if !host.is_empty() && !host.contains('/') => {}
                    _ => return Err(ConfigError::BadOrigin(origin.clone())),
                }
            }
            for address in &site.spam.blocked_addresses {
                if crate::service::antispam::parse_network(address).is_none() {
                    return Err(ConfigError::BadBlockedAddress(address.clone()));
                }
            }
            for hook in &site.webhooks {
                crate::notify::check_webhook(hook)
                    .map_err(|why| ConfigError::BadWebhook(site.id.clone(), why))?;
            }
            if let Some(every) = &site.digest_every
                && crate::service::parse_duration(every).is_none()
            {
                return Err(ConfigError::BadMail(format!(
                    "site {}: digest_every {every:?} is not a duration such as \"6h\"",
                    site.id
                )));
            }
            if let Some(owner) = &site.owner_email
                && owner.parse::<lettre::Address>().is_err()
            {
                return Err(ConfigError::BadMail(format!(
                    "owner_email {owner:?} of site {:?} is not an e-mail address",
                    site.id
                )));
            }
        }
        if !self.public_url.is_empty() && !talkback_api::is_web_address(&self.public_url) {
            return Err(ConfigError::BadPublicUrl(self.public_url.clone()));
        }
        crate::notify::check(&self.mail).map_err(ConfigError::BadMail)?;
        Ok(())
    }

    /// This configuration as `talkback config` prints it: webhook secrets hidden.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        for hook in copy.sites.iter_mut().flat_map(|s| s.webhooks.iter_mut()) {
            if !hook.secret.is_empty() {
                hook.secret = "(set)".into();
            }
        }
        copy
    }

    /// The server's address as readers reach it, without a trailing slash.
    pub fn public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}", self.bind)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    pub fn site(&self, id: &str) -> Option<&SiteConfig> {
        self.sites.iter().find(|s| s.id == id)
    }
}

/// The commented configuration `talkback init` writes for a new blog: the server behind a
/// reverse proxy on this machine, one site. Checked by the same rules as any configuration
/// before anyone sees it, so a bad site id or origin is refused here.
pub fn starter(site: &str, origins: &[String]) -> Result<String, ConfigError> {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let origins = origins
        .iter()
        .map(|o| quote(o.trim_end_matches('/')))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"# Talkback's configuration, written by `talkback init`. Every other setting and its default
# is described in examples/talkback.toml of the source (or `talkback config` prints them).
# Start with: talkback --config talkback.toml serve

# Where the server listens. Keep it on loopback and let nginx (or another reverse proxy)
# terminate TLS in front of it: see examples/nginx/talkback.conf.
bind = "127.0.0.1:8080"
# The database directory (created private to the server's user on first start). Relative to
# the working directory: the systemd unit in examples/ runs in /var/lib/talkback.
database = "talkback-data/db"
# The reverse proxy on this machine, whose X-Forwarded-For and X-Forwarded-Proto are believed
# (rate limits then count each reader, and the dashboard's cookie is Secure over HTTPS).
trusted_proxies = ["127.0.0.1", "::1"]
# No demo pages in production.
examples_dir = ""
# Rotated daily backups of every site (gzipped exports); "" for none.
backup_dir = "backups"
# Where readers reach this server (links in mail).
# public_url = "https://comments.example.com"

# Mail about new comments (see owner_email below): a relay, and the sender. The relay's login
# comes from TALKBACK_SMTP_USERNAME and TALKBACK_SMTP_PASSWORD in the environment.
# [mail]
# smtp_url = "smtp://127.0.0.1:25"
# from = "Talkback <comments@blog.example>"

[[sites]]
# The id the blog's snippet names in data-site.
id = {site}
# The blog's own origins (scheme, host and port if not the default): only pages there may
# post comments from a browser.
origins = [{origins}]
# Which comments wait for a moderator: "none", "first_time", "links" or "all".
moderation = "first_time"
# Your address, mailed about comments waiting for you ("held"), every new one ("each"), or
# a digest of them "hourly" or "daily".
# owner_email = "you@blog.example"
# notify = "held"
"#,
        site = quote(site),
    );
    Config::from_toml(&text)?;
    Ok(text)
}
