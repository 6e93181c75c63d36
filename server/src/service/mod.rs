//! The one write path, and the reads behind the reader API.
//!
//! Every change to stored comments and pages goes through [`Service`], whoever asks: the reader
//! API (`comments`), the owner's operations (`owner`) and imports (`transfer`, through
//! [`Batch`]). A write is validated (`content::validate`), checked (edit keys and windows, the
//! site's rules), written together with its change record in one store transaction, flushed,
//! and published: listeners (the thread cache) hear which pages changed before the write is
//! acknowledged, and subscribers of [`Service::changes`] hear the newest change sequence, so
//! consumers of the change log wake up and read it.
//!
//! With `transfer/` and the composition root, this is the only part of the server that uses
//! `talkback-store`; store records become wire types here (`convert`).

mod accounts;
pub mod antispam;
mod bans;
mod comments;
mod consumers;
pub(crate) mod convert;
mod feeds;
mod live;
mod moderation;
mod notices;
mod owner;
mod reads;
mod settings;
mod subscriptions;

use std::collections::BTreeSet;
use std::sync::Arc;

use talkback_api::ErrorCode;
use talkback_store::{CommentRecord, NewComment, ParentProblem, Store, WriteSeq};
use tokio::sync::watch;

pub use accounts::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, SignedIn, valid_name};
pub use bans::parse_duration;
pub use comments::{Provenance, unknown_site};
pub use consumers::{LEASE, LEASE_RETRY, Turns};
pub use feeds::FEED_LIMIT;
pub use live::{CatchUp, Following, Frame};
pub(crate) use moderation::not_permitted;
pub(crate) use moderation::role as moderation_role;
pub use moderation::{Actor, MODERATE_LIMIT};
pub use notices::{Event, EventComment, EventPage, Notice};
pub use owner::OwnerError;
pub use reads::ThreadView;
pub use settings::Settings;
pub use subscriptions::{Purpose, ReaderMail, ReaderMailKind, SubscriptionView};

use crate::config::Config;
use crate::error::Error;
use convert::AvatarKey;

/// A page a write touched.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageRef {
    pub site: String,
    pub key: String,
}

/// Hears which pages changed, once the change is on disk and before it is acknowledged.
pub trait Listener: Send + Sync {
    fn pages_changed(&self, pages: &[PageRef]);
    /// Something true of every page of the site changed (its settings).
    fn site_changed(&self, site: &str);
}

/// The server's comments: every write and every read of them.
pub struct Service {
    store: Arc<dyn Store>,
    config: Config,
    avatar_key: AvatarKey,
    listeners: Vec<Arc<dyn Listener>>,
    published: watch::Sender<u64>,
    antispam: antispam::Antispam,
    metrics: WriteMetrics,
    live: live::Live,
    /// Feeds' and the sidebar's lists until the next change (`feeds.rs`).
    latest_lists: feeds::Latest,
    tokens: subscriptions::Tokens,
    devices: accounts::DeviceKeys,
    /// This server's id among servers sharing a database (whose leases are whose).
    instance: String,
    /// On a shared database: changes this server wrote and already dropped from its caches,
    /// which following the log then skips (so a page read again meanwhile stays cached).
    own_changes: std::sync::Mutex<BTreeSet<u64>>,
}

/// What the write path measures, for `/metrics` (`ops` registers these).
#[derive(Clone)]
pub struct WriteMetrics {
    /// Groups of writes made durable (one per reader's comment, more for an import).
    pub commits: prometheus_client::metrics::counter::Counter,
    /// How long making them durable took (sled's flush, shared by concurrent writers).
    pub flush_seconds: prometheus_client::metrics::histogram::Histogram,
}

impl Default for WriteMetrics {
    fn default() -> Self {
        Self {
            commits: Default::default(),
            flush_seconds: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 16),
            ),
        }
    }
}

