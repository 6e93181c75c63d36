//! Importers: WordPress WXR, Disqus XML, Isso's SQLite database, Remark42 backups and
//! Talkback's own export, all feeding one pipeline.
//!
//! Each format parser turns its input into [`SourceThread`]s and reports what it could not
//! read; [`import`] then validates every comment on its own, inserts parents before replies,
//! skips what was imported before (by the comment's id at its source) and reports every
//! comment it leaves out, with the reason. Each comment goes in as one store transaction, so
//! an interrupted import leaves whole comments only, and re-running it completes it.

pub(crate) mod disqus;
pub(crate) mod html;
pub(crate) mod isso;
pub(crate) mod remark42;
pub(crate) mod wordpress;
mod xml;

use std::collections::{HashMap, HashSet};

use talkback_api::Block;
use talkback_api::limits::{MAX_BODY_BYTES, MAX_REPLY_DEPTH};
use talkback_store::{CommentStore, NewComment, ParentProblem, Status};

use crate::config::SiteConfig;
use crate::validate;

/// One page's comments as read from a source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceThread {
    /// Page key or URL (normalised on import).
    pub page: String,
    pub title: Option<String>,
    pub url: Option<String>,
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
#[derive(Debug, Default, Clone, PartialEq, Eq)]
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
    store: &dyn CommentStore,
    site: &SiteConfig,
    threads: Vec<SourceThread>,
    dry_run: bool,
    report: &mut ImportReport,
) -> Result<(), talkback_store::Error> {
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
        let mut run = Run {
            store,
            site,
            key: &key,
            thread: &thread,
            dry_run,
            done: HashMap::new(),
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
    }
    if !dry_run {
        store.flush_through(talkback_store::WriteSeq(u64::MAX))?;
    }
    Ok(())
}

struct Run<'a> {
    store: &'a dyn CommentStore,
    site: &'a SiteConfig,
    key: &'a str,
    thread: &'a SourceThread,
    dry_run: bool,
    /// Source id → store id and depth (`None`: not imported).
    done: HashMap<String, Option<(u64, u32)>>,
}

impl Run<'_> {
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
        match self.store.insert_comment(new) {
            Ok((record, _)) => {
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
                report.already_present += 1;
                self.existing(&c.id)
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
        let Some(id) = self.store.comment_by_source(&self.site.id, legacy)? else {
            return Ok(None);
        };
        let page = self.store.page(&self.site.id, self.key)?;
        Ok(self
            .store
            .comment(id)?
            .filter(|r| page.as_ref().is_some_and(|p| p.id == r.page_id))
            .map(|r| (r.id, r.depth)))
    }

    fn existing(&self, source: &str) -> Result<Option<(u64, u32)>, talkback_store::Error> {
        match self.store.comment_by_source(&self.site.id, source)? {
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
                    crate::tree::check(&tree).map_err(|e| e.to_string())?;
                    if Block::plain_text(&tree).len() > MAX_BODY_BYTES {
                        return Err(format!("the comment is longer than {MAX_BODY_BYTES} bytes"));
                    }
                    (html.clone(), tree)
                }
                SourceBody::Tree { source, tree } => {
                    crate::tree::check(tree)
                        .map_err(|e| format!("its document tree is refused: {e}"))?;
                    (source.clone(), tree.clone())
                }
            }
        };
        if !tombstone && tree.is_empty() {
            return Err("the comment is empty".into());
        }
        // Times from a file can be anything: keep them between 1970 and a day from now.
        let latest = crate::handlers::now_ms().saturating_add(DAY_MS);
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
        })
    }
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Largest file an import decompresses to: a gzip bomb stops here instead of filling memory.
pub const MAX_DECOMPRESSED_BYTES: u64 = 1024 * 1024 * 1024;

/// The bytes of a file, decompressed when they are gzip (by their magic bytes), at most
/// [`MAX_DECOMPRESSED_BYTES`].
pub fn gunzip_if_gzip(bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
    gunzip_capped(bytes, MAX_DECOMPRESSED_BYTES)
}

pub(crate) fn gunzip_capped(bytes: Vec<u8>, cap: u64) -> std::io::Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            flate2::read::GzDecoder::new(bytes.as_slice()),
            cap.saturating_add(1),
        ),
        &mut out,
    )?;
    if out.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it decompresses to more than {cap} bytes"),
        ));
    }
    Ok(out)
}

/// Reads a file as text: UTF-8, or Windows-1252 when it is not (whatever its declaration says).
pub fn read_text(bytes: Vec<u8>) -> (String, bool) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, false),
        // Windows-1252, not Latin-1: its 0x80–0x9F are curly quotes, dashes and the euro
        // sign ("O’Brien"), where Latin-1 has invisible controls.
        Err(e) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(e.as_bytes());
            (text.into_owned(), true)
        }
    }
}

/// Parses RFC 3339 (`2024-03-14T10:00:00.123+01:00`) or `YYYY-MM-DD HH:MM:SS` (UTC, as
/// WordPress writes it) into Unix milliseconds; dates that do not exist (2024-02-31) are `None`.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Some(at.as_millisecond());
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    let at = jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()?;
    Some(at.as_millisecond())
}

/// The formats `talkback import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Wordpress,
    Disqus,
    Isso,
    Remark42,
    Talkback,
}

/// Why an import could not run at all (per-item problems go in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Migrate(#[from] crate::migrate::MigrateError),
    #[error("storage: {0}")]
    Store(#[from] talkback_store::Error),
}

/// Reads `path` in `format` and imports it into `site`.
pub fn import_file(
    store: &dyn CommentStore,
    site: &SiteConfig,
    format: Format,
    path: &std::path::Path,
    dry_run: bool,
) -> Result<ImportReport, ImportError> {
    let read = || {
        std::fs::read(path).map_err(|source| ImportError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let mut report = ImportReport::default();
    let threads = match format {
        Format::Talkback => {
            let bytes = gunzip_if_gzip(read()?).map_err(|source| ImportError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let text = read_text(bytes).0;
            return Ok(crate::migrate::import_talkback(
                store, site, &text, dry_run,
            )?);
        }
        Format::Wordpress | Format::Disqus => {
            let (text, recoded) = read_text(read()?);
            if recoded {
                report.problem("not UTF-8: read as Windows-1252 (check names and accents)");
            }
            // The declared encoding is ignored: the bytes decide (exports often declare wrongly).
            if format == Format::Wordpress {
                wordpress::parse(&text, &mut report)
            } else {
                disqus::parse(&text, &mut report)
            }
        }
        Format::Isso => isso::parse(path, &mut report),
        Format::Remark42 => remark42::parse(&read()?, &mut report),
    };
    import(store, site, threads, dry_run, &mut report)?;
    Ok(report)
}
