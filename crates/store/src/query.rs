//! The moderator's view of comments: which ones a listing asks for, and the one rule that
//! decides whether a comment matches (every backend applies [`CommentQuery::matches`], or
//! translates it exactly).

use crate::{CommentRecord, PageRecord, Status};

/// A listing of comments, newest first, continued with `before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentQuery {
    /// `None`: every site.
    pub sites: Option<Vec<String>>,
    /// Empty: every status.
    pub statuses: Vec<Status>,
    /// `None`: every page; else the page with this key (a feed of one thread).
    pub page: Option<String>,
    /// Words that must all occur (case-insensitively) in the body, the author's name, e-mail,
    /// website or client address, or the page's key or title.
    pub text: Option<String>,
    /// Created at or after (Unix ms).
    pub from: Option<i64>,
    /// Created before (Unix ms).
    pub to: Option<i64>,
    /// Continue below this comment id.
    pub before: Option<u64>,
    pub limit: usize,
    /// At most this many comments are looked at per call, so a search that matches little
    /// still answers quickly; the listing then says where to go on.
    pub scan_limit: usize,
}

impl Default for CommentQuery {
    fn default() -> Self {
        Self {
            sites: None,
            statuses: Vec::new(),
            page: None,
            text: None,
            from: None,
            to: None,
            before: None,
            limit: 50,
            scan_limit: 20_000,
        }
    }
}

/// A comment with its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub comment: CommentRecord,
    pub page: PageRecord,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentList {
    pub items: Vec<Listed>,
    /// Where the next page starts, when more comments may follow.
    pub next_before: Option<u64>,
}

impl CommentQuery {
    /// Statuses kept in a backend's held index: a listing of only these need not scan
    /// every comment.
    pub const HELD: [Status; 2] = [Status::Pending, Status::Spam];

    /// True when the listing asks only for held comments (the moderation queue).
    pub fn only_held(&self) -> bool {
        !self.statuses.is_empty() && self.statuses.iter().all(|s| Self::HELD.contains(s))
    }

    /// The one rule of a page of a listing, for every backend: `stored` yields candidates
    /// newest first below the cursor (each id with its comment and page, `None` when either
    /// is gone); those that match are kept, up to `limit`, reading at most `scan_limit`.
    pub fn collect(
        &self,
        stored: impl Iterator<Item = crate::Result<(u64, Option<Listed>)>>,
    ) -> crate::Result<CommentList> {
        let mut items = Vec::new();
        let mut last = None;
        for (scanned, entry) in stored.enumerate() {
            if items.len() >= self.limit || scanned >= self.scan_limit {
                return Ok(CommentList {
                    items,
                    next_before: last,
                });
            }
            let (id, listed) = entry?;
            last = Some(id);
            if let Some(listed) = listed.filter(|l| self.matches(&l.comment, &l.page)) {
                items.push(listed);
            }
        }
        Ok(CommentList {
            items,
            next_before: None,
        })
    }

    /// Whether a comment of `page` belongs in the listing (the cursor aside).
    pub fn matches(&self, comment: &CommentRecord, page: &PageRecord) -> bool {
        if let Some(sites) = &self.sites
            && !sites.contains(&page.site)
        {
            return false;
        }
        if !self.statuses.is_empty() && !self.statuses.contains(&comment.status) {
            return false;
        }
        if self.page.as_ref().is_some_and(|key| *key != page.key) {
            return false;
        }
        if self.from.is_some_and(|from| comment.created < from)
            || self.to.is_some_and(|to| comment.created >= to)
        {
            return false;
        }
        let Some(text) = self
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return true;
        };
        // One lowercase copy of everything searchable (fields apart, so no word spans two),
        // then each word is one substring search.
        let fields = [
            Some(comment.body_source.as_str()),
            Some(comment.author.as_str()),
            comment.email.as_deref(),
            comment.website.as_deref(),
            comment.ip.as_deref(),
            Some(page.key.as_str()),
            page.title.as_deref(),
        ];
        let mut haystack = String::with_capacity(comment.body_source.len() + 256);
        for field in fields.into_iter().flatten() {
            haystack.extend(field.chars().flat_map(char::to_lowercase));
            haystack.push('\n');
        }
        text.split_whitespace().all(|word| {
            if word.chars().any(char::is_uppercase) {
                haystack.contains(&word.to_lowercase())
            } else {
                haystack.contains(word)
            }
        })
    }
}
