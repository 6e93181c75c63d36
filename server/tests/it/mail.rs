//! Mail to the blogger over a real SMTP conversation: a sink on loopback that speaks enough
//! SMTP for a client (greeting, EHLO, MAIL, RCPT, DATA, QUIT) and keeps every message.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use talkback_server::config::{MailConfig, Notify};

use crate::support::*;

/// Messages a sink received, as sent (headers and body).
#[derive(Clone, Default)]
pub(crate) struct Inbox(Arc<Mutex<Vec<String>>>);

impl Inbox {
    pub(crate) fn wait_for(&self, n: usize, within: Duration) -> Vec<String> {
        let end = Instant::now() + within;
        loop {
            let got = self.0.lock().unwrap().clone();
            if got.len() >= n || Instant::now() > end {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Serves SMTP on `listener` until the process ends.
pub(crate) fn sink(listener: TcpListener) -> Inbox {
    let inbox = Inbox::default();
    let kept = inbox.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let kept = kept.clone();
            std::thread::spawn(move || converse(stream, &kept));
        }
    });
    inbox
}

fn converse(stream: TcpStream, inbox: &Inbox) {
    let mut out = stream.try_clone().unwrap();
    let mut lines = BufReader::new(stream);
    let _ = out.write_all(b"220 sink.test ESMTP\r\n");
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test\r\n250 8BITMIME\r\n",
            // A mailbox that does not exist, as a relay refuses it for good.
            "RCPT" if line.contains("refused") => b"550 5.1.1 no such mailbox\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                let _ = out.write_all(b"354 go ahead\r\n");
                let mut message = String::new();
                loop {
                    let mut data = String::new();
                    if lines.read_line(&mut data).unwrap_or(0) == 0 || data == ".\r\n" {
                        break;
                    }
                    message.push_str(&data);
                }
                inbox.0.lock().unwrap().push(message);
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = out.write_all(b"221 bye\r\n");
                return;
            }
            _ => b"500 what\r\n",
        };
        let _ = out.write_all(reply);
    }
}

fn with_mail(c: &mut talkback_server::config::Config, port: u16, notify: Notify) {
    c.public_url = "https://comments.blog.example".into();
    c.mail = MailConfig {
        smtp_url: format!("smtp://127.0.0.1:{port}"),
        from: "Talkback <talkback@blog.example>".into(),
        reply_to: String::new(),
    };
    for site in &mut c.sites {
        site.owner_email = Some("owner@blog.example".into());
        site.notify = notify;
    }
}

/// A header's value (unfolded) in a raw message.
fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

#[test]
fn the_owner_is_mailed_about_each_new_comment_with_links_and_nothing_injected() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = TestServer::start_with(|c| with_mail(c, port, Notify::Each));
    let reply = call(
        &server.base,
        "POST",
        "/api/v1/comments",
        Some(
            &json!({"site": "blog", "page": "/post/", "title": "Roses\r\nBcc: victim@evil.example",
                "url": format!("{BLOG_ORIGIN}/post/"), "author": "Eve\r\nBcc: x@evil.example",
                "email": "eve@example.com", "body": "Cut above an **outward** bud <script>x</script>"})
            .to_string(),
        ),
        &[("Origin", BLOG_ORIGIN)],
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    let id = reply.body["comment"]["id"].as_u64().unwrap();
    let got = inbox.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1, "one mail");
    let mail = &got[0];
    assert_eq!(header(mail, "To").as_deref(), Some("owner@blog.example"));
    assert_eq!(
        header(mail, "From").as_deref(),
        Some("Talkback <talkback@blog.example>")
    );
    let message_id = header(mail, "Message-ID").unwrap();
    assert!(
        message_id.starts_with(&format!("<comment-{id}.change-")),
        "{message_id}"
    );
    assert!(
        message_id.ends_with("@comments.blog.example>"),
        "{message_id}"
    );
    let subject = header(mail, "Subject").unwrap();
    assert!(subject.contains("[blog] New comment by Eve"), "{subject}");
    // Nothing a reader typed became a header of its own.
    let head = mail.split("\r\n\r\n").next().unwrap();
    for line in head.lines() {
        assert!(!line.to_ascii_lowercase().starts_with("bcc"), "{head}");
    }
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(mail.contains("text/plain") && mail.contains("text/html"));
    let unwrapped = mail.replace("=\r\n", "");
    assert!(
        unwrapped.contains(&format!("{BLOG_ORIGIN}/post/#tb-c{id}")),
        "{mail}"
    );
    assert!(
        unwrapped.contains("https://comments.blog.example/admin"),
        "{mail}"
    );
    // The reader's text is plain in the text part and escaped in the HTML part.
    let html = unwrapped.split("Content-Type: text/html").nth(1).unwrap();
    assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"), "{html}");
    assert!(!html.contains("<script"), "{html}");

    // Imports and other changes send nothing more.
    let ann = comment(&server.base, "Ann", "another", None);
    assert!(ann["comment"]["id"].as_u64().is_some());
    assert_eq!(inbox.wait_for(2, Duration::from_secs(10)).len(), 2);
}

