//! The one producer of comment HTML: renders document trees and threads with every text node
//! and attribute escaped. Used for the first paint before the widget's WASM arrives, the no-JS
//! fallback, and later feeds and e-mail. Nothing a reader wrote reaches HTML any other way.

use std::fmt::Write;

use talkback_api::{Block, Comment, Inline};

/// Escapes text for use in element content and double- or single-quoted attributes.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Renders a comment body.
pub fn body_html(blocks: &[Block], out: &mut String) {
    for block in blocks {
        match block {
            Block::Paragraph(inl) => {
                out.push_str("<p>");
                inlines_html(inl, out);
                out.push_str("</p>");
            }
            Block::Heading(inl) => {
                out.push_str("<p><strong>");
                inlines_html(inl, out);
                out.push_str("</strong></p>");
            }
            Block::CodeBlock(text) => {
                out.push_str("<pre><code>");
                escape(text, out);
                out.push_str("</code></pre>");
            }
            Block::Quote(blocks) => {
                out.push_str("<blockquote>");
                body_html(blocks, out);
                out.push_str("</blockquote>");
            }
            Block::List { start, items } => {
                match start {
                    Some(1) => out.push_str("<ol>"),
                    Some(n) => {
                        let _ = write!(out, "<ol start=\"{n}\">");
                    }
                    None => out.push_str("<ul>"),
                }
                for item in items {
                    out.push_str("<li>");
                    body_html(&item.0, out);
                    out.push_str("</li>");
                }
                out.push_str(if start.is_some() { "</ol>" } else { "</ul>" });
            }
            Block::Rule => out.push_str("<hr>"),
        }
    }
}

fn inlines_html(inlines: &[Inline], out: &mut String) {
    for inline in inlines {
        match inline {
            Inline::Text(t) => escape(t, out),
            Inline::Code(t) => {
                out.push_str("<code>");
                escape(t, out);
                out.push_str("</code>");
            }
            Inline::Emph(c) => wrap("em", c, out),
            Inline::Strong(c) => wrap("strong", c, out),
            Inline::Strike(c) => wrap("del", c, out),
            Inline::Link { href, children } => {
                out.push_str("<a href=\"");
                escape(href, out);
                out.push_str("\" rel=\"nofollow ugc noopener noreferrer\" target=\"_blank\">");
                inlines_html(children, out);
                out.push_str("</a>");
            }
            Inline::LineBreak => out.push_str("<br>"),
        }
    }
}

fn wrap(tag: &str, children: &[Inline], out: &mut String) {
    let _ = write!(out, "<{tag}>");
    inlines_html(children, out);
    let _ = write!(out, "</{tag}>");
}

/// Renders a page of a thread as the static markup the widget's first paint shows.
/// The structure and class names match the widget's, so the takeover does not jump.
pub fn thread_html(comments: &[Comment], out: &mut String) {
    out.push_str("<ol class=\"tb-list\">");
    for comment in comments {
        comment_html(comment, out);
    }
    out.push_str("</ol>");
}

fn comment_html(c: &Comment, out: &mut String) {
    let _ = write!(
        out,
        "<li class=\"tb-comment\" id=\"tb-c{}\"><article class=\"tb-card\">",
        c.id
    );
    if c.deleted {
        out.push_str("<p class=\"tb-tombstone\">This comment was deleted.</p>");
    } else {
        out.push_str(
            "<header class=\"tb-meta\"><span class=\"tb-avatar\"></span><span class=\"tb-author\">",
        );
        escape(&c.author, out);
        out.push_str("</span></header><div class=\"tb-body\">");
        body_html(&c.body, out);
        out.push_str("</div>");
    }
    out.push_str("</article>");
    if !c.replies.is_empty() {
        out.push_str("<ol class=\"tb-replies\">");
        for reply in &c.replies {
            comment_html(reply, out);
        }
        out.push_str("</ol>");
    }
    out.push_str("</li>");
}
