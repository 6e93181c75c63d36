//! The one producer of comment HTML: renders document trees and threads with every text node
//! and attribute escaped. Used for the first paint before the widget's WASM arrives, the no-JS
//! fallback, and later feeds and e-mail. Nothing a reader wrote reaches HTML any other way.

use std::fmt::Write;

use talkback_api::i18n::{self, Strings};
use talkback_api::limits::{COLLAPSE_REPLIES_OVER, COLLAPSED_REPLIES_SHOWN, VISUAL_DEPTH};
use talkback_api::{Block, Comment, Identicon, Inline, ThreadResponse};

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

/// Renders the first page of a thread as the static markup the loader shows before the
/// widget's WASM arrives. Structure, class names and collapsing rules match the widget's, so
/// its takeover does not move anything.
pub fn thread_html(
    (thread, pingbacks): (&ThreadResponse, &[Comment]),
    strings: &Strings,
    now_ms: i64,
    shell: Shell,
    out: &mut String,
) {
    thread_with((thread, pingbacks), strings, now_ms, Err(shell), out);
}

/// What a first paint holds besides the comments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    /// The thread alone (snapshots baked into pages, where a form could not work).
    Thread,
    /// Also the comment form as the widget draws it, inert: the embed script shows it until the
    /// widget has loaded and then hands over what the reader typed into it.
    WithForm,
}

/// Where a thread's controls lead on the page for readers without JavaScript: every reply
/// loaded is shown (nothing collapses), "Reply" and "Load more" are links.
pub struct Links<'a> {
    /// The page with the form set to answer comment `id`.
    pub reply: &'a dyn Fn(u64) -> String,
    /// The next page of the thread, if there is one.
    pub more: Option<String>,
}

/// The thread as [`thread_html`] renders it, with working links for a page of its own.
pub fn thread_document(
    (thread, pingbacks): (&ThreadResponse, &[Comment]),
    strings: &Strings,
    now_ms: i64,
    links: &Links<'_>,
    out: &mut String,
) {
    thread_with((thread, pingbacks), strings, now_ms, Ok(links), out);
}

/// `page`: a page of its own (its links), or a first paint (and what it holds).
fn thread_with(
    (thread, pingbacks): (&ThreadResponse, &[Comment]),
    strings: &Strings,
    now_ms: i64,
    page: Result<&Links<'_>, Shell>,
    out: &mut String,
) {
    let links = page.ok();
    out.push_str("<section class=\"tb-thread\"><header class=\"tb-head\" part=\"header\"><h2 class=\"tb-count\">");
    escape(
        &strings.count_heading(thread.total, thread.title.as_deref()),
        out,
    );
    out.push_str("</h2></header><ol class=\"tb-list\">");
    for comment in &thread.comments {
        comment_html(comment, 0, None, strings, now_ms, links, out);
    }
    out.push_str("</ol>");
    match links.and_then(|l| l.more.as_deref()) {
        Some(href) => {
            out.push_str("<p class=\"tb-more\"><a class=\"tb-btn\" href=\"");
            escape(href, out);
            out.push_str("\">");
            escape(strings.load_more, out);
            out.push_str("</a></p>");
        }
        None if thread.next_cursor.is_some() && links.is_none() => {
            out.push_str("<p class=\"tb-more\"><span class=\"tb-btn\">");
            escape(strings.load_more, out);
            out.push_str("</span></p>");
        }
        None => {}
    }
    pingbacks_html(pingbacks, strings, now_ms, out);
    if matches!(page, Err(Shell::WithForm)) {
        form_shell(thread.closed, strings, out);
    }
    out.push_str("</section>");
}

/// Pingbacks and trackbacks as WordPress listed them: a compact list under the comments, each
/// the linking page's name (and address, as a nofollow link) and when it linked.
fn pingbacks_html(pingbacks: &[Comment], strings: &Strings, now_ms: i64, out: &mut String) {
    if pingbacks.is_empty() {
        return;
    }
    let texts = talkback_api::i18n::pages::PageTexts::for_lang(strings.lang);
    out.push_str("<div class=\"tb-pingbacks\"><h3 class=\"tb-form-title\">");
    escape(
        &match pingbacks.len() {
            1 => texts.pingbacks_one.to_owned(),
            n => i18n::fill(texts.pingbacks_many, &[("n", &n.to_string())]),
        },
        out,
    );
    out.push_str("</h3><ol class=\"tb-list\">");
    for p in pingbacks {
        let name = strings.author_name(&p.author, p.deleted);
        out.push_str("<li>");
        match p
            .website
            .as_deref()
            .filter(|w| talkback_api::is_web_address(w))
        {
            Some(site) => {
                out.push_str("<a rel=\"nofollow ugc noopener\" target=\"_blank\" href=\"");
                escape(site, out);
                out.push_str("\">");
                escape(name, out);
                out.push_str("</a>");
            }
            None => escape(name, out),
        }
        out.push_str(" <time class=\"tb-time\" datetime=\"");
        escape(&i18n::rfc3339(p.created), out);
        out.push_str("\">");
        escape(&strings.relative_time(now_ms, p.created), out);
        out.push_str("</time></li>");
    }
    out.push_str("</ol></div>");
}

