//! Live updates: a consumer of the change log that tells the followers of a thread what
//! changed on it, each event encoded once as a Server-Sent Events frame and shared by every
//! follower (`api/live` streams them). Readers who reconnect name the last event they saw and
//! get what they missed from the log itself, so nothing is lost between two streams.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use actix_web::web::Bytes;
use prometheus_client::metrics::gauge::Gauge;
use talkback_api::{CommentId, LIVE_EVENT, LIVE_READY, LiveEvent};
use talkback_store::{Change, ChangeKind, Status};
use tokio::sync::broadcast;

use super::{Error, Service, convert};

/// Events a follower may fall behind by before it is told to read the thread again.
const FOLLOWER_BACKLOG: usize = 64;
/// Changes a reconnecting follower's catch-up reads at most (across every site); beyond
/// that it is told to read the thread again.
const CATCH_UP_SCAN: usize = 2_000;
/// Bytes of frames a catch-up holds at most (each stream holds its own backlog); beyond
/// that the follower is told to read the thread again.
const CATCH_UP_BYTES: usize = 256 * 1024;

/// One event, encoded for the wire: `id`, `event` and `data` lines.
#[derive(Debug)]
pub struct Frame {
    pub seq: u64,
    pub bytes: Bytes,
}

impl Frame {
    fn new(seq: u64, event: &LiveEvent) -> Result<Self, Error> {
        let data = serde_json::to_string(event).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Self {
            seq,
            bytes: Bytes::from(format!("id: {seq}\nevent: {LIVE_EVENT}\ndata: {data}\n\n")),
        })
    }

    /// Where a stream stands: every change after `seq` to the followed page will be sent. Sent
    /// on opening and after a catch-up, so the browser has an id to reconnect with even when
    /// nothing changed yet.
    pub fn ready(seq: u64) -> Bytes {
        Bytes::from(format!("id: {seq}\nevent: {LIVE_READY}\ndata: {{}}\n\n"))
    }

    /// "Read the thread again", for a follower that fell behind (no id: it moves no cursor).
    pub fn reload() -> Bytes {
        Bytes::from(format!(
            "event: {LIVE_EVENT}\ndata: {{\"kind\":\"reload\"}}\n\n"
        ))
    }
}

type Channels = HashMap<(String, String), broadcast::Sender<Arc<Frame>>>;

/// Who follows which thread: a page's channel lives while somebody follows it.
#[derive(Default)]
pub(crate) struct Live {
    pages: Arc<Mutex<Channels>>,
    /// Open streams, for `/metrics`.
    followers: Gauge,
}

fn lock(pages: &Mutex<Channels>) -> std::sync::MutexGuard<'_, Channels> {
    // The map only routes events; a panic elsewhere must not stop live updates.
    pages
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Channels> {
        lock(&self.pages)
    }

    /// Whether anybody follows the page now.
    fn followed(&self, site: &str, page: &str) -> bool {
        self.lock()
            .get(&(site.to_owned(), page.to_owned()))
            .is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// Sends to the page's followers; forgets the page once nobody follows it.
    fn send(&self, site: &str, page: &str, frame: &Arc<Frame>) {
        let mut pages = self.lock();
        let key = (site.to_owned(), page.to_owned());
        let gone = pages
            .get(&key)
            .is_some_and(|tx| tx.send(Arc::clone(frame)).is_err());
        if gone {
            pages.remove(&key);
        }
    }
}

/// A follower of a page: its events, and its place in the count of open streams. Leaving
/// drops both, and the page's channel with its last follower (else every page anyone ever
/// followed would keep one for ever).
pub struct Following {
    pub events: broadcast::Receiver<Arc<Frame>>,
    gauge: Gauge,
    pages: Arc<Mutex<Channels>>,
    key: (String, String),
}

impl Drop for Following {
    fn drop(&mut self) {
        self.gauge.dec();
        let mut pages = lock(&self.pages);
        // This follower's receiver is one of the count until it is dropped, after this.
        if pages
            .get(&self.key)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            pages.remove(&self.key);
        }
    }
}

/// What a reconnecting follower missed.
pub enum CatchUp {
    /// Its page's events, and the change the catch-up read up to.
    Frames(VecDeque<Arc<Frame>>, u64),
    /// Too much, or pruned from the log: read the thread again (from this change on).
    Reload(u64),
}

impl Service {
    /// Follows a page: its events from now on, and a place in the followers' count.
    pub fn follow(&self, site: &str, page: &str) -> Following {
        let key = (site.to_owned(), page.to_owned());
        let events = self
            .live
            .lock()
            .entry(key.clone())
            .or_insert_with(|| broadcast::channel(FOLLOWER_BACKLOG).0)
            .subscribe();
        self.live.followers.inc();
        Following {
            events,
            gauge: self.live.followers.clone(),
            pages: Arc::clone(&self.live.pages),
            key,
        }
    }

    /// Pages with a live channel now (each has at least one follower), for tests.
    pub fn followed_pages(&self) -> usize {
        self.live.lock().len()
    }

