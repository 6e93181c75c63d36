//! The blogger's mail about one comment: plain text with an HTML alternative made by the one
//! escaping renderer, a link to the comment on its page and into the dashboard, and a
//! Message-ID made of the change and the comment (the idempotency key: a mail sent again after
//! a restart is the same mail). Whatever a reader wrote reaches headers only through lettre's
//! encoders, after control characters are dropped, so no CR or LF can start a header.

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};

use lettre::message::header::{HeaderName, HeaderValue};
use sha2::Digest;
use talkback_api::i18n::pages::PageTexts;
use talkback_api::i18n::{Strings, fill};

use crate::content::render::{body_html, escape};
use crate::service::{Notice, ReaderMail, ReaderMailKind};

/// Text for a header: no control characters, at most `max` characters.
fn header_text(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// A comment's address on its page (the blog's, else the thread page here).
fn comment_link(
    page_url: Option<&str>,
    site: &str,
    page_key: &str,
    comment: u64,
    public_url: &str,
) -> String {
    let page = page_url.map(str::to_owned).unwrap_or_else(|| {
        format!(
            "{public_url}/t/{site}?page={}",
            crate::pages::query_value(page_key)
        )
    });
    format!("{page}#tb-c{comment}")
}

/// The host part of Message-IDs: the public URL's.
fn id_host(public_url: &str) -> &str {
    public_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty())
        .unwrap_or("talkback.invalid")
}

/// The mail, with its `Reply-To` and its body: plain text and the HTML alternative.
fn finish(
    mut builder: lettre::message::MessageBuilder,
    reply_to: Option<&Mailbox>,
    text: String,
    html: String,
) -> Result<lettre::Message, String> {
    if let Some(reply_to) = reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    let body = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(text),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(html),
        );
    builder.multipart(body).map_err(|e| e.to_string())
}

/// Who wrote the comment and on which page, as the owner's mails name them (fit for headers).
fn author_and_title(notice: &Notice) -> (String, String) {
    let author = match header_text(&notice.comment.author, 100) {
        a if a.trim().is_empty() => "Anonymous".to_owned(),
        a => a,
    };
    let title = header_text(
        notice.page_title.as_deref().unwrap_or(&notice.page_key),
        150,
    );
    (author, title)
}

pub fn compose(
    notice: &Notice,
    public_url: &str,
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
) -> Result<lettre::Message, String> {
    let (author, title) = author_and_title(notice);
    let subject = if notice.held {
        format!(
            "[{}] Awaiting moderation: {author} on “{title}”",
            notice.site
        )
    } else {
        format!("[{}] New comment by {author} on “{title}”", notice.site)
    };
    let link = comment_link(
        notice.page_url.as_deref(),
        &notice.site,
        &notice.page_key,
        notice.comment.id.0,
        public_url,
    );
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

    let host = id_host(public_url);
    let to: Mailbox = notice
        .owner
        .parse()
        .map_err(|e| format!("owner_email {:?}: {e}", notice.owner))?;
    let builder = lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!(
            "<comment-{}.change-{}@{host}>",
            notice.comment.id, notice.seq
        )));
    finish(builder, reply_to, text, html)
}

