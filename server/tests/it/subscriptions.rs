//! "Notify me of follow-up comments" over a real SMTP conversation: double opt-in, replies
//! and whole-thread subscriptions, the reader's language, threading headers, and RFC 8058
//! one-click unsubscribe by POSTing the `List-Unsubscribe` URL; every captured message is
//! parsed as a mail client would (mail-parser).

use std::net::TcpListener;
use std::time::Duration;

use serde_json::{Value, json};
use talkback_server::config::{MailConfig, Notify};

use crate::mail::{Inbox, sink};
use crate::support::*;

const PUBLIC: &str = "https://comments.blog.example";

/// One captured message, parsed.
struct Mail {
    to: String,
    subject: String,
    text: String,
    html: String,
    message_id: String,
    in_reply_to: Vec<String>,
    references: Vec<String>,
    unsubscribe: String,
    unsubscribe_post: String,
    raw: String,
}

fn texts(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match value {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    }
}

fn parse(raw: &str) -> Mail {
    let message = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a mail");
    let raw_header = |name: &str| {
        message
            .header_raw(name)
            .unwrap_or_default()
            .replace("\r\n", "")
            .trim()
            .to_owned()
    };
    Mail {
        to: message
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned(),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message.body_text(0).unwrap_or_default().into_owned(),
        html: message.body_html(0).unwrap_or_default().into_owned(),
        message_id: message.message_id().unwrap_or_default().to_owned(),
        in_reply_to: texts(message.in_reply_to()),
        references: texts(message.references()),
        unsubscribe: raw_header("List-Unsubscribe"),
        unsubscribe_post: raw_header("List-Unsubscribe-Post"),
        raw: raw.to_owned(),
    }
}

/// The mails so far, once `n` arrived (or the wait ran out: generous, as the power-cut tests
/// beside these can hold the disk for seconds), parsed.
fn mails(inbox: &Inbox, n: usize) -> Vec<Mail> {
    inbox
        .wait_for(n, Duration::from_secs(30))
        .iter()
        .map(|m| parse(m))
        .collect()
}

/// No mail beyond the first `n` within a while.
fn no_more_than(inbox: &Inbox, n: usize) {
    let got = inbox.wait_for(n + 1, Duration::from_millis(1500));
    assert_eq!(got.len(), n, "unexpected mail: {:?}", got.get(n));
}

/// A link of a mail, on the test server (mails point at the public URL).
fn local(server: &TestServer, url: &str) -> String {
    url.strip_prefix(PUBLIC)
        .map(|path| format!("{}{path}", server.base))
        .unwrap_or_else(|| panic!("{url} is not under {PUBLIC}"))
}

/// The first link in `text` that starts with `PUBLIC` and contains `part`.
fn link(text: &str, part: &str) -> String {
    text.split_whitespace()
        .find(|w| w.starts_with(PUBLIC) && w.contains(part))
        .unwrap_or_else(|| panic!("no {part} link in {text}"))
        .to_owned()
}

/// A form POST, as a browser or a mail client sends it.
fn form_post(url: &str, body: &str) -> (u16, String) {
    let reply = agent()
        .post(url)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(body);
    let response = match reply {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {url}: {e}"),
    };
    (
        response.status(),
        response.into_string().unwrap_or_default(),
    )
}

fn page(url: &str) -> (u16, String) {
    let response = match agent().get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    (
        response.status(),
        response.into_string().unwrap_or_default(),
    )
}

fn start(port: u16) -> TestServer {
    start_on(port, None)
}

/// [`start`], on a database prepared beforehand when given.
fn start_on(port: u16, database: Option<std::path::PathBuf>) -> TestServer {
    TestServer::start_with(|c| {
        if let Some(database) = database {
            c.database = database;
        }
        c.public_url = PUBLIC.into();
        c.mail = MailConfig {
            smtp_url: format!("smtp://127.0.0.1:{port}"),
            from: "Talkback <talkback@blog.example>".into(),
            reply_to: String::new(),
        };
        for site in &mut c.sites {
            site.owner_email = Some("owner@blog.example".into());
            // The owner's mail is another test's business.
            site.notify = Notify::None;
        }
    })
}

