//! Running it for real: the health checks, and a graceful stop on SIGTERM during a write load
//! (no acknowledged comment lost, no client cut off mid-request, exit within the bound).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

#[test]
fn health_checks_say_alive_and_ready() {
    let server = TestServer::start();
    for (path, status) in [("/healthz", "alive"), ("/readyz", "ready")] {
        let reply = get(&server.base, path);
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        assert_eq!(reply.body["status"], status);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        // Read-only: nothing else is routed there.
        let post = call(&server.base, "POST", path, Some("{}"), &[]);
        assert_eq!(post.status, 404, "{path}: {post:?}");
    }
}

/// How one writer's requests ended.
#[derive(Default)]
struct Outcomes {
    acknowledged: Vec<u64>,
    /// Refused to connect: the server had stopped accepting (fine).
    refused: usize,
    /// Cut off mid-request (a reset, an empty reply): what a graceful stop must not do.
    cut_off: Vec<String>,
}

#[test]
fn sigterm_finishes_requests_in_flight_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("db");
    let server = ServerProcess::spawn(&database);
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (base, stop, outcomes) = (
                server.base.clone(),
                Arc::clone(&stop),
                Arc::clone(&outcomes),
            );
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(20))
                    .build();
                let mut tries = 0;
                while !stop.load(Ordering::Relaxed) {
                    tries += 1;
                    let body = json!({"site": "demo", "page": "/load", "author": format!("w{w}"),
                                      "body": format!("try {tries}")});
                    let result = agent
                        .post(&format!("{base}/api/v1/comments"))
                        .send_json(body);
                    let mut out = outcomes.lock().unwrap();
                    match result {
                        Ok(r) if r.status() == 201 => {
                            let v: serde_json::Value = r.into_json().unwrap();
                            out.acknowledged.push(v["comment"]["id"].as_u64().unwrap());
                        }
                        Ok(r) => out.cut_off.push(format!("status {}", r.status())),
                        Err(ureq::Error::Transport(t))
                            if t.kind() == ureq::ErrorKind::ConnectionFailed =>
                        {
                            out.refused += 1;
                            break;
                        }
                        Err(e) => {
                            out.cut_off.push(e.to_string());
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let mut server = server;
    let asked = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(15),
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = asked.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(status.success(), "exit status {status:?}");
    let outcomes = outcomes.lock().unwrap();
    assert!(outcomes.acknowledged.len() > 100, "the load actually ran");
    assert!(
        outcomes.cut_off.is_empty(),
        "cut off: {:?}",
        outcomes.cut_off
    );

    let server = ServerProcess::spawn(&database);
    let stored: BTreeSet<u64> = {
        let mut ids = BTreeSet::new();
        let mut cursor = String::new();
        loop {
            let page = get(
                &server.base,
                &format!("/api/v1/threads?site=demo&page=/load&limit=100&cursor={cursor}"),
            );
            for c in page.body["comments"].as_array().unwrap() {
                ids.insert(c["id"].as_u64().unwrap());
            }
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => break ids,
            }
        }
    };
    let lost: Vec<_> = outcomes
        .acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    eprintln!(
        "SIGTERM test: {} acknowledged, {} refused after the stop, exit {:.0} ms after SIGTERM",
        outcomes.acknowledged.len(),
        outcomes.refused,
        took.as_secs_f64() * 1e3
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}

#[test]
fn every_response_names_its_request_and_errors_carry_the_id() {
    let server = TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    let plain = TestServer::start();
    // (server, X-Request-Id sent) → the id is the proxy's, or a fresh one.
    let cases = [
        (&server, Some("from-nginx-42"), Some("from-nginx-42")),
        (&server, Some("bad id!"), None),
        (&plain, Some("from-nginx-42"), None),
        (&plain, None, None),
    ];
    for (at, sent, kept) in cases {
        let mut headers = vec![("Origin", BLOG_ORIGIN)];
        if let Some(id) = sent {
            headers.push(("X-Request-Id", id));
        }
        let body = json!({"site": "nope", "page": "/", "body": "x"}).to_string();
        let reply = call(&at.base, "POST", "/api/v1/comments", Some(&body), &headers);
        assert_eq!(reply.status, 404, "{reply:?}");
        let header = reply.header("x-request-id").unwrap().to_owned();
        assert_eq!(reply.body["request_id"].as_str(), Some(header.as_str()));
        match kept {
            Some(id) => assert_eq!(header, id),
            None => assert!(
                header.len() == 16 && Some(header.as_str()) != sent,
                "{header}"
            ),
        }
    }
    // Successful responses carry the header too, and each request gets its own id.
    let a = get(&plain.base, "/healthz");
    let b = get(&plain.base, "/healthz");
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}

#[test]
fn metrics_count_requests_writes_and_spam_and_are_kept_to_this_machine() {
    let server = TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    comment(&server.base, "Ann", "counted", None);
    // A miss, then a hit.
    get(&server.base, "/api/v1/threads?site=blog&page=/post");
    get(&server.base, "/api/v1/threads?site=blog&page=/post");
    let reply = call(&server.base, "GET", "/metrics", None, &[]);
    assert_eq!(reply.status, 200, "{reply:?}");
    let text = reply.body.as_str().unwrap().to_owned();
    for line in [
        r#"talkback_http_requests_total{route="/api/v1/comments",method="POST",status="201"} 1"#,
        r#"talkback_http_requests_total{route="/api/v1/threads",method="GET",status="200"} 2"#,
        "talkback_thread_cache_hits_total 1",
        "talkback_thread_cache_misses_total 1",
        "talkback_thread_cache_evictions_total 0",
        "talkback_thread_cache_pages 1",
        r#"talkback_http_request_duration_seconds_count{route="/api/v1/comments"} 1"#,
        "talkback_write_commits_total 1",
        "talkback_write_flush_seconds_count 1",
        r#"talkback_comments_judged_total{site="blog",outcome="accepted",reason="all"} 1"#,
        "# EOF",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    let cached_bytes: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("talkback_thread_cache_bytes "))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(cached_bytes > 100, "{text}");
    // A client behind the proxy counts as itself, not as the proxy's loopback address.
    let outside = call(
        &server.base,
        "GET",
        "/metrics",
        None,
        &[("X-Forwarded-For", "203.0.113.9")],
    );
    assert_eq!(
        (outside.status, outside.body["error"].as_str()),
        (403, Some("not_permitted"))
    );
    let allowed = TestServer::start_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.metrics_allow = vec!["203.0.113.0/24".into()];
    });
    let inside = call(
        &allowed.base,
        "GET",
        "/metrics",
        None,
        &[("X-Forwarded-For", "203.0.113.9")],
    );
    assert_eq!(inside.status, 200);
}

