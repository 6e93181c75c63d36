//! Atom and RSS 2.0 feeds of comments. Every text and every comment's HTML (made by the one
//! renderer, `render::body_html`) goes through `render::escape`, which is XML's escaping too;
//! authors appear by name (and website), never by e-mail.

use std::fmt::Write;

use talkback_api::Comment;
use talkback_api::i18n::pages::PageTexts;
use talkback_api::i18n::{self, Strings};

use super::render::{body_html, escape};

/// One comment of a feed, with the page it is on.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub comment: Comment,
    pub page_key: String,
    pub page_title: Option<String>,
    /// The blog's URL of the page, as recorded from its own pages (absent for imports).
    pub page_url: Option<String>,
}

/// What a feed is of.
pub struct FeedHead<'a> {
    pub title: &'a str,
    /// The feed's own URL (also its Atom id).
    pub self_url: &'a str,
    /// The page people read: the post, or the site.
    pub alternate: &'a str,
    pub strings: &'a Strings,
    pub texts: &'a PageTexts,
    /// When nothing is in the feed: its `updated`.
    pub now_ms: i64,
}

/// Where an entry links: the comment on the blog's page, else on the thread page here.
pub fn entry_link(entry: &FeedEntry, thread_page: impl Fn(&str) -> String) -> String {
    let page = entry
        .page_url
        .clone()
        .filter(|u| talkback_api::is_web_address(u))
        .unwrap_or_else(|| thread_page(&entry.page_key));
    format!("{page}#tb-c{}", entry.comment.id)
}

fn entry_title(entry: &FeedEntry, head: &FeedHead<'_>) -> String {
    let author = head
        .strings
        .author_name(&entry.comment.author, entry.comment.deleted);
    let page = entry.page_title.as_deref().unwrap_or(&entry.page_key);
    i18n::fill(
        head.texts.feed_entry_title,
        &[("name", author), ("title", page)],
    )
}

/// Characters of a comment's text a recent-comments list shows.
const EXCERPT_CHARS: usize = 140;

/// The recent-comments list (`data-view="recent"`): who commented on which post, when, and
/// the start of what they wrote, each linking to the comment.
pub fn recent_html(
    entries: &[FeedEntry],
    (strings, texts): (&Strings, &PageTexts),
    now_ms: i64,
    link: impl Fn(&FeedEntry) -> String,
    out: &mut String,
) {
    out.push_str("<section class=\"tb-recent\"><h2 class=\"tb-count\">");
    escape(texts.recent_comments, out);
    out.push_str("</h2><ol class=\"tb-list\">");
    for entry in entries {
        let c = &entry.comment;
        out.push_str("<li class=\"tb-recent-item\">");
        super::render::avatar_svg(&c.avatar, out);
        out.push_str("<div class=\"tb-main\"><a class=\"tb-recent-link\" href=\"");
        escape(&link(entry), out);
        out.push_str("\">");
        let page = entry.page_title.as_deref().unwrap_or(&entry.page_key);
        escape(
            &i18n::fill(
                texts.feed_entry_title,
                &[
                    ("name", strings.author_name(&c.author, c.deleted)),
                    ("title", page),
                ],
            ),
            out,
        );
        out.push_str("</a> <time class=\"tb-time\" datetime=\"");
        escape(&i18n::rfc3339(c.created), out);
        out.push_str("\">");
        escape(&strings.relative_time(now_ms, c.created), out);
        out.push_str("</time><p class=\"tb-recent-excerpt\">");
        let text = talkback_api::Block::plain_text(&c.body);
        match text.char_indices().nth(EXCERPT_CHARS) {
            // Cut at the last space before the limit (within a long word, at the limit).
            Some((end, _)) => {
                let cut = &text[..end];
                let cut = cut.rfind(char::is_whitespace).map_or(cut, |i| &cut[..i]);
                escape(cut.trim_end(), out);
                out.push('…');
            }
            None => escape(&text, out),
        }
        out.push_str("</p></div></li>");
    }
    out.push_str("</ol></section>");
}

