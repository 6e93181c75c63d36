//! The newest approved comments of a site, or of one of its pages: what feeds list.

use talkback_store::{CommentQuery, Status};

use super::{Error, Service, convert};
use crate::content::feed::FeedEntry;

/// Feeds list at most this many comments.
pub const FEED_LIMIT: usize = 50;

impl Service {
    /// The newest approved comments of `site` (of one page when `page` is given), newest
    /// first, at most [`FEED_LIMIT`].
    pub fn latest(&self, site: &str, page: Option<&str>) -> Result<Vec<FeedEntry>, Error> {
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