/// A mail to a reader: the request to confirm a subscription, or a follow-up comment, in the
/// language they subscribed in, with a one-click unsubscribe (RFC 8058: `List-Unsubscribe`
/// and `List-Unsubscribe-Post`) and a visible link to the same page. Follow-ups of a page
/// share a `References` root, and a reply's mail answers the mail about its parent, so mail
/// clients group a thread.
pub(super) fn compose_for_reader(
    mail: &ReaderMail,
    public_url: &str,
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
) -> Result<lettre::Message, String> {
    let texts = PageTexts::for_lang(&mail.subscription.lang);
    let strings = Strings::for_lang(&mail.subscription.lang);
    let sub = &mail.subscription;
    let site = &sub.site;
    let title = header_text(mail.page_title.as_deref().unwrap_or(&sub.page_key), 150);
    let author = header_text(
        strings.author_name(&mail.comment.author, mail.comment.deleted),
        100,
    );
    let unsubscribe = format!(
        "{public_url}/t/{site}/unsubscribe?token={}",
        mail.unsubscribe_token
    );
    let host = id_host(public_url);
    let (mut text, mut html) = (String::new(), String::new());
    let subject = match mail.kind {
        ReaderMailKind::Confirm => {
            let confirm = format!(
                "{public_url}/t/{site}/subscription?token={}",
                mail.confirm_token
            );
            // Fixed words and the site's name only: the page's title is whatever the
            // stranger who typed this address sent, and this mail goes to anybody's inbox.
            text.push_str(&fill(texts.mail_confirm_text, &[("site", site)]));
            text.push_str(&format!("\n\n{confirm}\n\n"));
            text.push_str(texts.mail_confirm_ignore);
            text.push('\n');
            html.push_str("<p>");
            escape(&fill(texts.mail_confirm_text, &[("site", site)]), &mut html);
            html.push_str("</p><p><a href=\"");
            escape(&confirm, &mut html);
            html.push_str("\">");
            escape(texts.confirm_button, &mut html);
            html.push_str("</a></p><p>");
            escape(texts.mail_confirm_ignore, &mut html);
            html.push_str("</p>");
            texts.mail_confirm_subject.to_owned()
        }
        ReaderMailKind::Subscribed => {
            // Fixed words and the site's name only, as for a confirmation.
            let said = fill(texts.mail_subscribed_text, &[("site", site)]);
            text.push_str(&format!(
                "{said}\n\n{}\n{unsubscribe}\n",
                texts.mail_subscribed_undo
            ));
            html.push_str("<p>");
            escape(&said, &mut html);
            html.push_str("</p><p>");
            escape(texts.mail_subscribed_undo, &mut html);
            html.push_str(" <a href=\"");
            escape(&unsubscribe, &mut html);
            html.push_str("\">");
            escape(texts.mail_unsubscribe, &mut html);
            html.push_str("</a></p>");
            texts.mail_subscribed_subject.to_owned()
        }
        ReaderMailKind::FollowUp { reply } => {
            let link = comment_link(
                mail.page_url.as_deref(),
                site,
                &sub.page_key,
                mail.comment.id.0,
                public_url,
            );
            let wrote = fill(texts.mail_wrote, &[("name", &author)]);
            let why = fill(texts.mail_why, &[("title", &title)]);
            text.push_str(&format!(
                "{wrote}\n\n{}\n\n{}: {link}\n\n-- \n{why}\n{}: {unsubscribe}\n",
                mail.body_source, texts.mail_read_and_reply, texts.mail_unsubscribe
            ));
            html.push_str("<p>");
            escape(&wrote, &mut html);
            html.push_str("</p><blockquote>");
            body_html(&mail.comment.body, &mut html);
            html.push_str("</blockquote><p><a href=\"");
            escape(&link, &mut html);
            html.push_str("\">");
            escape(texts.mail_read_and_reply, &mut html);
            html.push_str("</a></p><hr><p><small>");
            escape(&why, &mut html);
            html.push_str(" <a href=\"");
            escape(&unsubscribe, &mut html);
            html.push_str("\">");
            escape(texts.mail_unsubscribe, &mut html);
            html.push_str("</a></small></p>");
            let template = if reply {
                texts.mail_reply_subject
            } else {
                texts.mail_new_subject
            };
            fill(template, &[("name", &author), ("title", &title)])
        }
    };
    let to: Mailbox = sub
        .email
        .parse()
        .map_err(|e| format!("subscriber {:?}: {e}", sub.email))?;
    let message_id = match mail.kind {
        ReaderMailKind::Confirm => {
            format!("<confirm-{}.comment-{}@{host}>", sub.id, mail.comment.id)
        }
        ReaderMailKind::Subscribed => {
            format!("<subscribed-{}.comment-{}@{host}>", sub.id, mail.comment.id)
        }
        ReaderMailKind::FollowUp { .. } => {
            format!("<comment-{}.subscriber-{}@{host}>", mail.comment.id, sub.id)
        }
    };
    let mut builder = lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(format!("[{site}] {subject}"))
        .message_id(Some(message_id))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            format!("<{unsubscribe}>"),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
    if let ReaderMailKind::FollowUp { .. } = mail.kind {
        // One root per page and subscriber; a reply answers the mail about its parent.
        let digest = sha2::Sha256::digest(format!("{site}\0{}", sub.page_key).as_bytes());
        let root = format!(
            "<page-{}.subscriber-{}@{host}>",
            hex::encode(&digest[..8]),
            sub.id
        );
        let parent = mail
            .comment
            .parent
            .map(|p| format!("<comment-{p}.subscriber-{}@{host}>", sub.id));
        builder = builder
            .in_reply_to(parent.clone().unwrap_or_else(|| root.clone()))
            .references(match parent {
                Some(parent) => format!("{root} {parent}"),
                None => root,
            });
    }
    finish(builder, reply_to, text, html)
}

