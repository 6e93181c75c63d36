//! The one import pipeline every format feeds.
//!
//! Each format parser turns its input into [`SourceThread`]s and reports what it could not
//! read; [`import`] then validates every comment on its own, inserts parents before replies,
//! skips what was imported before (by the comment's id at its source) and reports every
//! comment it leaves out, with the reason. Comments go in through the service's write path
//! (one [`Batch`], flushed and published at the end), each as one store transaction, so an
//! interrupted import leaves whole comments only, and re-running it completes it.

use std::collections::{HashMap, HashSet};

use talkback_api::Block;
use talkback_api::limits::{MAX_BODY_BYTES, MAX_REPLY_DEPTH};
use talkback_store::{NewComment, ParentProblem, Status};

use crate::config::SiteConfig;
use crate::content::{html, tree, validate};
use crate::service::{Batch, Service};

/// One page's comments as read from a source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceThread {
    /// Page key or URL (normalised on import).
    pub page: String,
    pub title: Option<String>,
    pub url: Option<String>,
    /// Closed to new comments (Talkback's own exports).
    pub locked: bool,
    pub comments: Vec<SourceComment>,
}

/// A comment as read from a source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceComment {
    /// Its id at the source, prefixed by the format (e.g. `wp:17`), so that sources never collide.
    pub id: String,
    pub parent: Option<String>,
    pub author: String,
    pub email: Option<String>,
    pub website: Option<String>,
    pub body: SourceBody,
    pub created: i64,
    pub edited: Option<i64>,
    pub status: Status,
    /// The author's IP address, when the source kept it.
    pub ip: Option<String>,
    /// The id an earlier Talkback import gave the same comment, when the format's ids changed
    /// since (WordPress ids are now qualified by their post): found on the same page, it
    /// counts as already present.
    pub legacy_id: Option<String>,
    /// Why a held comment was held (reason codes), kept through exports.
    pub held_for: Vec<String>,
    /// Pinned to the top of its thread (Talkback's own exports).
    pub pinned: bool,
    /// The last edit was a moderator's (Talkback's own exports).
    pub moderator_edit: bool,
}

/// A body in the form its source keeps it.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceBody {
    Markdown(String),
    Html(String),
    /// Talkback's own export: the source text and its already parsed tree.
    Tree {
        source: String,
        tree: Vec<Block>,
    },
}

/// What an import did, item by item.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportReport {
    pub pages: usize,
    /// Comments found in the file: `imported + already_present + skipped.len()` adds up to it.
    pub items: usize,
    pub imported: usize,
    /// Seen in an earlier import (same source id), left alone.
    pub already_present: usize,
    /// (source id or position, reason) for every comment not imported.
    pub skipped: Vec<(String, String)>,
    /// What was wrong with the file as a whole (not UTF-8, truncated, not this format).
    pub problems: Vec<String>,
}

impl ImportReport {
    pub(crate) fn reject(&mut self, id: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push((id.into(), reason.into()));
    }

    pub(crate) fn problem(&mut self, reason: impl Into<String>) {
        self.problems.push(reason.into());
    }

    /// True when every comment in the file is accounted for.
    pub fn adds_up(&self) -> bool {
        self.imported + self.already_present + self.skipped.len() == self.items
    }
}

/// Imports `threads` into `site`; with `dry_run` everything is checked and nothing written.
pub fn import(
    service: &Service,
    site: &SiteConfig,
    threads: Vec<SourceThread>,
    dry_run: bool,
    report: &mut ImportReport,
) -> Result<(), talkback_store::Error> {
    let mut batch = service.batch();
    for thread in threads {
        let key = match validate::page_key(&thread.page, site) {
            Ok(k) => k,
            Err(e) => {
                for c in &thread.comments {
                    report.reject(&c.id, format!("page {:?}: {e}", thread.page));
                }
                continue;
            }
        };
        report.pages += 1;
        let parents: HashSet<&str> = thread
            .comments
            .iter()
            .filter_map(|c| c.parent.as_deref())
            .collect();
        // What earlier imports stored of this thread, in one question to the store.
        let asked: HashSet<&str> = thread
            .comments
            .iter()
            .flat_map(|c| std::iter::once(c.id.as_str()).chain(c.legacy_id.as_deref()))
            .collect();
        let known = service
            .store()
            .comments_by_source(&site.id, &asked.iter().copied().collect::<Vec<_>>())?;
        let mut run = Run {
            store: service.store(),
            batch: &mut batch,
            site,
            key: &key,
            thread: &thread,
            dry_run,
            done: HashMap::new(),
            asked,
            known,
        };
        let by_id: HashMap<&str, &SourceComment> =
            thread.comments.iter().map(|c| (c.id.as_str(), c)).collect();
        let mut order: Vec<&SourceComment> = thread.comments.iter().collect();
        order.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        for c in order {
            if c.status == Status::Deleted && !parents.contains(c.id.as_str()) {
                report.reject(
                    &c.id,
                    "deleted at the source, with no replies to keep it for",
                );
                continue;
            }
            run.place(c, &by_id, report)?;
        }
        if thread.locked && !dry_run {
            batch.lock(&site.id, &key)?;
        }
    }
    batch.commit()
}

