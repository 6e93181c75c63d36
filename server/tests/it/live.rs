//! Live updates as a browser's EventSource meets them: a raw HTTP connection reading
//! `GET /api/v1/live` while comments are posted, edited, moderated and deleted; reconnecting
//! with `Last-Event-ID`; the cap on streams per address; what a stop sends.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// One open stream, read frame by frame.
pub(crate) struct Follower {
    reader: BufReader<TcpStream>,
    status: u16,
}

/// A frame: its `id` (if any), `event` and `data` fields, and whether it was a `retry` hint.
#[derive(Debug, Default)]
struct Frame {
    id: Option<u64>,
    event: String,
    data: String,
    retry: Option<u64>,
}

impl Follower {
    pub(crate) fn open(base: &str, page: &str, last_event_id: Option<u64>) -> Self {
        let addr = base.trim_start_matches("http://");
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let last = last_event_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        write!(
            &stream,
            "GET /api/v1/live?site=blog&page={page} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{last}\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            head.push_str(&line);
        }
        if status == 200 {
            assert!(head.contains("text/event-stream"), "{head}");
            assert!(
                head.to_lowercase().contains("x-accel-buffering: no"),
                "{head}"
            );
        }
        Self { reader, status }
    }

    /// The next frame, skipping heartbeats and the chunked encoding's size lines; `None` at
    /// the end of the stream or after `wait`.
    fn next(&mut self, wait: Duration) -> Option<Frame> {
        let end = Instant::now() + wait;
        let mut frame = Frame::default();
        let mut any = false;
        while Instant::now() < end {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(_) => return None,
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(v) = line.strip_prefix("id: ") {
                frame.id = v.parse().ok();
                any = true;
            } else if let Some(v) = line.strip_prefix("event: ") {
                frame.event = v.to_owned();
                any = true;
            } else if let Some(v) = line.strip_prefix("data: ") {
                frame.data = v.to_owned();
                any = true;
            } else if let Some(v) = line.strip_prefix("retry: ") {
                frame.retry = v.parse().ok();
                any = true;
            } else if line.is_empty() && any {
                return Some(frame);
            }
            // Else a heartbeat (": …"), a chunk size or a chunk's end.
        }
        None
    }

    /// The next `update` event's data.
    pub(crate) fn update(&mut self) -> (u64, Value) {
        loop {
            let frame = self.next(Duration::from_secs(5)).expect("an event");
            if frame.event == "update" {
                let data = serde_json::from_str(&frame.data).unwrap();
                return (frame.id.unwrap_or(0), data);
            }
        }
    }

    /// Nothing but heartbeats within `wait`.
    fn quiet(&mut self, wait: Duration) {
        if let Some(frame) = self.next(wait) {
            panic!("unexpected {frame:?}");
        }
    }
}

fn first_retry(follower: &mut Follower) -> u64 {
    let frame = follower
        .next(Duration::from_secs(5))
        .expect("a first frame");
    frame.retry.expect("the stream opens with a retry hint")
}