/// Posts on the `blog` site as `author` (address: its first word `@example.org`).
fn write(
    server: &TestServer,
    page: &str,
    author: &str,
    body: &str,
    parent: Option<u64>,
    notify: Option<&str>,
    lang: &str,
) -> u64 {
    let reply = call(
        &server.base,
        "POST",
        "/api/v1/comments",
        Some(
            &json!({"site": "blog", "page": page, "title": "Pruning Roses", "author": author,
                "email": format!("{}@example.org", author.split_whitespace().next().unwrap_or_default().to_lowercase()), "body": body,
                "parent": parent, "notify": notify})
            .to_string(),
        ),
        &[("Origin", BLOG_ORIGIN), ("Accept-Language", lang)],
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body["comment"]["id"].as_u64().unwrap()
}

#[test]
fn a_reader_confirms_once_hears_about_replies_and_unsubscribes_in_one_click() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = start(port);

    // Ann asks for replies: the only mail is the request to confirm.
    let ann = write(
        &server,
        "/roses",
        "Ann",
        "How hard do I prune?",
        None,
        Some("replies"),
        "en",
    );
    let got = mails(&inbox, 1);
    assert_eq!(got.len(), 1);
    let ask = &got[0];
    assert_eq!(ask.to, "ann@example.org");
    // Hardening round two, item 6: the title is the poster's to choose, and this mail goes to
    // whatever address they typed: fixed words and the site's name only.
    assert_eq!(
        ask.subject,
        "[blog] Confirm: mail you about follow-up comments?"
    );
    assert!(!ask.text.contains("Pruning Roses"), "{}", ask.text);
    assert!(!ask.html.contains("Pruning Roses"), "{}", ask.html);
    assert!(
        ask.text.contains("on blog with this address"),
        "{}",
        ask.text
    );
    assert!(
        ask.unsubscribe
            .starts_with(&format!("<{PUBLIC}/t/blog/unsubscribe?token=")),
        "{}",
        ask.unsubscribe
    );
    assert_eq!(ask.unsubscribe_post, "List-Unsubscribe=One-Click");
    assert!(ask.html.contains("Yes, notify me"), "{}", ask.html);
    let confirm = link(&ask.text, "/subscription?token=");

    // Until she confirms, a reply mails her nothing.
    write(
        &server,
        "/roses",
        "Bob",
        "Down to an outward bud.",
        Some(ann),
        None,
        "en",
    );
    no_more_than(&inbox, 1);

    // Following the link (as a mail scanner would) changes nothing; the button confirms.
    let (status, html) = page(&local(&server, &confirm));
    assert_eq!(status, 200);
    assert!(
        html.contains("ann@example.org") && html.contains("<form method=\"post\""),
        "{html}"
    );
    write(
        &server,
        "/roses",
        "Bob",
        "Still unconfirmed.",
        Some(ann),
        None,
        "en",
    );
    no_more_than(&inbox, 1);
    let (status, html) = form_post(&local(&server, &confirm), "confirm=1");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Done."), "{html}");

    // Now Bob's reply reaches her, threaded under the mail about her own comment.
    let bob = write(
        &server,
        "/roses",
        "Bob\r\nBcc: x@evil.example",
        "Cut *above* the bud <b>here</b>.",
        Some(ann),
        None,
        "en",
    );
    let got = mails(&inbox, 2);
    assert_eq!(got.len(), 2);
    let reply = &got[1];
    assert_eq!(reply.to, "ann@example.org");
    assert_eq!(
        reply.subject,
        "[blog] BobBcc: x@evil.example replied to your comment on “Pruning Roses”"
    );
    assert!(
        !reply
            .raw
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .to_lowercase()
            .contains("\r\nbcc:")
    );
    assert!(
        reply
            .message_id
            .starts_with(&format!("comment-{bob}.subscriber-")),
        "{}",
        reply.message_id
    );
    assert_eq!(reply.in_reply_to.len(), 1, "{:?}", reply.in_reply_to);
    assert!(reply.in_reply_to[0].starts_with(&format!("comment-{ann}.subscriber-")));
    assert_eq!(reply.references.len(), 2, "{:?}", reply.references);
    assert!(reply.references[0].starts_with("page-"));
    assert!(
        reply.text.contains("Cut *above* the bud <b>here</b>."),
        "{}",
        reply.text
    );
    assert!(
        reply.html.contains("&lt;b&gt;here&lt;/b&gt;") && !reply.html.contains("<b>"),
        "{}",
        reply.html
    );
    assert!(
        reply
            .text
            .contains(&format!("{PUBLIC}/t/blog?page=%2Froses#tb-c{bob}")),
        "{}",
        reply.text
    );
    let visible = link(&reply.text, "/unsubscribe?token=");
    assert_eq!(
        format!("<{visible}>"),
        reply.unsubscribe,
        "the visible link is the header's"
    );

    // Her own comments, and comments that answer someone else, are not mailed to her.
    write(&server, "/roses", "Ann", "Thanks!", Some(bob), None, "en");
    let cy = write(&server, "/roses", "Cy", "A new question.", None, None, "en");
    no_more_than(&inbox, 2);

    // A confirmed address is not asked again, on any page of the site; but since anybody may
    // have typed it into the form (hardening round two, item 6), it is told once, in fixed
    // words, with the way out.
    write(
        &server,
        "/tulips",
        "Ann",
        "And tulips?",
        None,
        Some("replies"),
        "en",
    );
    let got = mails(&inbox, 3);
    assert_eq!(got.len(), 3);
    let told = &got[2];
    assert_eq!(told.to, "ann@example.org");
    assert_eq!(told.subject, "[blog] Now following a conversation");
    assert!(!told.text.contains("tulips"), "{}", told.text);
    assert!(told.text.contains("/unsubscribe?token="), "{}", told.text);
    no_more_than(&inbox, 3);

    // One click: the mail client POSTs the header's URL with RFC 8058's body.
    let one_click = reply.unsubscribe.trim_matches(['<', '>']).to_owned();
    let (status, html) = form_post(&local(&server, &one_click), "List-Unsubscribe=One-Click");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("You are unsubscribed"), "{html}");
    write(
        &server,
        "/roses",
        "Bob",
        "After she left.",
        Some(ann),
        None,
        "en",
    );
    no_more_than(&inbox, 3);
    // The link is spent; a forged one never worked.
    let (status, html) = form_post(&local(&server, &one_click), "List-Unsubscribe=One-Click");
    assert_eq!(status, 404);
    assert!(
        html.contains("data-error=\"subscription_not_found\""),
        "{html}"
    );
    let forged = one_click.replace("token=", "token=9");
    assert_eq!(page(&local(&server, &forged)).0, 404);
    let _ = cy;
}

