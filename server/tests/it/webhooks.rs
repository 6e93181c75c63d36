//! Webhooks against a receiver on loopback that checks each signature the way the README tells
//! receivers to, is down for a while, then up.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use talkback_server::config::{HookFormat, Webhook};

use crate::support::*;

const SECRET: &str = "a-secret-of-some-length";

/// One request the receiver got: headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A receiver that refuses the first `refuse` requests with 503, then accepts.
pub(crate) fn receiver(refuse: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    receiver_answering(move |n, _| (n < refuse).then_some("503 Busy"))
}

/// A receiver that answers the status `refusal` gives for the `n`th request and its body (or
/// accepts it, keeping it, when that is `None`).
fn receiver_answering(
    refusal: impl Fn(usize, &str) -> Option<&'static str> + Send + 'static,
) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&got);
    let seen = AtomicUsize::new(0);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((n, v)) = l.split_once(':') {
                    headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let mut out = stream;
            let body = String::from_utf8(body).unwrap();
            if let Some(status) = refusal(n, &body) {
                let _ = out.write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                );
                continue;
            }
            kept.lock().unwrap().push(Received { headers, body });
            let _ = out.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

pub(crate) fn wait_for(
    got: &Arc<Mutex<Vec<Received>>>,
    n: usize,
    within: Duration,
) -> Vec<Received> {
    let end = Instant::now() + within;
    loop {
        let now = got.lock().unwrap().clone();
        if now.len() >= n || Instant::now() > end {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a receiver does: recompute the signature over `t.body` and compare, refuse old `t`.
fn verify(received: &Received) -> Value {
    let header = received.header("talkback-signature").expect("signed");
    let (t, v1) = header
        .split_once(",v1=")
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?.parse::<i64>().ok()?, v)))
        .expect("t=…,v1=…");
    let now = talkback_server::service::now_ms() / 1000;
    assert!((now - t).abs() < 300, "fresh timestamp");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", received.body).as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("the signature matches");
    serde_json::from_str(&received.body).unwrap()
}

fn hooked(url: &str) -> impl FnOnce(&mut talkback_server::config::Config) {
    let url = url.to_owned();
    move |c| {
        for site in &mut c.sites {
            site.webhooks = vec![Webhook {
                url: url.clone(),
                format: HookFormat::Json,
                secret: SECRET.into(),
                chat_id: None,
                events: Vec::new(),
            }];
        }
    }
}

#[test]
fn signed_events_follow_a_comment_through_its_life() {
    let (url, got) = receiver(0);
    let server = TestServer::start_with(hooked(&url));
    with_accounts(&server);
    let ann = comment(&server.base, "Ann", "Hello <b>hooks</b>", None);
    let id = ann["comment"]["id"].as_u64().unwrap();
    let zoe = sign_in(&server.base, "zoe");
    assert_eq!(zoe.moderate("spam", &[id]).status, 200);
    assert_eq!(zoe.moderate("approve", &[id]).status, 200);
    let key = ann["edit_key"].as_str().unwrap();
    let deleted = call(
        &server.base,
        "DELETE",
        &format!("/api/v1/comments/{id}"),
        None,
        &[("X-Talkback-Edit-Key", key)],
    );
    assert_eq!(deleted.status, 200);
    let received = wait_for(&got, 4, Duration::from_secs(10));
    let kinds: Vec<String> = received
        .iter()
        .map(|r| r.header("talkback-event").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "comment.created",
            "comment.spam",
            "comment.approved",
            "comment.deleted"
        ]
    );
    let first = verify(&received[0]);
    assert_eq!(first["type"], "comment.created");
    assert_eq!(first["comment"]["author"], "Ann");
    assert_eq!(first["comment"]["text"], "Hello <b>hooks</b>");
    assert_eq!(first["page"]["key"], "/post");
    assert_eq!(
        received[0].header("talkback-delivery"),
        first["id"].as_str()
    );
    let text = received.iter().map(|r| r.body.clone()).collect::<String>();
    assert!(
        !text.contains("@example.com"),
        "no e-mail in events: {text}"
    );
    for r in &received {
        verify(r);
    }
    // Tampering is caught: the same signature does not fit another body.
    let mut forged = received[0].clone();
    forged.body = forged.body.replace("Ann", "Eve");
    assert!(std::panic::catch_unwind(|| verify(&forged)).is_err());
}

