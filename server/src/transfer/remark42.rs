//! Remark42 backups and exports: one JSON value per line (gzip or plain). The first line is a
//! header (version, users, posts); every other line is a comment with its `locator` (site and
//! page URL), parent id (`pid`), user, time, `delete` flag, the rendered HTML (`text`) and,
//! when present, the author's Markdown (`orig`), which is preferred.

use std::collections::HashMap;

use serde::Deserialize;
use talkback_store::Status;

use super::decode::parse_time;
use super::pipeline::{ImportReport, SourceBody, SourceComment, SourceThread};

#[derive(Deserialize)]
struct Line {
    id: Option<String>,
    #[serde(default)]
    pid: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    orig: String,
    #[serde(default)]
    user: User,
    locator: Option<Locator>,
    #[serde(default)]
    time: String,
    #[serde(default)]
    delete: bool,
    #[serde(default)]
    title: String,
    edit: Option<Edit>,
}

#[derive(Deserialize, Default)]
struct User {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Locator {
    #[serde(default)]
    url: String,
}

#[derive(Deserialize)]
struct Edit {
    #[serde(default)]
    time: String,
}

/// Accepts the raw file: gzip is detected by its magic bytes.
pub(crate) fn parse(bytes: &[u8], report: &mut ImportReport) -> Vec<SourceThread> {
    let text = match super::decode::gunzip_if_gzip(bytes.to_vec()) {
        Ok(plain) => super::decode::read_text(plain).0,
        Err(e) => {
            report.problem(format!("broken gzip: {e}"));
            String::new()
        }
    };
    let mut threads: HashMap<String, SourceThread> = HashMap::new();
    let mut order = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let line: Line = match serde_json::from_str(raw) {
            Ok(l) => l,
            Err(e) => {
                report.items += 1;
                report.reject(format!("line {}", n + 1), format!("unreadable JSON: {e}"));
                continue;
            }
        };
        let (Some(id), Some(locator)) = (line.id, line.locator) else {
            continue; // the header line (version, users, posts)
        };
        report.items += 1;
        let id = format!("remark42:{id}");
        let Some(created) = parse_time(&line.time) else {
            report.reject(&id, format!("unreadable time {:?}", line.time));
            continue;
        };
        let body = if line.orig.trim().is_empty() {
            SourceBody::Html(line.text)
        } else {
            SourceBody::Markdown(line.orig)
        };
        let comment = SourceComment {
            id,
            parent: (!line.pid.is_empty()).then(|| format!("remark42:{}", line.pid)),
            author: line.user.name,
            email: None,
            website: None,
            body,
            created,
            edited: line.edit.and_then(|e| parse_time(&e.time)),
            status: if line.delete {
                Status::Deleted
            } else {
                Status::Approved
            },
            // Remark42 keeps a hash of the address, not the address.
            ip: None,
            legacy_id: None,
            held_for: Vec::new(),
            pinned: false,
            moderator_edit: false,
        };
        let thread = threads.entry(locator.url.clone()).or_insert_with(|| {
            order.push(locator.url.clone());
            SourceThread {
                page: locator.url.clone(),
                title: None,
                url: Some(locator.url.clone()),
                locked: false,
                comments: Vec::new(),
            }
        });
        if thread.title.is_none() && !line.title.is_empty() {
            thread.title = Some(line.title);
        }
        thread.comments.push(comment);
    }
    order.iter().filter_map(|u| threads.remove(u)).collect()
}