/// The owner's digest: the new comments of a period, oldest first (those waiting for a
/// moderator marked), each with its page, an excerpt and a link; `more` were left out of a
/// long one. Its Message-ID is made of the first and last change it covers.
pub(super) fn compose_digest(
    notices: &[Notice],
    more: usize,
    public_url: &str,
    from: &Mailbox,
    reply_to: Option<&Mailbox>,
) -> Result<lettre::Message, String> {
    let (Some(first), Some(last)) = (notices.first(), notices.last()) else {
        return Err("an empty digest".into());
    };
    let total = notices.len() + more;
    let held = notices.iter().filter(|n| n.held).count();
    let count = match total {
        1 => "1 new comment".to_owned(),
        n => format!("{n} new comments"),
    };
    let subject = if held > 0 {
        format!("[{}] {count} ({held} awaiting moderation)", first.site)
    } else {
        format!("[{}] {count}", first.site)
    };
    let dashboard = format!("{public_url}/admin");
    let mut text = String::new();
    let mut html = String::from("<ul>");
    for notice in notices {
        let (author, title) = author_and_title(notice);
        let excerpt: String = notice.body_source.chars().take(300).collect();
        let cut = if excerpt.len() < notice.body_source.len() {
            "…"
        } else {
            ""
        };
        let link = comment_link(
            notice.page_url.as_deref(),
            &notice.site,
            &notice.page_key,
            notice.comment.id.0,
            public_url,
        );
        let waiting = if notice.held {
            " [awaiting moderation]"
        } else {
            ""
        };
        text.push_str(&format!(
            "{author} on “{title}”{waiting}:\n{excerpt}{cut}\n{link}\n\n"
        ));
        html.push_str("<li><p><strong>");
        escape(&author, &mut html);
        html.push_str("</strong> on “");
        escape(&title, &mut html);
        html.push('”');
        escape(waiting, &mut html);
        html.push_str(":</p><blockquote>");
        escape(&excerpt, &mut html);
        html.push_str(cut);
        html.push_str("</blockquote><p><a href=\"");
        escape(&link, &mut html);
        html.push_str("\">See it on the page</a></p></li>");
    }
    html.push_str("</ul>");
    if more > 0 {
        text.push_str(&format!("… and {more} more.\n\n"));
        html.push_str(&format!("<p>… and {more} more.</p>"));
    }
    text.push_str(&format!("Moderate: {dashboard}\n"));
    html.push_str("<p><a href=\"");
    escape(&dashboard, &mut html);
    html.push_str("\">Moderate</a></p>");
    let to: Mailbox = first
        .owner
        .parse()
        .map_err(|e| format!("owner_email {:?}: {e}", first.owner))?;
    let host = id_host(public_url);
    let builder = lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!(
            "<digest-{}.change-{}-{}@{host}>",
            first.site, first.seq, last.seq
        )));
    finish(builder, reply_to, text, html)
}