#[test]
fn a_whole_thread_subscription_is_mailed_in_the_readers_language() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = start(port);

    write(
        &server,
        "/roses",
        "Dee",
        "Ich lese mit.",
        None,
        Some("thread"),
        "de-DE,de;q=0.9",
    );
    let got = mails(&inbox, 1);
    assert_eq!(
        got[0].subject,
        "[blog] Bestätigen: E-Mails zu weiteren Kommentaren?"
    );
    let confirm = link(&got[0].text, "/subscription?token=");
    let (_, html) = page(&local(&server, &confirm));
    assert!(
        html.contains("lang=\"de\"") && html.contains("Ja, benachrichtigen"),
        "{html}"
    );
    assert_eq!(form_post(&local(&server, &confirm), "confirm=1").0, 200);

    // Any new comment on the page reaches her, in German, whoever it answers.
    let eve = write(
        &server,
        "/roses",
        "Eve",
        "Top-level news.",
        None,
        None,
        "en",
    );
    let got = mails(&inbox, 2);
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].subject,
        "[blog] Neuer Kommentar von Eve zu „Pruning Roses“"
    );
    assert!(got[1].text.contains("Eve schrieb:"), "{}", got[1].text);
    assert_eq!(
        got[1].in_reply_to, got[1].references,
        "a top-level comment answers the page"
    );
    // Mail about a reply to someone else is not a reply to her.
    write(&server, "/roses", "Fay", "To Eve.", Some(eve), None, "en");
    let got = mails(&inbox, 3);
    assert_eq!(
        got[2].subject,
        "[blog] Neuer Kommentar von Fay zu „Pruning Roses“"
    );

    // "Stop all mail from blog" ends everything and forgets the confirmation.
    let unsubscribe = link(&got[2].text, "/unsubscribe?token=");
    let (_, html) = page(&local(&server, &unsubscribe));
    assert!(html.contains("Alle E-Mails von blog abbestellen"), "{html}");
    let (status, html) = form_post(&local(&server, &unsubscribe), "all=1");
    assert_eq!(status, 200);
    assert!(html.contains("keine E-Mails von blog mehr"), "{html}");
    write(
        &server,
        "/roses",
        "Eve",
        "Nobody hears this.",
        None,
        None,
        "en",
    );
    no_more_than(&inbox, 3);
    write(
        &server,
        "/roses",
        "Dee",
        "Back again.",
        None,
        Some("thread"),
        "de",
    );
    let got = mails(&inbox, 4);
    assert!(
        got[3].subject.contains("Bestätigen"),
        "asked again: {}",
        got[3].subject
    );
}