/// An Atom 1.0 document.
pub fn atom(
    head: &FeedHead<'_>,
    entries: &[FeedEntry],
    link: impl Fn(&FeedEntry) -> String,
    out: &mut String,
) {
    let updated = entries
        .iter()
        .map(|e| e.comment.edited.unwrap_or(e.comment.created))
        .max()
        .unwrap_or(head.now_ms);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\"><title>",
        head.strings.lang
    );
    escape(head.title, out);
    out.push_str("</title><id>");
    escape(head.self_url, out);
    out.push_str("</id><link rel=\"self\" type=\"application/atom+xml\" href=\"");
    escape(head.self_url, out);
    out.push_str("\"/><link rel=\"alternate\" type=\"text/html\" href=\"");
    escape(head.alternate, out);
    let _ = write!(
        out,
        "\"/><updated>{}</updated><generator>Talkback</generator>",
        i18n::rfc3339(updated)
    );
    for entry in entries {
        let c = &entry.comment;
        let href = link(entry);
        out.push_str("<entry><title>");
        escape(&entry_title(entry, head), out);
        out.push_str("</title><id>");
        escape(&href, out);
        out.push_str("</id><link rel=\"alternate\" type=\"text/html\" href=\"");
        escape(&href, out);
        let _ = write!(
            out,
            "\"/><published>{}</published><updated>{}</updated><author><name>",
            i18n::rfc3339(c.created),
            i18n::rfc3339(c.edited.unwrap_or(c.created))
        );
        escape(head.strings.author_name(&c.author, c.deleted), out);
        out.push_str("</name>");
        if let Some(site) = c
            .website
            .as_deref()
            .filter(|w| talkback_api::is_web_address(w))
        {
            out.push_str("<uri>");
            escape(site, out);
            out.push_str("</uri>");
        }
        out.push_str("</author><content type=\"html\">");
        escape(&html_of(c), out);
        out.push_str("</content></entry>");
    }
    out.push_str("</feed>\n");
    keep_xml_chars(out);
}

/// An RSS 2.0 document.
pub fn rss(
    head: &FeedHead<'_>,
    entries: &[FeedEntry],
    link: impl Fn(&FeedEntry) -> String,
    out: &mut String,
) {
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>");
    escape(head.title, out);
    out.push_str("</title><link>");
    escape(head.alternate, out);
    out.push_str("</link><description>");
    escape(head.title, out);
    let _ = write!(
        out,
        "</description><language>{}</language><atom:link rel=\"self\" type=\"application/rss+xml\" href=\"",
        head.strings.lang
    );
    escape(head.self_url, out);
    out.push_str("\"/><generator>Talkback</generator>");
    for entry in entries {
        let c = &entry.comment;
        let href = link(entry);
        out.push_str("<item><title>");
        escape(&entry_title(entry, head), out);
        out.push_str("</title><link>");
        escape(&href, out);
        out.push_str("</link><guid isPermaLink=\"true\">");
        escape(&href, out);
        let _ = write!(
            out,
            "</guid><pubDate>{}</pubDate><dc:creator>",
            rfc2822(c.created)
        );
        escape(head.strings.author_name(&c.author, c.deleted), out);
        out.push_str("</dc:creator><description>");
        escape(&html_of(c), out);
        out.push_str("</description></item>");
    }
    out.push_str("</channel></rss>\n");
    keep_xml_chars(out);
}

/// Drops what XML 1.0 forbids even escaped (C0 controls but tab and newlines, U+FFFE/FFFF): a
/// reader's body may hold them, and one makes the whole feed unreadable to every feed reader.
fn keep_xml_chars(out: &mut String) {
    out.retain(|c| {
        matches!(c, '\t' | '\n' | '\r')
            || (!matches!(c, '\0'..='\u{1f}') && c != '\u{fffe}' && c != '\u{ffff}')
    });
}

fn html_of(c: &Comment) -> String {
    let mut html = String::new();
    body_html(&c.body, &mut html);
    html
}

/// RSS's date format (RFC 822 as RFC 2822 writes it), in UTC.
fn rfc2822(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string())
        .unwrap_or_default()
}