    /// Open live streams, for `/metrics`.
    pub fn live_followers(&self) -> &Gauge {
        &self.live.followers
    }

    /// The newest change now: where the live consumer starts.
    pub fn last_change(&self) -> Result<u64, Error> {
        Ok(self.store.last_change()?)
    }

    /// Tells followers about the changes after `cursor` (at most `limit`); returns the new
    /// cursor. Changes to pages nobody follows cost no store read.
    pub fn publish_live(&self, cursor: u64, limit: usize) -> Result<u64, Error> {
        let changes = match self.store.changes_after(cursor, limit) {
            Ok(changes) => changes,
            Err(talkback_store::Error::Pruned { .. }) => return self.last_change(),
            Err(e) => return Err(e.into()),
        };
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(cursor);
        };
        for change in &changes {
            for page in pages_of(change) {
                if !self.live.followed(&change.site, page) {
                    continue;
                }
                if let Some(event) = self.live_event(change)? {
                    let frame = Arc::new(Frame::new(change.seq, &event)?);
                    self.live.send(&change.site, page, &frame);
                }
            }
        }
        Ok(last)
    }

    /// What a follower of `page` missed after the change `after`, from the change log.
    pub fn catch_up(&self, site: &str, page: &str, after: u64) -> Result<CatchUp, Error> {
        let changes = match self.store.changes_after(after, CATCH_UP_SCAN + 1) {
            Ok(changes) => changes,
            Err(talkback_store::Error::Pruned { .. }) => {
                return Ok(CatchUp::Reload(self.last_change()?));
            }
            Err(e) => return Err(e.into()),
        };
        if changes.len() > CATCH_UP_SCAN {
            return Ok(CatchUp::Reload(self.last_change()?));
        }
        let upto = changes.last().map_or(after, |c| c.seq);
        let mut frames = VecDeque::new();
        let mut bytes = 0;
        for change in &changes {
            if change.site != site || !pages_of(change).contains(&page) {
                continue;
            }
            if let Some(event) = self.live_event(change)? {
                let frame = Frame::new(change.seq, &event)?;
                bytes += frame.bytes.len();
                if bytes > CATCH_UP_BYTES {
                    return Ok(CatchUp::Reload(self.last_change()?));
                }
                frames.push_back(Arc::new(frame));
            }
        }
        Ok(CatchUp::Frames(frames, upto))
    }

    /// What readers of the thread should see of a change, if anything.
    fn live_event(&self, change: &Change) -> Result<Option<LiveEvent>, Error> {
        let id = change.comment;
        let shown = |status: Status| matches!(status, Status::Approved);
        let record = match id {
            Some(id) => self.store.comment(id)?,
            None => None,
        };
        // What the comment looks like now, to readers.
        let now = |record: &talkback_store::CommentRecord| {
            // Hidden or deleted with replies: a placeholder keeps the replies in place.
            if record.is_visible() || record.children > 0 {
                LiveEvent::Changed {
                    comment: convert::shown(record, &self.avatar_key),
                }
            } else {
                LiveEvent::Removed {
                    id: CommentId(record.id),
                }
            }
        };
        let removed = id.map(|id| LiveEvent::Removed { id: CommentId(id) });
        Ok(match (&change.kind, record) {
            (ChangeKind::Created { status, .. }, Some(record)) if shown(*status) => {
                record.is_visible().then(|| LiveEvent::Added {
                    comment: convert::shown(&record, &self.avatar_key),
                })
            }
            (ChangeKind::Created { .. }, _) => None,
            (ChangeKind::StatusChanged { status, was }, Some(record)) => {
                match (shown(*was), shown(*status)) {
                    (false, true) if record.is_visible() => Some(LiveEvent::Added {
                        comment: convert::shown(&record, &self.avatar_key),
                    }),
                    (true, false) => Some(now(&record)),
                    _ => None,
                }
            }
            (ChangeKind::Edited { status, was }, Some(record)) => {
                (shown(*status) || shown(*was)).then(|| now(&record))
            }
            (ChangeKind::Deleted { .. }, Some(record)) => Some(now(&record)),
            (ChangeKind::Deleted { .. } | ChangeKind::StatusChanged { .. }, None) => removed,
            (ChangeKind::Edited { .. }, None) => removed,
            (
                ChangeKind::PageDeleted { .. }
                | ChangeKind::PageUpdated
                | ChangeKind::Pinned { .. }
                | ChangeKind::PageMoved { .. },
                _,
            ) => Some(LiveEvent::Reload),
            // Not about one thread; readers see the new settings on their next load.
            (ChangeKind::SiteChanged, _) => None,
        })
    }
}

/// The pages a change concerns: its own, and for a move the page it moved to.
pub(crate) fn pages_of(change: &Change) -> Vec<&str> {
    match &change.kind {
        ChangeKind::PageMoved { to, .. } => vec![change.page_key.as_str(), to.as_str()],
        _ => vec![change.page_key.as_str()],
    }
}