#[test]
fn asking_for_mail_needs_an_address_and_a_known_choice() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = start(port);
    let reply = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/roses", "author": "Anon", "body": "hi", "notify": "thread"}),
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body["error"], Value::from("invalid_email"));
    let reply = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/roses", "author": "Anon", "email": "a@example.org", "body": "hi", "notify": "everything"}),
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body["error"], Value::from("invalid_json"));
    // Neither stored a comment.
    let thread = get(&server.base, "/api/v1/threads?site=blog&page=/roses");
    assert_eq!(thread.body["total"], Value::from(0), "{thread:?}");
    no_more_than(&inbox, 0);
}

#[test]
fn the_form_for_readers_without_javascript_offers_the_boxes_and_subscribes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = start(port);
    let (status, html) = page(&format!("{}/t/blog?page=/roses&lang=fr", server.base));
    assert_eq!(status, 200);
    for label in [
        "M’avertir par e-mail des réponses à mon commentaire",
        "M’avertir par e-mail de tous les nouveaux commentaires",
    ] {
        assert!(html.contains(label), "{label} missing: {html}");
    }
    assert!(!html.contains(" checked"), "unticked: {html}");
    let token = html
        .split("name=\"proof\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let form = |email: &str| {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("page", "/roses")
            .append_pair("lang", "fr")
            .append_pair("proof", &token)
            .append_pair("author", "Gil")
            .append_pair("email", email)
            .append_pair("body", "Sans JavaScript, merci.")
            .append_pair("notify_all", "1");
        body.finish()
    };
    // Ticked without an address: the page again, the error shown and the box still ticked.
    let response = agent()
        .post(&format!("{}/t/blog/comment", server.base))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .set("Origin", BLOG_ORIGIN)
        .send_string(&form(""));
    let html = match response {
        Err(ureq::Error::Status(400, r)) => r.into_string().unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(
        html.contains("tb-error") && html.contains("name=\"notify_all\" value=\"1\" checked"),
        "{html}"
    );
    let redirect = ureq::AgentBuilder::new()
        .redirects(0)
        .build()
        .post(&format!("{}/t/blog/comment", server.base))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .set("Origin", BLOG_ORIGIN)
        .send_string(&form("gil@example.org"));
    let status = match redirect {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 303);
    let got = mails(&inbox, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, "gil@example.org");
    assert_eq!(
        got[0].subject,
        "[blog] Confirmer : recevoir les nouveaux commentaires ?"
    );
}

