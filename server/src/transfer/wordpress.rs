//! WordPress WXR (Tools → Export): every `<item>` with its `<wp:comment>`s.
//!
//! Approved `1` → approved, `0` → pending, `spam` → spam, `trash` → not imported (reported);
//! pingbacks and trackbacks are kept as their own status, never shown as reader comments.
//! The post's `<link>` becomes the page key and URL, `<title>` its title; dates are GMT.
//! A comment's source id is `wp:POST:COMMENT` (`wp:COMMENT` before comment ids repeated
//! across posts were seen in real exports; both are recognised on re-import).

use talkback_store::Status;

use super::decode::parse_time;
use super::pipeline::{ImportReport, SourceBody, SourceComment, SourceThread};
use super::xml::{self, El};

pub(crate) fn parse(text: &str, report: &mut ImportReport) -> Vec<SourceThread> {
    let (doc, problem) = xml::parse(text);
    if let Some(problem) = problem {
        report.problem(problem);
    }
    let Some(channel) = doc.child("rss").and_then(|r| r.child("channel")) else {
        report.problem("not a WordPress export: no <rss><channel>");
        return Vec::new();
    };
    channel
        .children("item")
        .filter_map(|item| thread(item, report))
        .collect()
}

fn thread(item: &El, report: &mut ImportReport) -> Option<SourceThread> {
    let comments: Vec<&El> = item.children("wp:comment").collect();
    if comments.is_empty() {
        return None;
    }
    report.items += comments.len();
    let post_id = item.text_of("wp:post_id").unwrap_or_default();
    let Some(link) = item.text_of("link") else {
        for c in &comments {
            report.reject(
                format!(
                    "wp:{post_id}:{}",
                    c.text_of("wp:comment_id").unwrap_or_default()
                ),
                format!("post {post_id} has no <link>"),
            );
        }
        return None;
    };
    // Comment ids are unique per blog, not per export (multisite and merged exports repeat
    // them): a comment is named by its post and its id.
    let post = if post_id.is_empty() {
        link.clone()
    } else {
        post_id.clone()
    };
    let mut out = SourceThread {
        page: link.clone(),
        title: item.text_of("title"),
        url: Some(link),
        locked: false,
        comments: Vec::new(),
    };
    for c in comments {
        let Some(id) = c.text_of("wp:comment_id") else {
            report.reject(
                format!("post {post_id}"),
                "a comment without <wp:comment_id>",
            );
            continue;
        };
        let legacy_id = Some(format!("wp:{id}"));
        let id = format!("wp:{post}:{id}");
        if !c.complete {
            report.reject(&id, "the file ends inside this comment");
            continue;
        }
        let status = match c.text_of("wp:comment_approved").as_deref() {
            Some("1") | Some("approve") => Status::Approved,
            Some("0") | Some("hold") => Status::Pending,
            Some("spam") => Status::Spam,
            Some("trash") | Some("post-trashed") => {
                report.reject(&id, "in the trash");
                continue;
            }
            other => {
                report.reject(&id, format!("unknown approval state {other:?}"));
                continue;
            }
        };
        let status = match c.text_of("wp:comment_type").as_deref() {
            Some("pingback") | Some("trackback") if status == Status::Approved => Status::Pingback,
            _ => status,
        };
        let created = c
            .text_of("wp:comment_date_gmt")
            .and_then(|d| parse_time(&d))
            .or_else(|| c.text_of("wp:comment_date").and_then(|d| parse_time(&d)));
        let Some(created) = created else {
            report.reject(
                &id,
                format!(
                    "unreadable date {:?}",
                    c.text_of("wp:comment_date_gmt").unwrap_or_default()
                ),
            );
            continue;
        };
        let parent = c
            .text_of("wp:comment_parent")
            .filter(|p| p != "0")
            .map(|p| format!("wp:{post}:{p}"));
        out.comments.push(SourceComment {
            id,
            parent,
            author: c.text_of("wp:comment_author").unwrap_or_default(),
            email: c.text_of("wp:comment_author_email"),
            // WordPress writes "http://" for no website; the pipeline's check drops it.
            website: c.text_of("wp:comment_author_url"),
            body: SourceBody::Html(
                c.child("wp:comment_content")
                    .map(|b| b.text.clone())
                    .unwrap_or_default(),
            ),
            created,
            edited: None,
            status,
            ip: c.text_of("wp:comment_author_IP"),
            legacy_id,
            held_for: Vec::new(),
            pinned: false,
            moderator_edit: false,
        });
    }
    Some(out)
}
