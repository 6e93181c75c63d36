//! Talkback's own export format, and importing it: the lossless path out of (and back into)
//! the store, used for backups and moves between servers.
//!
//! The format is one JSON document, versioned, with every page of a site and every comment:
//! ids, parents, authors (e-mail included: it is the owner's data), Markdown source and the
//! parsed tree, times and statuses. Comment ids are strings: a comment that was imported
//! keeps the id it had in its source, so export → import into an empty store → export gives
//! byte-identical output, and importing the same file twice adds nothing.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use talkback_api::limits::MAX_REPLY_DEPTH;
use talkback_store::{CommentRecord, CommentStore, NewComment, Status};

use crate::validate;

/// The `format` field of every export.
pub const FORMAT: &str = "talkback-export";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;

/// A whole site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    pub format: String,
    pub version: u32,
    pub site: String,
    pub pages: Vec<ExportPage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportPage {
    pub key: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// Oldest first; a parent always comes before its replies.
    pub comments: Vec<ExportComment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportComment {
    pub id: String,
    #[serde(default)]
    pub parent: Option<String>,
    pub author: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    /// Markdown source; empty for a tombstone.
    pub source: String,
    /// The document tree parsed from `source` (informative: imports re-parse the source).
    pub tree: serde_json::Value,
    pub created: i64,
    #[serde(default)]
    pub edited: Option<i64>,
    pub status: Status,
}

/// Why an export or import failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("storage: {0}")]
    Store(#[from] talkback_store::Error),
    #[error("not a Talkback export: {0}")]
    Format(String),
}

/// Exports every page and comment of `site`, as pretty JSON ending in a newline.
pub fn export(store: &dyn CommentStore, site: &str) -> Result<String, MigrateError> {
    let mut pages = Vec::new();
    for (page, comments) in store.export_site(site)? {
        let ids: HashMap<u64, String> = comments.iter().map(|c| (c.id, export_id(c))).collect();
        let comments = comments
            .iter()
            .map(|c| ExportComment {
                id: export_id(c),
                parent: c
                    .parent
                    .map(|p| ids.get(&p).cloned().unwrap_or_else(|| p.to_string())),
                author: c.author.clone(),
                email: c.email.clone(),
                website: c.website.clone(),
                source: c.body_source.clone(),
                tree: serde_json::from_str(&c.body_tree)
                    .unwrap_or(serde_json::Value::Array(vec![])),
                created: c.created,
                edited: c.edited,
                status: c.status,
            })
            .collect();
        pages.push(ExportPage {
            key: page.key,
            title: page.title,
            url: page.url,
            comments,
        });
    }
    let export = Export {
        format: FORMAT.into(),
        version: VERSION,
        site: site.into(),
        pages,
    };
    let mut text =
        serde_json::to_string_pretty(&export).map_err(|e| MigrateError::Format(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

fn export_id(c: &CommentRecord) -> String {
    c.source.clone().unwrap_or_else(|| c.id.to_string())
}

/// What an import did, item by item.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    /// Seen in an earlier import (same source id), left alone.
    pub already_present: usize,
    /// (comment id, reason) for every comment not imported.
    pub skipped: Vec<(String, String)>,
}

/// Imports an export into `site`. Each comment is validated on its own; a bad one is
/// reported and skipped (with its replies), the rest goes in. With `dry_run` nothing is written.
pub fn import_talkback(
    store: &dyn CommentStore,
    site: &str,
    text: &str,
    dry_run: bool,
) -> Result<ImportReport, MigrateError> {
    let export: Export =
        serde_json::from_str(text).map_err(|e| MigrateError::Format(e.to_string()))?;
    if export.format != FORMAT || export.version != VERSION {
        return Err(MigrateError::Format(format!(
            "expected format {FORMAT:?} version {VERSION}, found {:?} version {}",
            export.format, export.version
        )));
    }
    let mut report = ImportReport::default();
    for page in &export.pages {
        let Ok(key) = validate::page_key(&page.key) else {
            for c in &page.comments {
                report
                    .skipped
                    .push((c.id.clone(), format!("invalid page key {:?}", page.key)));
            }
            continue;
        };
        // Source id → (store id, depth) of what this run or an earlier one imported.
        let mut known: HashMap<&str, Option<(u64, u32)>> = HashMap::new();
        for c in &page.comments {
            let parent = match &c.parent {
                None => None,
                Some(p) => match known.get(p.as_str()) {
                    Some(Some(found)) => Some(*found),
                    Some(None) => {
                        report
                            .skipped
                            .push((c.id.clone(), format!("its parent {p} was not imported")));
                        known.insert(&c.id, None);
                        continue;
                    }
                    None => match store.comment_by_source(site, p)? {
                        Some(id) => store.comment(id)?.map(|r| (r.id, r.depth)),
                        None => {
                            report
                                .skipped
                                .push((c.id.clone(), format!("its parent {p} is missing")));
                            known.insert(&c.id, None);
                            continue;
                        }
                    },
                },
            };
            if let Some(existing) = store.comment_by_source(site, &c.id)? {
                report.already_present += 1;
                known.insert(&c.id, store.comment(existing)?.map(|r| (r.id, r.depth)));
                continue;
            }
            match prepare(site, &key, page, c, parent.map(|(id, _)| id)) {
                Err(reason) => {
                    report.skipped.push((c.id.clone(), reason));
                    known.insert(&c.id, None);
                }
                Ok(_) if dry_run => {
                    report.imported += 1;
                    known.insert(&c.id, Some((0, parent.map_or(0, |(_, d)| d + 1))));
                }
                Ok(new) => match store.insert_comment(new) {
                    Ok((record, _)) => {
                        report.imported += 1;
                        known.insert(&c.id, Some((record.id, record.depth)));
                    }
                    Err(talkback_store::Error::Parent(problem)) => {
                        report
                            .skipped
                            .push((c.id.clone(), format!("parent refused: {problem:?}")));
                        known.insert(&c.id, None);
                    }
                    Err(e) => return Err(e.into()),
                },
            }
        }
    }
    if !dry_run {
        store.flush_through(talkback_store::WriteSeq(u64::MAX))?;
    }
    Ok(report)
}

/// Checks one comment with the same rules as the API (bodies re-parsed with today's parser).
fn prepare(
    site: &str,
    key: &str,
    page: &ExportPage,
    c: &ExportComment,
    parent: Option<u64>,
) -> Result<NewComment, String> {
    let reason = |e: crate::error::Error| e.to_string();
    let tombstone = c.status == Status::Deleted;
    let tree = if tombstone {
        "[]".to_owned()
    } else {
        let (_, tree) = validate::body(&c.source).map_err(reason)?;
        serde_json::to_string(&tree).map_err(|e| e.to_string())?
    };
    Ok(NewComment {
        site: site.to_owned(),
        page_key: key.to_owned(),
        page_title: validate::title(page.title.as_deref()).map_err(reason)?,
        page_url: validate::page_url(page.url.as_deref()).map_err(reason)?,
        parent,
        max_depth: MAX_REPLY_DEPTH,
        author: if tombstone {
            String::new()
        } else {
            validate::author(Some(&c.author)).map_err(reason)?
        },
        email: validate::email(c.email.as_deref()).map_err(reason)?,
        website: validate::website(c.website.as_deref()).map_err(reason)?,
        body_source: if tombstone {
            String::new()
        } else {
            c.source.trim_end().to_owned()
        },
        body_tree: tree,
        created: c.created,
        status: c.status,
        edit_key_hash: None,
        edited: c.edited,
        source: Some(c.id.clone()),
    })
}