struct Run<'a, 'b> {
    store: &'a dyn talkback_store::Store,
    batch: &'a mut Batch<'b>,
    site: &'a SiteConfig,
    key: &'a str,
    thread: &'a SourceThread,
    dry_run: bool,
    /// Source id → store id and depth (`None`: not imported).
    done: HashMap<String, Option<(u64, u32)>>,
    /// The thread's source ids (and legacy ones) asked of the store before it began, and
    /// those it had (source → comment id).
    asked: HashSet<&'a str>,
    known: HashMap<String, u64>,
}

impl Run<'_, '_> {
    /// Imports `c` after its ancestors; returns where it went. The walk up a reply chain is a
    /// loop, not recursion, so a chain of any length in a file is reported, never a crash.
    fn place(
        &mut self,
        c: &SourceComment,
        by_id: &HashMap<&str, &SourceComment>,
        report: &mut ImportReport,
    ) -> Result<Option<(u64, u32)>, talkback_store::Error> {
        let mut chain = vec![c];
        let mut on_chain = HashSet::from([c.id.as_str()]);
        while let Some(last) = chain.last().copied() {
            if self.done.contains_key(&last.id) {
                break;
            }
            let Some(parent) = last.parent.as_deref().and_then(|p| by_id.get(p).copied()) else {
                break;
            };
            if self.done.contains_key(&parent.id) {
                break;
            }
            if !on_chain.insert(parent.id.as_str()) {
                for looped in chain {
                    report.reject(&looped.id, "its reply chain loops back to itself");
                    self.done.insert(looped.id.clone(), None);
                }
                return Ok(None);
            }
            chain.push(parent);
        }
        // From the top down: each comment's parent is decided before it.
        let mut placed = None;
        for c in chain.into_iter().rev() {
            placed = match self.done.get(&c.id) {
                Some(done) => *done,
                None => {
                    let result = self.place_inner(c, by_id, report)?;
                    self.done.insert(c.id.clone(), result);
                    result
                }
            };
        }
        Ok(placed)
    }

