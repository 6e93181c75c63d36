//! The blogger's mail about one comment: plain text with an HTML alternative made by the one
//! escaping renderer, a link to the comment on its page and into the dashboard, and a
//! Message-ID made of the change and the comment (the idempotency key: a mail sent again after
//! a restart is the same mail). Whatever a reader wrote reaches headers only through lettre's
//! encoders, after control characters are dropped, so no CR or LF can start a header.

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use crate::content::render::{body_html, escape};
use crate::service::Notice;

/// Text for a header: no control characters, at most `max` characters.
fn header_text(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The comment's address on its page (the blog's, else the thread page here).
fn comment_link(notice: &Notice, public_url: &str) -> String {
    let page = notice.page_url.clone().unwrap_or_else(|| {
        format!(
            "{public_url}/t/{}?page={}",
            notice.site,
            crate::pages::query_value(&notice.page_key)
        )
    });
    format!("{page}#tb-c{}", notice.comment.id)
}

pub fn compose(
    notice: &Notice,
    public_url: &str,
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
) -> Result<lettre::Message, String> {
    let author = if notice.comment.author.trim().is_empty() {
        "Anonymous".to_owned()
    } else {
        header_text(&notice.comment.author, 100)
    };
    let title = header_text(
        notice.page_title.as_deref().unwrap_or(&notice.page_key),
        150,
    );
    let subject = if notice.held {
        format!(
            "[{}] Awaiting moderation: {author} on “{title}”",
            notice.site
        )
    } else {
        format!("[{}] New comment by {author} on “{title}”", notice.site)
    };
    let link = comment_link(notice, public_url);
    let dashboard = format!("{public_url}/admin");
    let mut html_body = String::new();
    body_html(&notice.comment.body, &mut html_body);
    let source = &notice.body_source;

    let mut text = format!("{author} wrote on “{title}”:\n\n{source}\n\n");
    let mut html = String::from("<p>");
    escape(&author, &mut html);
    html.push_str(" wrote on “");
    escape(&title, &mut html);
    html.push_str("”:</p><blockquote>");
    html.push_str(&html_body);
    html.push_str("</blockquote>");
    if notice.held {
        let reasons = notice.held_for.join(", ");
        text.push_str(&format!(
            "It waits for a moderator ({reasons}). Approve or refuse it in the dashboard:\n{dashboard}\n\n"
        ));
        html.push_str("<p>It waits for a moderator (");
        escape(&reasons, &mut html);
        html.push_str("). <a href=\"");
        escape(&dashboard, &mut html);
        html.push_str("\">Approve or refuse it in the dashboard</a>.</p>");
    }
    text.push_str(&format!(
        "See it on the page: {link}\nModerate: {dashboard}\n"
    ));
    if let Some(email) = &notice.email {
        text.push_str(&format!("Commenter's e-mail: {email}\n"));
    }
    html.push_str("<p><a href=\"");
    escape(&link, &mut html);
    html.push_str("\">See it on the page</a> · <a href=\"");
    escape(&dashboard, &mut html);
    html.push_str("\">Moderate</a></p>");

    let host = public_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty())
        .unwrap_or("talkback.invalid");
    let to: Mailbox = notice
        .owner
        .parse()
        .map_err(|e| format!("owner_email {:?}: {e}", notice.owner))?;
    let mut builder = lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!(
            "<comment-{}.change-{}@{host}>",
            notice.comment.id, notice.seq
        )));
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .map_err(|e| e.to_string())
}