#[test]
fn followers_see_each_change_readers_may_see_and_nothing_else() {
    let server = TestServer::start();
    with_accounts(&server);
    let base = &server.base;
    let mut follower = Follower::open(base, "/post/", None);
    assert_eq!(follower.status, 200);
    assert_eq!(first_retry(&mut follower), 3000);

    let ann = comment(base, "Ann", "First!", None);
    let ann_id = ann["comment"]["id"].as_u64().unwrap();
    let (seq, event) = follower.update();
    assert!(seq > 0);
    assert_eq!(event["kind"], "added");
    assert_eq!(event["comment"]["author"], "Ann");
    assert!(event["comment"].get("email").is_none(), "{event}");

    let bob = comment(base, "Bob", "A reply", Some(ann_id));
    let bob_id = bob["comment"]["id"].as_u64().unwrap();
    let (_, event) = follower.update();
    assert_eq!(
        (event["kind"].as_str(), event["comment"]["parent"].as_u64()),
        (Some("added"), Some(ann_id))
    );

    let edited = call(
        base,
        "PUT",
        &format!("/api/v1/comments/{bob_id}"),
        Some(r#"{"body":"A better reply"}"#),
        &[("X-Talkback-Edit-Key", bob["edit_key"].as_str().unwrap())],
    );
    assert_eq!(edited.status, 200, "{edited:?}");
    let (_, event) = follower.update();
    assert_eq!(event["kind"], "changed");
    assert_eq!(
        event["comment"]["body"],
        json!([{"paragraph": [{"text": "A better reply"}]}])
    );

    // A moderator hides Ann's comment: it has a reply, so a placeholder stays.
    let zoe = sign_in(base, "zoe");
    assert_eq!(zoe.moderate("spam", &[ann_id]).status, 200);
    let (_, event) = follower.update();
    assert_eq!(
        (
            event["kind"].as_str(),
            event["comment"]["deleted"].as_bool()
        ),
        (Some("changed"), Some(true)),
        "{event}"
    );
    assert_eq!(
        event["comment"]["author"], "",
        "nothing of a hidden comment"
    );
    assert_eq!(zoe.moderate("approve", &[ann_id]).status, 200);
    let (_, event) = follower.update();
    assert_eq!(
        (event["kind"].as_str(), event["comment"]["author"].as_str()),
        (Some("added"), Some("Ann"))
    );

    let deleted = call(
        base,
        "DELETE",
        &format!("/api/v1/comments/{bob_id}"),
        None,
        &[("X-Talkback-Edit-Key", bob["edit_key"].as_str().unwrap())],
    );
    assert_eq!(deleted.status, 200);
    let (_, event) = follower.update();
    assert_eq!(event, json!({"kind": "removed", "id": bob_id}));

    // Another page's comments, and comments awaiting moderation, are not sent.
    comment_on(base, "/other", "Cid", "Elsewhere");
    follower.quiet(Duration::from_millis(600));
}

/// The `ready` frame's id: where the stream stands.
fn ready(follower: &mut Follower) -> u64 {
    loop {
        let frame = follower
            .next(Duration::from_secs(5))
            .expect("a ready event");
        if frame.event == "ready" {
            return frame.id.expect("ready has an id");
        }
    }
}

#[test]
fn a_reconnecting_follower_gets_what_it_missed_first() {
    let server = TestServer::start();
    let base = &server.base;
    comment_on(base, "/before", "Zed", "before anyone follows");
    // Dropped before anything changed: the ready event's id is enough to miss nothing.
    let mut early = Follower::open(base, "/post", None);
    first_retry(&mut early);
    let position = ready(&mut early);
    assert_eq!(position, server.service.last_change().unwrap());
    drop(early);
    comment(base, "Ann", "one", None);
    let mut follower = Follower::open(base, "/post", Some(position));
    first_retry(&mut follower);
    let (seen, event) = follower.update();
    assert_eq!(event["comment"]["author"], "Ann");
    assert_eq!(ready(&mut follower), seen);
    drop(follower);
    comment(base, "Bob", "two", None);
    comment_on(base, "/other", "Cid", "elsewhere");
    comment(base, "Dee", "three", None);

    let mut back = Follower::open(base, "/post", Some(seen));
    first_retry(&mut back);
    let (two, a) = back.update();
    let (three, b) = back.update();
    assert!(seen < two && two < three);
    assert_eq!(
        (
            a["comment"]["author"].as_str(),
            b["comment"]["author"].as_str()
        ),
        (Some("Bob"), Some("Dee"))
    );
    comment(base, "Eve", "four", None);
    let (_, c) = back.update();
    assert_eq!(
        c["comment"]["author"], "Eve",
        "then live again, nothing twice"
    );
}

#[test]
fn streams_per_address_are_capped_and_bad_queries_refused() {
    let server = TestServer::start_with(|c| c.live_streams_per_client = 2);
    let base = &server.base;
    let mut open: Vec<Follower> = (0..2)
        .map(|_| Follower::open(base, "/post", None))
        .collect();
    for f in &mut open {
        first_retry(f);
    }
    let third = Follower::open(base, "/post", None);
    assert_eq!(third.status, 429);
    drop(open.pop());
    // The slot frees once the server notices the stream is gone: a write to it fails (the
    // first may still land in the socket's buffer; heartbeats do the same for quiet threads).
    let deadline = Instant::now() + Duration::from_secs(10);
    for n in 0.. {
        comment(base, "Ann", &format!("wakes the streams {n}"), None);
        let again = Follower::open(base, "/post", None);
        if again.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
    for (path, last, status, code) in [
        ("/api/v1/live?site=nope&page=/p", "1", 404, "unknown_site"),
        ("/api/v1/live?site=blog", "1", 400, "invalid_query"),
        ("/api/v1/live?site=blog&page=/p", "", 400, "invalid_cursor"),
        (
            "/api/v1/live?site=blog&page=/p",
            "x1",
            400,
            "invalid_cursor",
        ),
    ] {
        let reply = call(base, "GET", path, None, &[("Last-Event-ID", last)]);
        assert_eq!(
            (reply.status, reply.body["error"].as_str()),
            (status, Some(code)),
            "{path} {last:?}"
        );
    }
}

/// A comment on another page of the `blog` site.
fn comment_on(base: &str, page: &str, author: &str, body: &str) -> Value {
    let reply = post(
        base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": page, "author": author, "body": body}),
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

#[test]
fn a_stop_ends_streams_with_a_short_retry_hint_and_the_server_exits() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("talkback.toml");
    std::fs::write(
        &config,
        format!("[[sites]]\nid = \"blog\"\norigins = [\"{BLOG_ORIGIN}\"]\n{SPAM_OFF_TOML}"),
    )
    .unwrap();
    let mut server = ServerProcess::spawn_with(&dir.path().join("db"), Some(&config));
    let mut follower = Follower::open(&server.base, "/post", None);
    assert_eq!(first_retry(&mut follower), 3000);
    ready(&mut follower);
    let stopped = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let last = follower.next(Duration::from_secs(5)).expect("a last frame");
    assert_eq!(last.retry, Some(1500), "{last:?}");
    assert!(
        follower.next(Duration::from_secs(5)).is_none(),
        "then the stream ends"
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "a stream does not hold the stop up: {:?}",
        stopped.elapsed()
    );
}

/// Hardening round two, item 2: every page anyone ever followed kept its channel for ever
/// (3,000 streams for new page keys grew the server by 8.5 MiB, never returned), and opening
/// a stream cost no budget.
#[test]
fn a_pages_channel_goes_with_its_last_follower_and_opening_a_stream_spends_the_read_budget() {
    let server = TestServer::start_with(|c| c.live_streams_per_client = 1000);
    let base = &server.base;
    let mut followers: Vec<Follower> = (0..100)
        .map(|n| Follower::open(base, &format!("/junk-{n}"), None))
        .collect();
    for f in &mut followers {
        assert_eq!(f.status, 200);
        first_retry(f);
    }
    assert_eq!(server.service.followed_pages(), 100);
    drop(followers);
    // A stream learns its reader left when a write to it fails: the next heartbeat at most.
    let deadline = Instant::now() + Duration::from_secs(45);
    while server.service.followed_pages() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} pages keep a channel with nobody following",
            server.service.followed_pages()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let budgeted = TestServer::start_with(|c| {
        c.live_streams_per_client = 1000;
        c.read_rate_limit_per_minute = 3;
    });
    let statuses: Vec<u16> = (0..4)
        .map(|n| Follower::open(&budgeted.base, &format!("/p{n}"), None).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
}

/// Hardening round two, item 2: a catch-up held every missed frame of a busy thread in memory
/// for each reconnecting stream; past its byte cap the follower reads the thread again.
#[test]
fn a_catch_up_too_big_to_hold_becomes_a_reload() {
    let server = TestServer::start();
    let base = &server.base;
    let before = server.service.last_change().unwrap();
    let long = "word ".repeat(3000);
    for n in 0..25 {
        comment(base, &format!("Writer{n}"), &long, None);
    }
    let mut back = Follower::open(base, "/post", Some(before));
    first_retry(&mut back);
    let (id, event) = back.update();
    assert_eq!(event["kind"], "reload", "{event}");
    assert_eq!(id, 0, "a reload moves no cursor");
    assert_eq!(ready(&mut back), server.service.last_change().unwrap());
}
