//! The newest approved comments of a site, or of one of its pages: what feeds and the
//! recent-comments sidebar list. A list is kept until the store's next change (feed readers
//! and sidebars ask far more often than readers write), and a page that does not exist is
//! answered without a search.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use talkback_store::{CommentQuery, Status};

use super::{Error, Service, convert};
use crate::content::feed::FeedEntry;

/// Feeds list at most this many comments.
pub const FEED_LIMIT: usize = 50;
/// Lists kept at most (by site and page); all are dropped when that many are kept.
const KEPT_LISTS: usize = 512;

/// A site, and one of its pages or all of them.
type Key = (String, Option<String>);
type Lists = HashMap<Key, Arc<Vec<FeedEntry>>>;

/// The lists computed since the store's change `seq`, by site and page.
#[derive(Default)]
pub(crate) struct Latest {
    kept: Mutex<(u64, Lists)>,
}

impl Latest {
    fn get(&self, seq: u64, key: &Key) -> Option<Arc<Vec<FeedEntry>>> {
        let kept = self.kept.lock().ok()?;
        (kept.0 == seq).then(|| kept.1.get(key).cloned()).flatten()
    }

    fn keep(&self, seq: u64, key: Key, list: Arc<Vec<FeedEntry>>) {
        if let Ok(mut kept) = self.kept.lock() {
            if kept.0 != seq || kept.1.len() >= KEPT_LISTS {
                *kept = (seq, HashMap::new());
            }
            kept.1.insert(key, list);
        }
    }
}

impl Service {
    /// The newest approved comments of `site` (of one page when `page` is given), newest
    /// first, at most [`FEED_LIMIT`].
    pub fn latest(&self, site: &str, page: Option<&str>) -> Result<Vec<FeedEntry>, Error> {
        let seq = self.store.last_change()?;
        let key = (site.to_owned(), page.map(str::to_owned));
        if let Some(list) = self.latest_lists.get(seq, &key) {
            return Ok(list.as_ref().clone());
        }
        let list = Arc::new(self.search_latest(site, page)?);
        self.latest_lists.keep(seq, key, Arc::clone(&list));
        Ok(list.as_ref().clone())
    }

    fn search_latest(&self, site: &str, page: Option<&str>) -> Result<Vec<FeedEntry>, Error> {
        if let Some(page) = page
            && self.store.page(site, page)?.is_none()
        {
            return Ok(Vec::new());
        }
        let list = self.store.list_comments(&CommentQuery {
            sites: Some(vec![site.to_owned()]),
            statuses: vec![Status::Approved],
            page: page.map(str::to_owned),
            limit: FEED_LIMIT,
            ..CommentQuery::default()
        })?;
        Ok(list
            .items
            .into_iter()
            .map(|listed| FeedEntry {
                comment: convert::shown(&listed.comment, &self.avatar_key),
                page_key: listed.page.key,
                page_title: listed.page.title,
                page_url: listed.page.url,
            })
            .collect())
    }
}

impl Service {
    /// The pingbacks and trackbacks listed under a thread's first page, oldest first (at most
    /// [`FEED_LIMIT`]), when the site lists them; else (or on a later page) none.
    pub fn pingbacks(&self, view: &super::ThreadView) -> Result<Vec<talkback_api::Comment>, Error> {
        let (site, page) = (view.site.as_str(), view.page.as_str());
        if view.after.is_some() || !self.site(site)?.show_pingbacks {
            return Ok(Vec::new());
        }
        let list = self.store.list_comments(&CommentQuery {
            sites: Some(vec![site.to_owned()]),
            statuses: vec![Status::Pingback],
            page: Some(page.to_owned()),
            limit: FEED_LIMIT,
            ..CommentQuery::default()
        })?;
        let mut shown: Vec<_> = list
            .items
            .iter()
            .map(|listed| convert::comment(&listed.comment, &self.avatar_key))
            .collect();
        shown.reverse();
        Ok(shown)
    }

    /// The blog's URL of a page, as recorded from its own pages (for a canonical link).
    pub fn page_url(&self, site: &str, page: &str) -> Result<Option<String>, Error> {
        Ok(self
            .store
            .page(site, page)?
            .and_then(|p| p.url)
            .filter(|u| talkback_api::is_web_address(u)))
    }
}