#[test]
fn a_receiver_that_is_down_gets_the_event_once_it_is_up() {
    let (url, got) = receiver(2);
    let server = TestServer::start_with(hooked(&url));
    comment(&server.base, "Ann", "delivered on the third try", None);
    let received = wait_for(&got, 1, Duration::from_secs(15));
    assert_eq!(received.len(), 1);
    let event = verify(&received[0]);
    assert_eq!(event["comment"]["text"], "delivered on the third try");
    let metrics = call(&server.base, "GET", "/metrics", None, &[]);
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains("talkback_webhooks_delivered_total 1"),
        "{text}"
    );
    assert!(
        text.contains("talkback_webhooks_failed_attempts_total 2"),
        "{text}"
    );
    // The delivery log, newest first, as the owner sees it.
    with_accounts(&server);
    let zoe = sign_in(&server.base, "zoe");
    let log = zoe.send("GET", "/admin/api/deliveries", None);
    assert_eq!(log.status, 200, "{log:?}");
    let outcomes: Vec<&str> = log.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["delivered", "retrying", "retrying"]);
    let first = &log.body["deliveries"][0];
    assert_eq!(first["detail"], "");
    assert_eq!(log.body["deliveries"][1]["detail"], "answered 503");
    assert!(
        !first["target"].as_str().unwrap().contains("/hook"),
        "the path (a token, for chat hooks) is not shown: {first}"
    );
}

#[test]
fn bad_webhooks_are_refused_when_the_configuration_loads() {
    for bad in [
        "[[sites.webhooks]]\nurl = \"ftp://x.example/hook\"\nsecret = \"0123456789abcdef\"",
        "[[sites.webhooks]]\nurl = \"https://x.example/hook\"\nsecret = \"short\"",
        "[[sites.webhooks]]\nurl = \"https://api.telegram.org/botX/sendMessage\"\nformat = \"telegram\"",
    ] {
        let text = format!("[[sites]]\nid = \"blog\"\n{bad}");
        assert!(
            talkback_server::config::Config::from_toml(&text).is_err(),
            "{bad}"
        );
    }
    let good = "[[sites]]\nid = \"blog\"\n[[sites.webhooks]]\nurl = \"https://x.example/hook\"\nsecret = \"0123456789abcdef\"";
    let config = talkback_server::config::Config::from_toml(good).unwrap();
    let printed = toml::to_string(&config.redacted()).unwrap();
    assert!(!printed.contains("0123456789abcdef"), "{printed}");
}

#[test]
fn talkback_webhooks_test_pings_each_hook_and_shows_the_answer() {
    let (url, got) = receiver(0);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("talkback.toml");
    std::fs::write(
        &config,
        format!(
            "[[sites]]\nid = \"blog\"\norigins = [\"{BLOG_ORIGIN}\"]\n{SPAM_OFF_TOML}\
             [[sites.webhooks]]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n"
        ),
    )
    .unwrap();
    let db = dir.path().join("db");
    let _server = ServerProcess::spawn_with(&db, Some(&config));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_talkback"))
        .args(["--config"])
        .arg(&config)
        .args(["webhooks", "test", "--site", "blog"])
        .env("TALKBACK_DATABASE", &db)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        printed.contains("ping") && printed.contains("delivered"),
        "{printed}"
    );
    let received = wait_for(&got, 1, Duration::from_secs(5));
    assert_eq!(verify(&received[0])["type"], "ping");
    let config_printed = std::process::Command::new(env!("CARGO_BIN_EXE_talkback"))
        .args(["--config"])
        .arg(&config)
        .arg("config")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&config_printed.stdout);
    assert!(text.contains("(set)") && !text.contains(SECRET), "{text}");
}

/// Hardening round two (LOW): a receiver's final refusal (410 Gone) was retried for a day, in
/// order, holding up every event behind it. A 4xx is given up at once; the next event goes.
#[test]
fn a_receivers_final_refusal_is_given_up_at_once_and_holds_up_nothing() {
    let (url, got) = receiver_answering(|_, body| body.contains("refuse me").then_some("410 Gone"));
    let server = TestServer::start_with(hooked(&url));
    with_accounts(&server);
    comment(&server.base, "Ann", "refuse me", None);
    comment(&server.base, "Bob", "take me", None);
    let delivered = wait_for(&got, 1, Duration::from_secs(5));
    assert_eq!(
        delivered.len(),
        1,
        "the event behind the refused one went through"
    );
    assert!(verify(&delivered[0])["comment"]["text"] == "take me");
    let log = sign_in(&server.base, "zoe").get("/admin/api/deliveries");
    let outcomes: Vec<(String, String)> = log.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["outcome"].as_str().unwrap().to_owned(),
                d["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&("given_up".into(), "answered 410".into())),
        "{outcomes:?}"
    );
    assert!(
        !outcomes.iter().any(|(o, _)| o == "retrying"),
        "{outcomes:?}"
    );
}
