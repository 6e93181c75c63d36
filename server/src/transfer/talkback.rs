//! Talkback's own format, one more format beside WordPress, Disqus, Isso and Remark42: the
//! lossless path out of (and back into) the store, used for backups and moves between servers.
//!
//! The format is one JSON document, versioned, with every page of a site and every comment:
//! ids, parents, authors (e-mail included: it is the owner's data), Markdown source and the
//! parsed tree, times and statuses. Comment ids are strings: a comment that was imported
//! keeps the id it had in its source, so export → import into an empty store → export gives
//! byte-identical output, and importing the same file twice adds nothing.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use talkback_api::Block;
use talkback_store::{CommentRecord, Status};

use super::pipeline::{self, ImportReport, SourceBody, SourceComment, SourceThread};
use crate::config::SiteConfig;
use crate::service::Service;

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
    /// Closed to new comments.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
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
    /// The author's IP address, when an import recorded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Why a held comment was held (reason codes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_for: Vec<String>,
    /// Pinned to the top of its thread.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// The last edit was a moderator's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moderator_edit: bool,
}

/// Why an export or import failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum TalkbackError {
    #[error("storage: {0}")]
    Store(#[from] talkback_store::Error),
    #[error("not a Talkback export: {0}")]
    Format(String),
}

/// Exports every page and comment of `site`, as pretty JSON ending in a newline.
pub fn export(service: &Service, site: &str) -> Result<String, TalkbackError> {
    export_with(service, site, true)
}

/// [`export`], with the client addresses comments were sent from only when `addresses` (they
/// are for owners: a moderator's export leaves them out).
pub fn export_with(
    service: &Service,
    site: &str,
    addresses: bool,
) -> Result<String, TalkbackError> {
    let mut pages = Vec::new();
    for (page, comments) in service.store().export_site(site)? {
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
                ip: c.ip.clone().filter(|_| addresses),
                held_for: c.held_for.clone(),
                pinned: c.pinned,
                moderator_edit: c.moderator_edit,
            })
            .collect();
        pages.push(ExportPage {
            key: page.key,
            title: page.title,
            url: page.url,
            locked: page.locked,
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
        serde_json::to_string_pretty(&export).map_err(|e| TalkbackError::Format(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

fn export_id(c: &CommentRecord) -> String {
    c.source.clone().unwrap_or_else(|| c.id.to_string())
}

/// Imports an export into `site`. Each comment is validated on its own; a bad one is
/// reported and skipped (with its replies), the rest goes in. With `dry_run` nothing is written.
pub fn import_talkback(
    service: &Service,
    site: &SiteConfig,
    text: &str,
    dry_run: bool,
) -> Result<ImportReport, TalkbackError> {
    let export: Export =
        serde_json::from_str(text).map_err(|e| TalkbackError::Format(e.to_string()))?;
    if export.format != FORMAT || export.version != VERSION {
        return Err(TalkbackError::Format(format!(
            "expected format {FORMAT:?} version {VERSION}, found {:?} version {}",
            export.format, export.version
        )));
    }
    let mut report = ImportReport {
        items: export.pages.iter().map(|p| p.comments.len()).sum(),
        ..ImportReport::default()
    };
    let threads = export
        .pages
        .into_iter()
        .map(|page| SourceThread {
            page: page.key,
            title: page.title,
            url: page.url,
            locked: page.locked,
            comments: page
                .comments
                .into_iter()
                .map(|c| {
                    let body = match serde_json::from_value::<Vec<Block>>(c.tree) {
                        Ok(tree) if !tree.is_empty() || c.status == Status::Deleted => {
                            SourceBody::Tree {
                                source: c.source,
                                tree,
                            }
                        }
                        _ => SourceBody::Markdown(c.source),
                    };
                    SourceComment {
                        id: c.id,
                        parent: c.parent,
                        author: c.author,
                        email: c.email,
                        website: c.website,
                        body,
                        created: c.created,
                        edited: c.edited,
                        status: c.status,
                        ip: c.ip,
                        legacy_id: None,
                        held_for: c.held_for,
                        pinned: c.pinned,
                        moderator_edit: c.moderator_edit,
                    }
                })
                .collect(),
        })
        .collect();
    pipeline::import(service, site, threads, dry_run, &mut report)?;
    Ok(report)
}