/// The widget's comment form (`widget/src/view/form.rs`), same elements, classes and ids, so the
/// widget replaces it without a jump and the embed script can carry typed text over by id.
fn form_shell(closed: bool, strings: &Strings, out: &mut String) {
    if closed {
        out.push_str("<p class=\"tb-notice\" role=\"status\">");
        escape(strings.comments_closed, out);
        out.push_str("</p>");
        return;
    }
    out.push_str("<form class=\"tb-form\" part=\"form\" novalidate><div class=\"tb-form-head\"><h3 class=\"tb-form-title\">");
    escape(strings.leave_reply, out);
    out.push_str("</h3></div><div class=\"tb-field tb-field-body\"><div class=\"tb-body-head\"><label for=\"tb-body-top\">");
    escape(strings.comment, out);
    out.push_str("</label><span class=\"tb-tabs\"><button type=\"button\" class=\"tb-btn tb-link\" aria-pressed=\"true\">");
    escape(strings.write, out);
    out.push_str(
        "</button><button type=\"button\" class=\"tb-btn tb-link\" aria-pressed=\"false\">",
    );
    escape(strings.preview, out);
    out.push_str("</button></span></div><textarea id=\"tb-body-top\" part=\"textarea\" rows=\"6\" aria-describedby=\"tb-hint-top\"></textarea><p class=\"tb-hint\" id=\"tb-hint-top\">");
    escape(strings.markdown_hint, out);
    out.push_str("</p></div><div class=\"tb-fields\">");
    for (label, note, kind, key, autocomplete) in [
        (strings.name, None, "text", "name", "name"),
        (
            strings.email,
            Some(strings.email_note),
            "email",
            "email",
            "email",
        ),
        (strings.website, None, "url", "website", "url"),
    ] {
        let _ = write!(out, "<p class=\"tb-field\"><label for=\"tb-{key}-top\">");
        escape(label, out);
        if let Some(note) = note {
            out.push_str(" <span class=\"tb-note\">");
            escape(note, out);
            out.push_str("</span>");
        }
        let _ = write!(
            out,
            "</label><input id=\"tb-{key}-top\" type=\"{kind}\" part=\"input\" autocomplete=\"{autocomplete}\"></p>"
        );
    }
    out.push_str("</div><p class=\"tb-submit\"><button type=\"submit\" class=\"tb-btn tb-primary\" part=\"button\">");
    escape(strings.post, out);
    out.push_str("</button></p></form>");
}