#[test]
fn with_notify_held_only_comments_waiting_for_a_moderator_are_mailed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = TestServer::start_with(|c| with_mail(c, port, Notify::Held));
    comment(&server.base, "Ann", "shown at once: no mail", None);
    let held = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "moderated", "page": "/p", "author": "Bob", "body": "waits"}),
    );
    assert_eq!(held.status, 201);
    let got = inbox.wait_for(2, Duration::from_secs(3));
    assert_eq!(got.len(), 1, "only the held one");
    let subject = header(&got[0], "Subject").unwrap();
    assert!(subject.contains("Awaiting moderation: Bob"), "{subject}");
}

#[test]
fn a_relay_that_is_down_gets_the_mail_once_it_is_up() {
    // A port nobody listens on yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = TestServer::start_with(|c| with_mail(c, port, Notify::Each));
    comment(&server.base, "Ann", "sent while the relay is down", None);
    // The reader's POST did not wait for mail; the consumer retries meanwhile.
    std::thread::sleep(Duration::from_millis(1500));
    let inbox = sink(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let got = inbox.wait_for(1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "mailed after the relay came up");
    assert!(got[0].contains("sent while the relay is down"));
    let metrics = call(&server.base, "GET", "/metrics", None, &[]);
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(text.contains("talkback_mail_sent_total 1"), "{text}");
    assert!(
        !text.contains("talkback_mail_failed_attempts_total 0"),
        "{text}"
    );
    assert!(text.contains("talkback_mail_given_up_total 0"), "{text}");
}

#[test]
fn a_comment_acknowledged_just_before_a_crash_is_mailed_after_the_restart() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("talkback.toml");
    std::fs::write(
        &config,
        format!(
            "[mail]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nfrom = \"talkback@blog.example\"\n\
             [[sites]]\nid = \"blog\"\norigins = [\"{BLOG_ORIGIN}\"]\nowner_email = \"owner@blog.example\"\n\
             notify = \"each\"\n{SPAM_OFF_TOML}"
        ),
    )
    .unwrap();
    let db = dir.path().join("db");
    let mut server = ServerProcess::spawn_with(&db, Some(&config));
    let reply = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/p", "author": "Ann", "body": "acknowledged, then the crash"}),
    );
    assert_eq!(reply.status, 201);
    // The relay is down, so the mail is still owed when the process dies.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let inbox = sink(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let _restarted = retry_spawn(&db, &config);
    let got = inbox.wait_for(1, Duration::from_secs(15));
    assert_eq!(got.len(), 1, "mailed after the restart");
    assert!(got[0].contains("acknowledged, then the crash"));
    assert_eq!(
        inbox.wait_for(2, Duration::from_secs(2)).len(),
        1,
        "and only once"
    );
}

/// The server again on the same database (sled may hold its lock a moment after a kill).
fn retry_spawn(db: &std::path::Path, config: &std::path::Path) -> ServerProcess {
    std::thread::sleep(Duration::from_millis(200));
    ServerProcess::spawn_with(db, Some(config))
}

