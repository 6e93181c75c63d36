//! Disqus export XML: `<thread>`s (link, title) and `<post>`s pointing at them, with parents,
//! authors and deleted/spam flags. Bodies are HTML.

use std::collections::HashMap;

use talkback_store::Status;

use super::decode::parse_time;
use super::pipeline::{ImportReport, SourceBody, SourceComment, SourceThread};
use super::xml::{self, El};

pub(crate) fn parse(text: &str, report: &mut ImportReport) -> Vec<SourceThread> {
    let (doc, problem) = xml::parse(text);
    if let Some(problem) = problem {
        report.problem(problem);
    }
    let Some(root) = doc.child("disqus") else {
        report.problem("not a Disqus export: no <disqus> root");
        return Vec::new();
    };
    let mut threads: HashMap<String, SourceThread> = HashMap::new();
    let mut order = Vec::new();
    for t in root.children("thread") {
        let (Some(id), Some(link)) = (t.attr("dsq:id"), t.text_of("link")) else {
            continue;
        };
        order.push(id.to_owned());
        threads.insert(
            id.to_owned(),
            SourceThread {
                page: link.clone(),
                title: t.text_of("title"),
                url: Some(link),
                locked: false,
                comments: Vec::new(),
            },
        );
    }
    for p in root.children("post") {
        report.items += 1;
        if let Some(c) = post(p, report) {
            let thread_id = p
                .child("thread")
                .and_then(|t| t.attr("dsq:id"))
                .unwrap_or_default();
            match threads.get_mut(thread_id) {
                Some(t) => t.comments.push(c.1),
                None => report.reject(&c.0, format!("its thread {thread_id} is not in the file")),
            }
        }
    }
    order
        .iter()
        .filter_map(|id| threads.remove(id))
        .filter(|t| !t.comments.is_empty())
        .collect()
}

fn post(p: &El, report: &mut ImportReport) -> Option<(String, SourceComment)> {
    let Some(dsq_id) = p.attr("dsq:id") else {
        report.reject("post", "a post without dsq:id");
        return None;
    };
    let id = format!("disqus:{dsq_id}");
    if !p.complete {
        report.reject(&id, "the file ends inside this post");
        return None;
    }
    let flag = |name: &str| p.text_of(name).is_some_and(|v| v == "true");
    let status = if flag("isSpam") {
        Status::Spam
    } else if flag("isDeleted") {
        Status::Deleted
    } else {
        Status::Approved
    };
    let Some(created) = p.text_of("createdAt").and_then(|d| parse_time(&d)) else {
        report.reject(
            &id,
            format!(
                "unreadable date {:?}",
                p.text_of("createdAt").unwrap_or_default()
            ),
        );
        return None;
    };
    let author = p.child("author");
    let comment = SourceComment {
        id: id.clone(),
        parent: p
            .child("parent")
            .and_then(|e| e.attr("dsq:id"))
            .map(|pid| format!("disqus:{pid}")),
        author: author.and_then(|a| a.text_of("name")).unwrap_or_default(),
        email: author.and_then(|a| a.text_of("email")),
        website: None,
        body: SourceBody::Html(
            p.child("message")
                .map(|m| m.text.clone())
                .unwrap_or_default(),
        ),
        created,
        edited: None,
        status,
        ip: p.text_of("ipAddress"),
        legacy_id: None,
        held_for: Vec::new(),
        pinned: false,
        moderator_edit: false,
    };
    Some((id, comment))
}