#[test]
fn a_metrics_token_lets_a_remote_scraper_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxied.toml");
    std::fs::write(
        &config,
        "trusted_proxies = [\"127.0.0.1\"]\n[[sites]]\nid = \"demo\"\n",
    )
    .unwrap();
    let server = ServerProcess::spawn_with_env(
        &dir.path().join("db"),
        Some(&config),
        &[("TALKBACK_METRICS_TOKEN", "s3cret-scraper")],
    );
    let remote = [("X-Forwarded-For", "198.51.100.7")];
    let cases = [
        (None, 403),
        (Some("Bearer wrong-token-xx"), 403),
        (Some("Bearer s3cret-scraper"), 200),
    ];
    for (auth, status) in cases {
        let mut headers = remote.to_vec();
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        let reply = call(&server.base, "GET", "/metrics", None, &headers);
        assert_eq!(reply.status, status, "{auth:?}: {reply:?}");
    }
}

/// `talkback init` writes a private, commented configuration that a server starts from, and
/// prints the snippet; it never overwrites a file and refuses what the configuration would.
#[test]
fn init_writes_a_starter_config_and_prints_the_snippet() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("talkback.toml");
    let init = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_talkback"))
            .arg("init")
            .args(args)
            .arg("--out")
            .arg(&config)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    };
    let cases: [(&[&str], &str); 3] = [
        (
            &["--site", "my blog", "--origin", "https://blog.example"],
            "site id",
        ),
        (
            &["--site", "blog", "--origin", "https://blog.example/path"],
            "origin",
        ),
        (
            &[
                "--site",
                "blog",
                "--origin",
                "https://blog.example",
                "--public-url",
                "javascript:x",
            ],
            "--public-url",
        ),
    ];
    for (args, complaint) in cases {
        let out = init(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(complaint),
            "{out:?}"
        );
        assert!(!config.exists(), "{args:?} wrote nothing");
    }
    let args = [
        "--site",
        "blog",
        "--origin",
        "https://blog.example",
        "--public-url",
        "https://comments.blog.example/",
    ];
    let out = init(&args);
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(
            r#"<script src="https://comments.blog.example/embed.js" data-site="blog" defer></script>"#
        ),
        "{printed}"
    );
    let mode = std::fs::metadata(&config).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(!init(&args).status.success(), "a second init refuses");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), written);

    // A server starts from it and takes comments from the blog's origin.
    let server = ServerProcess::spawn_with(&dir.path().join("db"), Some(&config));
    let reply = call(
        &server.base,
        "POST",
        "/api/v1/preview",
        Some(r#"{"body":"hi"}"#),
        &[("Origin", "https://blog.example")],
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://blog.example")
    );
}

/// Hardening round two, item 5: every invented method was a series of its own, kept for ever.
#[test]
fn invented_methods_do_not_grow_the_metrics() {
    let server = TestServer::start();
    for n in 0..50 {
        call(
            &server.base,
            &format!("FOO{n}"),
            "/api/v1/counts",
            None,
            &[],
        );
    }
    let text = call(&server.base, "GET", "/metrics", None, &[])
        .body
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!text.contains("FOO"), "{text}");
    let invented = text
        .lines()
        .filter(|l| {
            l.starts_with("talkback_http_requests_total{") && l.contains(r#"method="other""#)
        })
        .count();
    assert_eq!(invented, 1, "one series for all invented methods:\n{text}");
}