fn comment_html(
    c: &Comment,
    depth: usize,
    in_reply_to: Option<&str>,
    strings: &Strings,
    now_ms: i64,
    links: Option<&Links<'_>>,
    out: &mut String,
) {
    let _ = write!(
        out,
        "<li class=\"tb-comment\" id=\"tb-c{}\"><article class=\"tb-card\" part=\"comment\">",
        c.id
    );
    if c.deleted {
        out.push_str("<div class=\"tb-main\"><p class=\"tb-tombstone\">");
        escape(strings.tombstone, out);
        out.push_str("</p></div>");
    } else {
        avatar_svg(&c.avatar, out);
        out.push_str("<div class=\"tb-main\"><header class=\"tb-meta\" part=\"meta\">");
        let name = strings.author_name(&c.author, c.deleted);
        match c
            .website
            .as_deref()
            .filter(|w| talkback_api::is_web_address(w))
        {
            Some(site) => {
                out.push_str("<a class=\"tb-author\" part=\"author\" rel=\"nofollow ugc noopener\" target=\"_blank\" href=\"");
                escape(site, out);
                out.push_str("\">");
                escape(name, out);
                out.push_str("</a>");
            }
            None => {
                out.push_str("<span class=\"tb-author\" part=\"author\">");
                escape(name, out);
                out.push_str("</span>");
            }
        }
        out.push_str(" <time class=\"tb-time\" datetime=\"");
        escape(&i18n::rfc3339(c.created), out);
        out.push_str("\" title=\"");
        escape(&i18n::iso_datetime(c.created), out);
        out.push_str("\">");
        escape(&strings.relative_time(now_ms, c.created), out);
        out.push_str("</time>");
        if c.pinned {
            out.push_str(" <span class=\"tb-pinned\">");
            escape(strings.pinned, out);
            out.push_str("</span>");
        }
        if c.edited.is_some() {
            out.push_str(" <span class=\"tb-edited\">");
            escape(strings.edited_label(c.moderator_edit), out);
            out.push_str("</span>");
        }
        if let Some(parent) = in_reply_to {
            out.push_str(" <span class=\"tb-inreply\">");
            escape(&i18n::fill(strings.in_reply_to, &[("name", parent)]), out);
            out.push_str("</span>");
        }
        out.push_str("</header><div class=\"tb-body\" part=\"body\">");
        body_html(&c.body, out);
        match links {
            Some(links) => {
                out.push_str(
                    "</div><footer class=\"tb-actions\"><a class=\"tb-btn tb-link\" href=\"",
                );
                escape(&(links.reply)(c.id.0), out);
                out.push_str("\">");
                escape(strings.reply, out);
                out.push_str("</a></footer></div>");
            }
            None => {
                out.push_str("</div><footer class=\"tb-actions\"><span class=\"tb-btn tb-link\">");
                escape(strings.reply, out);
                out.push_str("</span></footer></div>");
            }
        }
    }
    out.push_str("</article>");
    if depth + 1 >= VISUAL_DEPTH {
        // At the depth cap, every descendant is listed flat under this comment.
        let mut flat = Vec::new();
        flatten(c, &mut flat);
        flat.sort_by_key(|(r, _)| r.id);
        replies_html(
            flat.iter()
                .map(|(r, p)| (*r, Some(strings.author_name(&p.author, p.deleted)))),
            flat.len(),
            c.more_replies as usize,
            depth,
            (strings, now_ms, links),
            out,
        );
    } else {
        replies_html(
            c.replies.iter().map(|r| (r, None)),
            c.replies.len(),
            c.more_replies as usize,
            depth,
            (strings, now_ms, links),
            out,
        );
    }
    out.push_str("</li>");
}

/// Lists replies, collapsing long lists; `more` are replies the server has not sent yet
/// (under a top-level comment), counted in the "show more" button like hidden ones.
fn replies_html<'a>(
    replies: impl Iterator<Item = (&'a Comment, Option<&'a str>)>,
    len: usize,
    more: usize,
    depth: usize,
    (strings, now_ms, links): (&Strings, i64, Option<&Links<'_>>),
    out: &mut String,
) {
    if len == 0 {
        return;
    }
    let shown = if links.is_none() && len + more > COLLAPSE_REPLIES_OVER {
        COLLAPSED_REPLIES_SHOWN.min(len)
    } else {
        len
    };
    out.push_str("<ol class=\"tb-replies\">");
    for (reply, parent) in replies.take(shown) {
        comment_html(reply, depth + 1, parent, strings, now_ms, links, out);
    }
    out.push_str("</ol>");
    if shown < len + more {
        out.push_str("<p class=\"tb-more-replies\"><span class=\"tb-btn tb-link\">");
        escape(&strings.more_replies(len + more - shown), out);
        out.push_str("</span></p>");
    }
}

/// Every descendant of `c` with the comment it answers (the caller sorts once).
fn flatten<'a>(c: &'a Comment, out: &mut Vec<(&'a Comment, &'a Comment)>) {
    for reply in &c.replies {
        out.push((reply, c));
        flatten(reply, out);
    }
}

/// The identicon as inline SVG, drawn from the seed exactly as the widget draws it.
pub fn avatar_svg(seed: &str, out: &mut String) {
    let icon = Identicon::from_seed(seed);
    let _ = write!(
        out,
        "<svg class=\"tb-avatar\" part=\"avatar\" viewBox=\"-1 -1 7 7\" aria-hidden=\"true\"><rect x=\"-1\" y=\"-1\" width=\"7\" height=\"7\" fill=\"hsl({} 45% 92%)\"/><g fill=\"hsl({} 55% 45%)\">",
        icon.hue, icon.hue
    );
    for (x, y) in icon.filled() {
        let _ = write!(out, "<rect x=\"{x}\" y=\"{y}\" width=\"1\" height=\"1\"/>");
    }
    out.push_str("</g></svg>");
}