impl Service {
    /// A service over `store` for the configured sites: records them and loads (or creates, on
    /// first start) the identicon key.
    pub fn new(
        store: Arc<dyn Store>,
        config: Config,
        listeners: Vec<Arc<dyn Listener>>,
    ) -> Result<Self, talkback_store::Error> {
        for site in &config.sites {
            store.ensure_site(&site.id)?;
        }
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| {
            talkback_store::Error::Internal(format!("no randomness for a secret: {e}"))
        })?;
        let avatar_key = AvatarKey(store.secret("avatar", &fresh)?);
        getrandom::fill(&mut fresh).map_err(|e| {
            talkback_store::Error::Internal(format!("no randomness for a secret: {e}"))
        })?;
        let form_secret = store.secret("form", &fresh)?;
        let antispam = antispam::Antispam::new(&form_secret, antispam::Seed::builtin())?;
        getrandom::fill(&mut fresh).map_err(|e| {
            talkback_store::Error::Internal(format!("no randomness for a secret: {e}"))
        })?;
        let tokens = subscriptions::Tokens::new(&store.secret("subscriptions", &fresh)?)?;
        getrandom::fill(&mut fresh).map_err(|e| {
            talkback_store::Error::Internal(format!("no randomness for a secret: {e}"))
        })?;
        let devices = accounts::DeviceKeys::new(&store.secret("devices", &fresh)?)?;
        remember_recent_bodies(store.as_ref(), &config, &antispam)?;
        let mut instance = [0u8; 8];
        getrandom::fill(&mut instance).map_err(|e| {
            talkback_store::Error::Internal(format!("no randomness for the server's id: {e}"))
        })?;
        let (published, _) = watch::channel(store.last_change()?);
        Ok(Self {
            store,
            config,
            avatar_key,
            listeners,
            published,
            antispam,
            metrics: WriteMetrics::default(),
            live: live::Live::default(),
            latest_lists: feeds::Latest::default(),
            tokens,
            devices,
            instance: hex::encode(instance),
            own_changes: Default::default(),
        })
    }

    /// The configured site, or `unknown_site`.
    pub fn site(&self, id: &str) -> Result<&crate::config::SiteConfig, Error> {
        self.config.site(id).ok_or_else(|| unknown_site(id))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The write path's measurements.
    pub fn write_metrics(&self) -> &WriteMetrics {
        &self.metrics
    }

    /// The anti-spam layers' outcomes as a metric family (site, outcome, reason).
    pub fn spam_metrics(&self) -> &antispam::SpamMetric {
        self.antispam.metric()
    }

    /// Whether the store answers (a read of the change log's head).
    pub fn ready(&self) -> Result<(), talkback_store::Error> {
        self.store.last_change().map(|_| ())
    }

    /// Whether the disk under the store has room for writes, and when it had none.
    pub fn disk(&self) -> talkback_store::DiskState {
        self.store.disk()
    }

    /// Outcomes of the anti-spam layers since the server started, by outcome and reason, on
    /// the sites `actor` may see: per site, and added up.
    pub fn spam_counts(&self, actor: &Actor) -> talkback_api::admin::SpamCounts {
        let mut out = talkback_api::admin::SpamCounts::default();
        for (site, counts) in self.antispam.counts() {
            if !actor.may_see(&site) {
                continue;
            }
            for (key, n) in &counts {
                *out.counts.entry(key.clone()).or_default() += n;
            }
            out.sites.insert(site, counts);
        }
        out
    }

    /// The store, for reads (exports, import bookkeeping, tests); writes go through
    /// [`Service::batch`] or the service's own operations.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The newest change sequence, updated after every published write: consumers of the
    /// change log wait on it, then read `changes_after` their own cursor.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.published.subscribe()
    }

    /// What other servers sharing the database wrote after `cursor` (up to `limit` changes):
    /// their pages leave this server's caches and this server's consumers of the change log
    /// (live updates, …) are woken. Returns the cursor to go on from. Changes this server
    /// wrote itself come by too: their pages were dropped when they were written.
    pub fn follow_others(&self, cursor: u64, limit: usize) -> Result<u64, talkback_store::Error> {
        let changes = match self.store.changes_after(cursor, limit) {
            Ok(changes) => changes,
            // Too far behind to know which pages changed: every page may have.
            Err(talkback_store::Error::Pruned { .. }) => {
                for site in &self.config.sites {
                    for listener in &self.listeners {
                        listener.site_changed(&site.id);
                    }
                }
                return self.store.last_change();
            }
            Err(e) => return Err(e),
        };
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(cursor);
        };
        let own = {
            let mut own = self
                .own_changes
                .lock()
                .map_err(|_| talkback_store::Error::Internal("own changes lock poisoned".into()))?;
            let mine: BTreeSet<u64> = own.range(..=last).copied().collect();
            own.retain(|seq| *seq > last);
            mine
        };
        for change in &changes {
            if change.kind == talkback_store::ChangeKind::SiteChanged {
                for listener in &self.listeners {
                    listener.site_changed(&change.site);
                }
            }
        }
        let pages: BTreeSet<PageRef> = changes
            .iter()
            .filter(|change| {
                !own.contains(&change.seq) && change.kind != talkback_store::ChangeKind::SiteChanged
            })
            .flat_map(|change| {
                live::pages_of(change).into_iter().map(|key| PageRef {
                    site: change.site.clone(),
                    key: key.to_owned(),
                })
            })
            .collect();
        let pages: Vec<PageRef> = pages.into_iter().collect();
        for listener in &self.listeners {
            listener.pages_changed(&pages);
        }
        self.published.send_if_modified(|current| {
            let newer = last > *current;
            *current = (*current).max(last);
            newer
        });
        Ok(last)
    }

    /// Whether other servers may write to the same database (PostgreSQL).
    pub fn shared_store(&self) -> bool {
        self.store.shared()
    }

    /// Starts a group of writes that are flushed and published together.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            service: self,
            seq: None,
            pages: BTreeSet::new(),
        }
    }

    /// Flushes everything written so far (before shutting down).
    pub fn flush_all(&self) -> Result<(), talkback_store::Error> {
        self.store.flush_through(WriteSeq::ALL)
    }

    /// Removes change-log entries older than `change_log_days`; returns how many went.
    pub fn prune_changes(&self, now_ms: i64) -> Result<usize, talkback_store::Error> {
        if self.config.change_log_days == 0 {
            return Ok(0);
        }
        let keep_ms = i64::try_from(self.config.change_log_days.saturating_mul(86_400_000))
            .unwrap_or(i64::MAX);
        self.store.prune_changes(now_ms.saturating_sub(keep_ms))
    }

    fn edit_window_ms(&self) -> i64 {
        i64::try_from(self.config.edit_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

/// Writes that become durable and visible together: each write goes to the store (with its
/// change record) at once; [`Batch::commit`] flushes them all, tells the listeners which pages
/// changed and publishes the newest change. A single write is a batch of one.
pub struct Batch<'a> {
    service: &'a Service,
    seq: Option<WriteSeq>,
    pages: BTreeSet<PageRef>,
}

impl Batch<'_> {
    fn wrote(&mut self, seq: WriteSeq, site: &str, key: &str) {
        self.seq = self.seq.max(Some(seq));
        // On a shared database a write's sequence is its change's (see `follow_others`).
        if self.service.store.shared()
            && seq.0 > 0
            && let Ok(mut own) = self.service.own_changes.lock()
        {
            own.insert(seq.0);
        }
        self.pages.insert(PageRef {
            site: site.to_owned(),
            key: key.to_owned(),
        });
    }

    /// Stores a comment that was already checked (the importers check with the API's rules).
    pub fn insert(&mut self, new: NewComment) -> talkback_store::Result<CommentRecord> {
        let (site, key) = (new.site.clone(), new.page_key.clone());
        let (record, seq) = self.service.store.insert_comment(new)?;
        self.wrote(seq, &site, &key);
        Ok(record)
    }

    /// Locks a thread that was imported locked (the page exists once a comment landed).
    pub fn lock(&mut self, site: &str, key: &str) -> talkback_store::Result<()> {
        match self.service.store.set_locked(site, key, true) {
            Ok((_, seq)) => {
                self.wrote(seq, site, key);
                Ok(())
            }
            // Every comment of the page was skipped: there is no thread to lock.
            Err(talkback_store::Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Makes every write of the batch durable, then invalidates and publishes.
    pub fn commit(self) -> Result<(), talkback_store::Error> {
        let Some(seq) = self.seq else {
            return Ok(());
        };
        let service = self.service;
        let started = std::time::Instant::now();
        service.store.flush_through(seq)?;
        service
            .metrics
            .flush_seconds
            .observe(started.elapsed().as_secs_f64());
        service.metrics.commits.inc();
        let pages: Vec<PageRef> = self.pages.into_iter().collect();
        for listener in &service.listeners {
            listener.pages_changed(&pages);
        }
        let last = service.store.last_change()?;
        service.published.send_if_modified(|current| {
            let newer = last > *current;
            *current = (*current).max(last);
            newer
        });
        Ok(())
    }
}

/// The rate limits' windows shared with other servers, counted in the store.
impl crate::http::limit::SharedCount for Service {
    fn count_use(&self, key: &str, window_ms: i64) -> Result<u32, Error> {
        Ok(self.store.count_use(key, window_ms, 60_000)?)
    }
}

/// What a consumer of the change log does when one change fails: the store being unreachable
/// or full stops the turn (the consumer comes back to this change), anything else (a record
/// that no longer decodes) skips that change alone, so one bad item never stops a consumer
/// for everyone.
pub(crate) fn skip_or_stop(e: Error, consumer: &str, change: u64) -> Result<(), Error> {
    match e {
        Error::Unavailable(_) | Error::Blocking(_) => Err(e),
        e => {
            tracing::warn!(consumer, change, error = %e, "skipped a change that cannot be worked");
            Ok(())
        }
    }
}

impl From<talkback_store::Error> for Error {
    fn from(e: talkback_store::Error) -> Self {
        use talkback_store::{Error as S, Missing};
        match e {
            // Lost a race with a delete between check and write.
            S::NotFound(Missing::Comment(_)) => Error::reader(ErrorCode::CommentNotFound),
            S::NotFound(Missing::Page { .. }) => {
                Error::client(ErrorCode::NotFound, "There is no such page.")
            }
            S::Parent(problem) => parent_error(problem),
            S::Locked => Error::reader(ErrorCode::CommentsClosed),
            // Nothing was written; writes resume on their own once the disk has room.
            e @ (S::Unavailable(_) | S::Full(_)) => Error::Unavailable(Box::new(e)),
            other => Error::Store(Box::new(other)),
        }
    }
}

fn parent_error(problem: ParentProblem) -> Error {
    Error::reader(match problem {
        ParentProblem::Missing => ErrorCode::ParentNotFound,
        ParentProblem::OtherPage => ErrorCode::ParentOnOtherPage,
        ParentProblem::TooDeep => ErrorCode::NestingTooDeep,
    })
}

/// Comments per site whose texts the duplicate rule takes over from the store at start.
const REMEMBERED_AT_START: usize = 2_000;

/// Teaches the duplicate rule the texts each site took within its window, so that a request
/// captured before a restart and replayed after it is still refused.
fn remember_recent_bodies(
    store: &dyn Store,
    config: &Config,
    antispam: &antispam::Antispam,
) -> Result<(), talkback_store::Error> {
    let now = now_ms();
    for site in &config.sites {
        let window = site.spam.duplicate_window_ms();
        if window == 0 {
            continue;
        }
        let recent = store.list_comments(&talkback_store::CommentQuery {
            sites: Some(vec![site.id.clone()]),
            from: Some(now.saturating_sub(window)),
            limit: REMEMBERED_AT_START,
            scan_limit: REMEMBERED_AT_START,
            ..talkback_store::CommentQuery::default()
        })?;
        for listed in recent.items {
            let c = &listed.comment;
            antispam.remember_body(&site.id, &c.body_source, c.created, &site.spam);
        }
    }
    Ok(())
}

/// Milliseconds since 1970 by this machine's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