#[test]
fn a_reply_waiting_for_a_moderator_is_mailed_once_when_approved() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = start(port);
    with_accounts(&server);
    let zoe = sign_in(&server.base, "zoe");
    let post_held = |author: &str, parent: Option<u64>, notify: Option<&str>| {
        let reply = post(
            &server.base,
            "/api/v1/comments",
            &json!({"site": "moderated", "page": "/roses", "author": author,
                "email": format!("{}@example.org", author.to_lowercase()),
                "body": format!("{author} writes"), "parent": parent, "notify": notify}),
        );
        assert_eq!(reply.status, 201, "{reply:?}");
        assert_eq!(reply.body["comment"]["pending"], Value::from(true));
        reply.body["comment"]["id"].as_u64().unwrap()
    };
    // Held comments still ask to confirm: the reader is waiting to hear back.
    let ann = post_held("Ann", None, Some("replies"));
    let got = mails(&inbox, 1);
    assert_eq!(got[0].to, "ann@example.org");
    let confirm = link(&got[0].text, "/subscription?token=");
    assert_eq!(form_post(&local(&server, &confirm), "confirm=1").0, 200);
    assert_eq!(zoe.moderate("approve", &[ann]).status, 200);

    let bob = post_held("Bob", Some(ann), None);
    no_more_than(&inbox, 1);
    assert_eq!(zoe.moderate("approve", &[bob]).status, 200);
    let got = mails(&inbox, 2);
    assert_eq!(got.len(), 2, "mailed once approved");
    assert!(
        got[1].subject.contains("Bob replied to your comment"),
        "{}",
        got[1].subject
    );
    // Back to the queue and approved again: the reader already has it.
    assert_eq!(zoe.moderate("pending", &[bob]).status, 200);
    assert_eq!(zoe.moderate("approve", &[bob]).status, 200);
    no_more_than(&inbox, 2);
}

#[test]
fn a_request_to_confirm_owed_at_a_crash_is_sent_once_after_the_restart() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = mail_config(dir.path(), port);
    let db = dir.path().join("db");
    let mut server = ServerProcess::spawn_with(&db, Some(&config));
    let reply = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/p", "author": "Ann", "email": "ann@example.org",
            "body": "subscribed, then the crash", "notify": "thread"}),
    );
    assert_eq!(reply.status, 201);
    // The relay is down, so the request to confirm is still owed when the process dies.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let inbox = sink(TcpListener::bind(("127.0.0.1", port)).unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let _restarted = ServerProcess::spawn_with(&db, Some(&config));
    let got = mails(&inbox, 1);
    assert_eq!(got.len(), 1, "sent after the restart");
    assert_eq!(got[0].to, "ann@example.org");
    assert!(got[0].subject.contains("Confirm"), "{}", got[0].subject);
    no_more_than(&inbox, 1);
}

#[test]
fn deleting_a_thread_drops_its_subscriptions_but_not_those_to_the_thread_begun_anew() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = start(port);
    let subscribers = || -> Vec<String> {
        server
            .service
            .store()
            .page_subscriptions("blog", "/roses", None, 10)
            .unwrap()
            .into_iter()
            .map(|s| s.email)
            .collect()
    };

    // Ann follows the whole thread, and confirms.
    write(
        &server,
        "/roses",
        "Ann",
        "Following.",
        None,
        Some("thread"),
        "en",
    );
    let ask = &mails(&inbox, 1)[0];
    assert_eq!(ask.to, "ann@example.org");
    let confirm = link(&ask.text, "/subscription?token=");
    let (status, html) = form_post(&local(&server, &confirm), "confirm=1");
    assert_eq!(status, 200, "{html}");
    assert_eq!(subscribers(), ["ann@example.org"]);

    // The owner deletes the thread; Bob starts a new one at the same address and subscribes.
    server
        .service
        .delete_as_owner("blog", None, Some("/roses"))
        .unwrap();
    write(
        &server,
        "/roses",
        "Bob",
        "A fresh start.",
        None,
        Some("thread"),
        "en",
    );
    // Bob's request to confirm comes after the deletion was read from the change log.
    assert_eq!(mails(&inbox, 2)[1].to, "bob@example.org");
    assert_eq!(subscribers(), ["bob@example.org"]);

    // Ann followed the deleted thread, not this one: Carol's comment here mails her nothing.
    write(
        &server,
        "/roses",
        "Carol",
        "Welcome back.",
        None,
        None,
        "en",
    );
    no_more_than(&inbox, 2);
}