#[test]
fn turning_mail_on_later_does_not_mail_the_past() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let site = format!("[[sites]]\nid = \"blog\"\norigins = [\"{BLOG_ORIGIN}\"]\n");
    let without = dir.path().join("without.toml");
    std::fs::write(&without, format!("{site}{SPAM_OFF_TOML}")).unwrap();
    let mut server = ServerProcess::spawn_with(&db, Some(&without));
    let old = json!({"site": "blog", "page": "/p", "author": "Old", "body": "from before mail"});
    assert_eq!(post(&server.base, "/api/v1/comments", &old).status, 201);
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let with = dir.path().join("with.toml");
    std::fs::write(
        &with,
        format!(
            "[mail]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nfrom = \"talkback@blog.example\"\n\
             {site}owner_email = \"owner@blog.example\"\nnotify = \"each\"\n{SPAM_OFF_TOML}"
        ),
    )
    .unwrap();
    let server = retry_spawn(&db, &with);
    let new =
        json!({"site": "blog", "page": "/p", "author": "New", "body": "after mail was turned on"});
    assert_eq!(post(&server.base, "/api/v1/comments", &new).status, 201);
    let got = inbox.wait_for(2, Duration::from_secs(3));
    assert_eq!(got.len(), 1, "only the new comment");
    assert!(got[0].contains("after mail was turned on"));
}

#[test]
fn a_digest_collects_a_periods_comments_into_one_mail() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = TestServer::start_with(|c| {
        with_mail(c, port, Notify::Hourly);
        for site in &mut c.sites {
            site.digest_every = Some("3s".into());
        }
    });
    for (author, body) in [
        ("Ann", "first of the hour"),
        ("Bob", "second"),
        ("Cy", "third"),
    ] {
        comment(&server.base, author, body, None);
    }
    let held = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "moderated", "page": "/p", "author": "Dee", "body": "waits for you"}),
    );
    assert_eq!(held.status, 201);
    // Nothing before the period is up.
    assert_eq!(inbox.wait_for(1, Duration::from_millis(1500)).len(), 0);
    let got = inbox.wait_for(2, Duration::from_secs(10));
    assert_eq!(got.len(), 2, "one digest per site");
    let blog = got
        .iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.starts_with("[blog]")))
        .unwrap();
    assert_eq!(
        header(blog, "Subject").as_deref(),
        Some("[blog] 3 new comments")
    );
    let text = blog.replace("=\r\n", "");
    for body in ["first of the hour", "second", "third"] {
        assert!(text.contains(body), "{body} missing: {text}");
    }
    let moderated = got.iter().find(|m| !std::ptr::eq(*m, blog)).unwrap();
    assert_eq!(
        header(moderated, "Subject").as_deref(),
        Some("[moderated] 1 new comment (1 awaiting moderation)")
    );
    // The next comment starts the next digest.
    comment(&server.base, "Eve", "after the digest", None);
    assert_eq!(inbox.wait_for(3, Duration::from_millis(1500)).len(), 2);
    let got = inbox.wait_for(3, Duration::from_secs(10));
    assert_eq!(got.len(), 3);
    assert_eq!(
        header(&got[2], "Subject").as_deref(),
        Some("[blog] 1 new comment")
    );
    assert!(got[2].contains("after the digest") && !got[2].contains("first of the hour"));
}

#[test]
fn a_flood_of_comments_mails_the_owner_twenty_times_an_hour_and_holds_the_rest_for_a_digest() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = sink(listener);
    let server = TestServer::start_with(|c| with_mail(c, port, Notify::Each));
    let mut ids = Vec::new();
    for i in 0..30 {
        let reply = post(
            &server.base,
            "/api/v1/comments",
            &json!({"site": "blog", "page": "/flood", "author": "Bot", "body": format!("flood {i}")}),
        );
        assert_eq!(reply.status, 201);
        ids.push(reply.body["comment"]["id"].as_u64().unwrap());
    }
    let got = inbox.wait_for(21, Duration::from_secs(5));
    assert_eq!(got.len(), 20, "twenty single mails, then nothing for now");
    assert!(got[19].contains("flood 19"));
    // Not dropped: the consumer's stored cursor waits before the first comment held back, so
    // its digest goes once the hour has room (after a restart too).
    let cursor = server.service.consumer_cursor("owner-mail").unwrap();
    let last = server.service.last_change().unwrap();
    assert_eq!(cursor, last - 10, "held before the 21st comment's change");
}
