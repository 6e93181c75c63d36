//! Reads behind the reader API: a page of a thread, the next replies under a comment, and
//! counts, each as wire types (e-mail addresses and edit-key hashes never leave the store).

use talkback_api::limits::{REPLIES_PAGE_LIMIT, REPLIES_PER_COMMENT};
use talkback_api::{RepliesResponse, Sort, ThreadResponse, assemble_thread};
use talkback_store::{MoreReplies, Order};

use super::{Service, convert};
use crate::error::Result;

/// A thread query with every value normalised (equal views get equal cache keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadView {
    pub site: String,
    pub page: String,
    pub sort: Sort,
    pub limit: usize,
    pub after: Option<u64>,
}

/// The cursor handed out for more replies: where to continue, and how many came before.
fn replies_cursor(more: &MoreReplies) -> String {
    format!("{}.{}", more.after, more.seen)
}

impl Service {
    /// A page of a thread, and whether the page exists at all (pages that do not are never
    /// cached).
    pub fn thread(&self, view: &ThreadView) -> Result<(ThreadResponse, bool)> {
        let order = match view.sort {
            Sort::Oldest => Order::OldestFirst,
            Sort::Newest => Order::NewestFirst,
        };
        let page = self.store.thread_page(
            &view.site,
            &view.page,
            order,
            view.limit,
            view.after,
            REPLIES_PER_COMMENT,
        )?;
        let key = &self.avatar_key;
        let top = page
            .top_level
            .iter()
            .map(|r| convert::shown(r, key))
            .collect();
        let replies = page
            .replies
            .iter()
            .map(|r| convert::shown(r, key))
            .collect();
        let mut comments = assemble_thread(top, replies);
        for more in &page.more_replies {
            if let Some(c) = comments.iter_mut().find(|c| c.id.0 == more.root) {
                c.more_replies = more.remaining;
                c.replies_cursor = Some(replies_cursor(more));
            }
        }
        let exists = page.page.is_some();
        let read_only = match self.config.site(&view.site) {
            Some(site) => self.settings(site)?.read_only,
            None => false,
        };
        let closed = read_only || page.page.as_ref().is_some_and(|p| p.locked);
        Ok((
            ThreadResponse {
                page: view.page.clone(),
                title: page.page.as_ref().and_then(|p| p.title.clone()),
                total: page.page.as_ref().map_or(0, |p| p.count),
                comments,
                next_cursor: page.next_after.map(|id| id.to_string()),
                closed,
                mail: self.mail_is_on(),
            },
            exists,
        ))
    }

    /// The replies under top-level comment `root` after the cursor ("Show N more replies"), and
    /// whether the page exists.
    pub fn replies(
        &self,
        site: &str,
        page: &str,
        root: u64,
        (after, seen): (u64, u32),
    ) -> Result<(RepliesResponse, bool)> {
        let exists = self.store.page(site, page)?.is_some();
        let run = self
            .store
            .replies_page(site, page, root, after, seen, REPLIES_PAGE_LIMIT)?;
        let replies = run
            .replies
            .iter()
            .map(|r| convert::shown(r, &self.avatar_key))
            .collect();
        Ok((
            RepliesResponse {
                replies,
                more_replies: run.more.map_or(0, |m| m.remaining),
                next_cursor: run.more.as_ref().map(replies_cursor),
            },
            exists,
        ))
    }

    /// Visible comment counts of `page_keys` (already normalised), in their order.
    pub fn counts(&self, site: &str, page_keys: &[String]) -> Result<Vec<u32>> {
        let refs: Vec<&str> = page_keys.iter().map(String::as_str).collect();
        Ok(self.store.counts(site, &refs)?)
    }
}