#[test]
fn a_mailbox_the_relay_refuses_for_good_holds_up_no_other_readers_mail() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = start(port);
    // The sink answers 550 for any mailbox named "refused".
    write(
        &server,
        "/roses",
        "Refused",
        "Typo in my address.",
        None,
        Some("thread"),
        "en",
    );
    write(
        &server,
        "/roses",
        "Bea",
        "Mine is right.",
        None,
        Some("thread"),
        "en",
    );
    let got = mails(&inbox, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, "bea@example.org");
    let metrics = call(&server.base, "GET", "/metrics", None, &[]);
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(text.contains("talkback_mail_given_up_total 1"), "{text}");
}

#[test]
fn an_unusable_address_stored_by_an_older_server_holds_up_no_other_readers_mail() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    {
        let mut config = test_config(dir.path());
        config.database = db.clone();
        let store = open_store(&config);
        // Servers before round two took any address a browser's type=email let through.
        for email in ["a..b@example.com", "cy@example.org"] {
            store
                .subscribe(talkback_store::SubscriptionRecord {
                    id: 0,
                    site: "blog".into(),
                    page_key: "/roses".into(),
                    email: email.into(),
                    scope: talkback_store::Scope::Thread,
                    lang: "en".into(),
                    created: 1,
                    origin: 0,
                    confirmed: false,
                    asked: None,
                })
                .unwrap();
            store.confirm_address("blog", email, 2).unwrap();
        }
        store.flush_through(talkback_store::WriteSeq::ALL).unwrap();
    }
    let server = start_on(port, Some(db));
    write(
        &server,
        "/roses",
        "Dee",
        "A new comment for both followers.",
        None,
        None,
        "en",
    );
    let got = mails(&inbox, 1);
    assert_eq!(got.len(), 1, "the follower with a usable address is mailed");
    assert_eq!(got[0].to, "cy@example.org");
    assert!(
        got[0].text.contains("A new comment for both followers."),
        "{}",
        got[0].text
    );
    no_more_than(&inbox, 1);
}

#[test]
fn a_strangers_requests_to_confirm_wait_for_their_quota_across_restarts_and_are_not_dropped() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let dir = tempfile::tempdir().unwrap();
    let config = mail_config(dir.path(), port);
    let db = dir.path().join("db");
    let (cursor_before, last) = {
        let server = ServerProcess::spawn_with(&db, Some(&config));
        // A stranger types the victim's address on five pages.
        for page in ["/a", "/b", "/c", "/d", "/e"] {
            let reply = post(
                &server.base,
                "/api/v1/comments",
                &json!({"site": "blog", "page": page, "author": "Mallory", "email": "victim@example.org",
                    "body": format!("subscribe them to {page}"), "notify": "thread"}),
            );
            assert_eq!(reply.status, 201);
        }
        let got = mails(&inbox, 4);
        assert_eq!(got.len(), 3, "three requests to confirm a day per address");
        drop(server);
        let mut c = test_config(dir.path());
        c.database = db.clone();
        let store = open_store(&c);
        (
            store.consumer_cursor("reader-mail").unwrap().unwrap(),
            store.last_change().unwrap(),
        )
    };
    // The two over the quota wait: the stored cursor is before the fourth request's change.
    assert!(
        cursor_before < last,
        "cursor {cursor_before}, last change {last}"
    );
    // Started again, the server still counts this day's three (the count is in the store).
    let _server = ServerProcess::spawn_with(&db, Some(&config));
    no_more_than(&inbox, 3);
}

/// A configuration file for the server binary: mail through the sink on `port`, the `blog` site.
fn mail_config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let config = dir.join("talkback.toml");
    std::fs::write(
        &config,
        format!(
            "public_url = \"{PUBLIC}\"\n[mail]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nfrom = \"talkback@blog.example\"\n\
             [[sites]]\nid = \"blog\"\norigins = [\"{BLOG_ORIGIN}\"]\n{SPAM_OFF_TOML}"
        ),
    )
    .unwrap();
    config
}