    fn place_inner(
        &mut self,
        c: &SourceComment,
        by_id: &HashMap<&str, &SourceComment>,
        report: &mut ImportReport,
    ) -> Result<Option<(u64, u32)>, talkback_store::Error> {
        let parent = match &c.parent {
            None => None,
            Some(p) => {
                let found = if by_id.contains_key(p.as_str()) {
                    self.done.get(p.as_str()).copied().flatten()
                } else {
                    self.existing(p)?
                };
                match found {
                    Some(found) => Some(found),
                    None => {
                        let why = if by_id.contains_key(p.as_str()) {
                            "was not imported"
                        } else {
                            "is missing"
                        };
                        report.reject(&c.id, format!("its parent {p} {why}"));
                        return Ok(None);
                    }
                }
            }
        };
        if let Some(existing) = self.existing(&c.id)?.or(self.legacy(c)?) {
            report.already_present += 1;
            return Ok(Some(existing));
        }
        if parent.is_some_and(|(_, depth)| depth + 1 > MAX_REPLY_DEPTH) {
            report.reject(&c.id, format!("replies nest deeper than {MAX_REPLY_DEPTH}"));
            return Ok(None);
        }
        let new = match self.prepare(c, parent.map(|(id, _)| id)) {
            Ok(new) => new,
            Err(reason) => {
                report.reject(&c.id, reason);
                return Ok(None);
            }
        };
        if self.dry_run {
            report.imported += 1;
            return Ok(Some((0, parent.map_or(0, |(_, d)| d + 1))));
        }
        match self.batch.insert(new) {
            Ok(record) => {
                report.imported += 1;
                Ok(Some((record.id, record.depth)))
            }
            Err(talkback_store::Error::Parent(problem)) => {
                let why = match problem {
                    ParentProblem::Missing => "its parent is hidden (pending or spam)",
                    ParentProblem::OtherPage => "its parent is on another page",
                    ParentProblem::TooDeep => "replies nest too deep",
                };
                report.reject(&c.id, why);
                Ok(None)
            }
            Err(talkback_store::Error::Conflict) => {
                // Stored meanwhile (by another import): ask the store itself.
                report.already_present += 1;
                match self.store.comment_by_source(&self.site.id, &c.id)? {
                    Some(id) => Ok(self.store.comment(id)?.map(|r| (r.id, r.depth))),
                    None => Ok(None),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The comment an earlier import stored under the old form of this comment's id, if it
    /// is on this page (the same id under another post is another comment).
    fn legacy(&self, c: &SourceComment) -> Result<Option<(u64, u32)>, talkback_store::Error> {
        let Some(legacy) = &c.legacy_id else {
            return Ok(None);
        };
        let Some(id) = self.by_source(legacy)? else {
            return Ok(None);
        };
        let page = self.store.page(&self.site.id, self.key)?;
        Ok(self
            .store
            .comment(id)?
            .filter(|r| page.as_ref().is_some_and(|p| p.id == r.page_id))
            .map(|r| (r.id, r.depth)))
    }

    /// The comment stored from `source`, known from the thread's question when it was in it.
    fn by_source(&self, source: &str) -> Result<Option<u64>, talkback_store::Error> {
        if self.asked.contains(source) {
            return Ok(self.known.get(source).copied());
        }
        self.store.comment_by_source(&self.site.id, source)
    }

    fn existing(&self, source: &str) -> Result<Option<(u64, u32)>, talkback_store::Error> {
        match self.by_source(source)? {
            Some(id) => Ok(self.store.comment(id)?.map(|r| (r.id, r.depth))),
            None => Ok(None),
        }
    }

    /// Checks one comment with the API's rules.
    fn prepare(&self, c: &SourceComment, parent: Option<u64>) -> Result<NewComment, String> {
        let reason = |e: crate::error::Error| e.to_string();
        let tombstone = c.status == Status::Deleted;
        let (source, tree) = if tombstone {
            (String::new(), Vec::new())
        } else {
            match &c.body {
                SourceBody::Markdown(md) => validate::body(md).map_err(reason)?,
                SourceBody::Html(html) => {
                    if html.len() > MAX_BODY_BYTES * 4 {
                        return Err(format!(
                            "the body is {} bytes; the limit is {}",
                            html.len(),
                            MAX_BODY_BYTES * 4
                        ));
                    }
                    let tree = html::to_tree(html).ok_or("the body is too large")?;
                    tree::check(&tree).map_err(|e| e.to_string())?;
                    if Block::plain_text(&tree).len() > MAX_BODY_BYTES {
                        return Err(format!("the comment is longer than {MAX_BODY_BYTES} bytes"));
                    }
                    (html.clone(), tree)
                }
                SourceBody::Tree { source, tree } => {
                    tree::check(tree).map_err(|e| format!("its document tree is refused: {e}"))?;
                    (source.clone(), tree.clone())
                }
            }
        };
        if !tombstone && tree.is_empty() {
            return Err("the comment is empty".into());
        }
        // Times from a file can be anything: keep them between 1970 and a day from now.
        let latest = crate::service::now_ms().saturating_add(DAY_MS);
        let created = c.created.clamp(0, latest);
        let edited = c.edited.map(|e| e.clamp(created, latest));
        Ok(NewComment {
            site: self.site.id.clone(),
            page_key: self.key.to_owned(),
            page_title: validate::title(self.thread.title.as_deref()).map_err(reason)?,
            page_url: validate::page_url(self.thread.url.as_deref(), self.site).unwrap_or(None),
            parent,
            max_depth: MAX_REPLY_DEPTH,
            author: if tombstone {
                String::new()
            } else {
                validate::author(Some(&c.author)).map_err(reason)?
            },
            email: validate::email(c.email.as_deref()).unwrap_or(None),
            // A bad website (javascript:, junk) is dropped; the comment itself is still worth keeping.
            website: validate::website(c.website.as_deref()).unwrap_or(None),
            body_source: source,
            body_tree: serde_json::to_string(&tree).map_err(|e| e.to_string())?,
            created,
            status: c.status,
            edit_key_hash: None,
            edited,
            source: Some(c.id.clone()),
            ip: c
                .ip
                .clone()
                .filter(|ip| ip.len() <= 64 && ip.parse::<std::net::IpAddr>().is_ok()),
            held_for: c
                .held_for
                .iter()
                .filter(|r| r.len() <= 64)
                .take(16)
                .cloned()
                .collect(),
            pinned: c.pinned && parent.is_none(),
            moderator_edit: c.moderator_edit,
        })
    }
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
