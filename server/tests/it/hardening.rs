//! Regression tests for the hostile-reader review: each test is named after what it prevents
//! and runs against a real server on loopback (or the real binary) with a real database.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};
use talkback_store::{NewComment, Status, Store, WriteSeq};

use crate::support::*;

fn create(base: &str, body: &Value) -> Reply {
    post(base, "/api/v1/comments", body)
}

fn thread_of(base: &str, page: &str) -> Reply {
    get(base, &format!("/api/v1/threads?site=blog&page={page}"))
}

/// Deepest nesting of JSON arrays and objects in a value.
fn json_depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(json_depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn new_record(
    page: &str,
    body_tree: &str,
    status: Status,
    edit_key_hash: Option<String>,
) -> NewComment {
    NewComment {
        site: "blog".into(),
        page_key: page.into(),
        page_title: None,
        page_url: None,
        parent: None,
        max_depth: 32,
        author: "Stored".into(),
        email: None,
        website: None,
        body_source: "x".into(),
        body_tree: body_tree.into(),
        created: 1_700_000_000_000,
        status,
        edit_key_hash,
        edited: None,
        source: None,
        ip: None,
        held_for: Vec::new(),
        pinned: false,
        moderator_edit: false,
    }
}

/// A server on a database prepared beforehand (the directory outlives the server).
fn server_on(prepare: impl FnOnce(&dyn Store)) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    {
        let mut config = test_config(dir.path());
        config.database = db.clone();
        let store = open_store(&config);
        prepare(store.as_ref());
        store.flush_through(WriteSeq::ALL).unwrap();
    }
    let server = TestServer::start_with(move |c| c.database = db);
    (server, dir)
}

// 1. Poison-pill bodies.

#[test]
fn deeply_nested_emphasis_cannot_break_a_thread() {
    let server = TestServer::start();
    let base = &server.base;
    let poison = format!("{}x{}", "*a ".repeat(80), " a*".repeat(80));
    let posted = create(
        base,
        &json!({"site": "blog", "page": "/poison", "body": poison}),
    );
    assert_eq!(posted.status, 201, "{posted:?}");
    let stars = format!("{}x{}", "*".repeat(8190), "*".repeat(8190));
    let second = create(
        base,
        &json!({"site": "blog", "page": "/poison", "body": stars}),
    );
    assert!(matches!(second.status, 201 | 400), "{second:?}");
    let html = format!("{}x{}", "<b>".repeat(63), "</b>".repeat(63));
    let third = create(
        base,
        &json!({"site": "blog", "page": "/poison", "body": html}),
    );
    assert_eq!(third.status, 201);
    let t = thread_of(base, "/poison");
    assert_eq!(t.status, 200, "the thread still reads: {t:?}");
    assert!(json_depth(&t.body) < 64, "bodies nest shallowly");
    let html = get(base, "/api/v1/threads/html?site=blog&page=/poison");
    assert_eq!(html.status, 200);
    // An edit is held to the same rule.
    let id = posted.body["comment"]["id"].as_u64().unwrap();
    let key = posted.body["edit_key"].as_str().unwrap();
    let edited = call(
        base,
        "PUT",
        &format!("/api/v1/comments/{id}"),
        Some(&json!({"body": "~~_".repeat(200)}).to_string()),
        &[("X-Talkback-Edit-Key", key), ("Origin", BLOG_ORIGIN)],
    );
    assert_eq!(edited.status, 200, "{edited:?}");
    assert_eq!(thread_of(base, "/poison").status, 200);
}

#[test]
fn a_stored_body_that_cannot_be_decoded_shows_a_placeholder_not_a_failed_page() {
    let (server, _dir) = server_on(|store| {
        store
            .insert_comment(new_record(
                "/broken",
                "[{\"no such node\":1}]",
                Status::Approved,
                None,
            ))
            .unwrap();
        store
            .insert_comment(new_record(
                "/broken",
                "[{\"paragraph\":[{\"text\":\"fine\"}]}]",
                Status::Approved,
                None,
            ))
            .unwrap();
    });
    let t = thread_of(&server.base, "/broken");
    assert_eq!(t.status, 200, "{t:?}");
    let text = t.body.to_string();
    assert!(text.contains("This comment cannot be shown."), "{text}");
    assert!(text.contains("fine"), "the other comment reads normally");
    assert_eq!(
        get(&server.base, "/api/v1/threads/html?site=blog&page=/broken").status,
        200
    );
}

// 2. Bounded work per request.

#[test]
fn replies_are_paged_so_a_read_never_loads_a_whole_huge_subthread() {
    let server = TestServer::start();
    let base = &server.base;
    let top = comment(base, "Top", "first", None)["comment"]["id"]
        .as_u64()
        .unwrap();
    let mut parent = top;
    for i in 0..30 {
        let id = comment(base, &format!("R{i}"), "a reply", Some(parent))["comment"]["id"]
            .as_u64()
            .unwrap();
        if i < 3 {
            parent = id; // a short chain, then siblings
        }
    }
    let t = thread_of(base, "/post");
    let first = &t.body["comments"][0];
    fn count(c: &Value) -> usize {
        c["replies"]
            .as_array()
            .map_or(0, |r| r.len() + r.iter().map(count).sum::<usize>())
    }
    assert_eq!(
        count(first),
        10,
        "the first page carries the first 10 replies"
    );
    assert_eq!(first["more_replies"], 20);
    let mut cursor = first["replies_cursor"].as_str().unwrap().to_owned();
    let mut seen = 10;
    let mut pages = 0;
    loop {
        let r = get(
            base,
            &format!("/api/v1/replies?site=blog&page=/post&root={top}&cursor={cursor}"),
        );
        assert_eq!(r.status, 200, "{r:?}");
        seen += r.body["replies"].as_array().unwrap().len();
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!((seen, pages), (30, 1));
    let html = get(base, "/api/v1/threads/html?site=blog&page=/post").body;
    assert!(
        html.as_str().unwrap().contains("Show 20 more replies"),
        "the first paint counts the replies not sent yet"
    );
    let bad = get(
        base,
        &format!("/api/v1/replies?site=blog&page=/post&root={top}&cursor=nonsense"),
    );
    assert_eq!(
        (bad.status, bad.body["error"].as_str()),
        (400, Some("invalid_cursor"))
    );
}

#[test]
fn cache_busting_variants_share_one_entry_and_junk_pages_are_read_limited() {
    let server = TestServer::start_with(|c| c.read_rate_limit_per_minute = 5);
    let base = &server.base;
    comment(base, "A", "hello", None);
    // Equal after normalisation: the same cached body (a miss would count against the budget).
    let variants = [
        "&limit=100",
        "&limit=101",
        "&limit=164",
        "&limit=999",
        "&limit=100&cursor=",
        "&limit=0100",
    ];
    for v in variants {
        assert_eq!(thread_of(base, &format!("/post{v}")).status, 200, "{v}");
    }
    for v in variants {
        assert_eq!(
            thread_of(base, &format!("/post{v}")).status,
            200,
            "cached: {v}"
        );
    }
    // Pages that do not exist are never cached, so each read of one counts.
    let mut statuses = vec![];
    for i in 0..10 {
        let r = thread_of(base, &format!("/junk-{i}"));
        statuses.push(r.status);
        if r.status == 429 {
            assert!(r.header("retry-after").is_some(), "{r:?}");
            assert_eq!(r.body["error"], "rate_limited");
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

// 3. Rate limits.

#[test]
fn ipv6_clients_share_one_bucket_per_slash_64_and_get_retry_after() {
    let server = TestServer::start_with(|c| {
        c.rate_limit_per_minute = 1;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    });
    let body = json!({"site": "blog", "page": "/v6", "body": "hi"}).to_string();
    let send = |client: &str| {
        call(
            &server.base,
            "POST",
            "/api/v1/comments",
            Some(&body),
            &[("Origin", BLOG_ORIGIN), ("X-Forwarded-For", client)],
        )
    };
    assert_eq!(send("2001:db8:1:2::1").status, 201);
    let refused = send("2001:db8:1:2:ffff:ffff:ffff:fffe");
    assert_eq!(refused.status, 429, "same /64, same bucket");
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=61).contains(&wait), "{wait}");
    assert_eq!(send("[2001:db8:1:3::1]:443").status, 201, "another /64");
    assert_eq!(send("::ffff:198.51.100.7").status, 201);
    assert_eq!(send("198.51.100.7").status, 429, "mapped IPv4 is that IPv4");
}

#[test]
fn an_unreadable_forwarded_for_is_refused_not_pooled_with_the_proxy() {
    let server = TestServer::start_with(|c| {
        c.rate_limit_per_minute = 5;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    });
    let body = json!({"site": "blog", "page": "/xff", "body": "hi"}).to_string();
    for junk in ["unknown", "", "1.2.3", "not an address"] {
        let r = call(
            &server.base,
            "POST",
            "/api/v1/comments",
            Some(&body),
            &[("Origin", BLOG_ORIGIN), ("X-Forwarded-For", junk)],
        );
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (400, Some("invalid_client_address")),
            "{junk:?}"
        );
    }
    assert_eq!(thread_of(&server.base, "/xff").body["total"], 0);
}

#[test]
fn previews_and_counts_have_a_read_budget() {
    let server = TestServer::start_with(|c| c.read_rate_limit_per_minute = 3);
    let preview = json!({"body": "*hi*"}).to_string();
    let statuses: Vec<u16> = (0..5)
        .map(|_| call(&server.base, "POST", "/api/v1/preview", Some(&preview), &[]).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let counts = json!({"site": "blog", "pages": ["/a"]}).to_string();
    assert_eq!(
        call(&server.base, "POST", "/api/v1/counts", Some(&counts), &[]).status,
        429,
        "one budget for every expensive read"
    );
}

// 4. Request decompression.

#[test]
fn compressed_request_bodies_are_refused_before_they_inflate() {
    let server = TestServer::start();
    let json = json!({"site": "blog", "page": "/gz", "body": "x".repeat(60_000)}).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(json.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let response = agent()
        .post(&format!("{}/api/v1/comments", server.base))
        .set("Content-Type", "application/json")
        .set("Content-Encoding", "gzip")
        .set("Origin", BLOG_ORIGIN)
        .send_bytes(&bytes);
    let response = match response {
        Err(ureq::Error::Status(_, r)) | Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(response.status(), 415);
    let body: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
    assert_eq!(body["error"], "unsupported_encoding");
    assert_eq!(thread_of(&server.base, "/gz").body["total"], 0);
}

// 5. Privacy.

#[test]
fn identicons_cannot_confirm_a_guessed_email_or_link_servers() {
    let avatar = |base: &str| {
        create(
            base,
            &json!({"site": "blog", "page": "/a", "body": "hi", "email": "Known@Example.com"}),
        )
        .body["comment"]["avatar"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let one = TestServer::start();
    let two = TestServer::start();
    let (a, b) = (avatar(&one.base), avatar(&two.base));
    assert_eq!(a.len(), 8);
    assert_ne!(a, b, "each database has its own secret");
    assert_eq!(avatar(&one.base), a, "stable for the same author");
    // The old unkeyed seed anyone could compute.
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"talkback-avatar\0known@example.com");
    assert_ne!(a, hex::encode(&h.finalize()[..4]));
}

/// Posts as a client with no `Origin` (the `demo` site of a server started as a process).
fn create_plain(base: &str, body: &Value) -> Reply {
    call(
        base,
        "POST",
        "/api/v1/comments",
        Some(&body.to_string()),
        &[],
    )
}

#[test]
fn the_identicon_secret_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let avatar = |server: &ServerProcess| {
        create_plain(
            &server.base,
            &json!({"site": "demo", "page": "/a", "body": "hi", "email": "x@example.com"}),
        )
        .body["comment"]["avatar"]
            .clone()
    };
    let first = {
        let server = ServerProcess::spawn(&db);
        avatar(&server)
    };
    let server = ServerProcess::spawn(&db);
    assert_eq!(avatar(&server), first);
}

#[test]
fn the_database_directory_and_backups_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let server = ServerProcess::spawn(&db);
    assert_eq!(
        create_plain(
            &server.base,
            &json!({"site": "demo", "page": "/p", "body": "hi"})
        )
        .status,
        201
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o700);
    for entry in walk(&db) {
        let m = mode(&entry);
        if entry.is_dir() {
            assert_eq!(m, 0o700, "{}", entry.display());
        } else {
            assert_eq!(m & 0o077, 0, "{} is {m:o}", entry.display());
        }
    }
    drop(server);
    let config = talkback_server::config::Config {
        database: db,
        ..test_config(dir.path())
    };
    let service = open_service(&config);
    let backups = dir.path().join("backups");
    let files =
        talkback_server::transfer::backup::run_once(&service, &["demo".into()], &backups, 3, 0)
            .unwrap();
    assert_eq!(mode(&backups), 0o700);
    assert_eq!(mode(&files[0]), 0o600);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn names_and_titles_lose_bidi_and_zero_width_characters() {
    let server = TestServer::start();
    let r = create(
        &server.base,
        &json!({"site": "blog", "page": "/bidi", "title": "Re\u{200b}al\u{2066} title", "body": "hi", "author": "\u{202e}nimdA\u{200d}\u{feff}"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.body["comment"]["author"], "nimdA");
    assert_eq!(thread_of(&server.base, "/bidi").body["title"], "Real title");
}

// 6. Page metadata.

#[test]
fn a_page_url_off_the_sites_origins_is_never_recorded() {
    let server = TestServer::start();
    for (i, url) in [
        "https://evil.example/post",
        "https://blog.example@evil.example/post",
        "http://blog.example/post",
    ]
    .into_iter()
    .enumerate()
    {
        // The reader's comment is taken; the address is left out.
        let page = format!("/u{i}");
        let r = create(
            &server.base,
            &json!({"site": "blog", "page": page, "url": url, "body": "hi"}),
        );
        assert_eq!(r.status, 201, "{url}: {r:?}");
        assert_eq!(
            server.service.page_url("blog", &page).unwrap(),
            None,
            "{url}"
        );
    }
    let ok = call(
        &server.base,
        "POST",
        "/api/v1/comments",
        Some(
            &json!({"site": "blog", "page": "/u", "url": "https://blog.example/u", "body": "hi"})
                .to_string(),
        ),
        &[("Origin", BLOG_ORIGIN)],
    );
    assert_eq!(ok.status, 201);
    assert_eq!(
        server.service.page_url("blog", "/u").unwrap().as_deref(),
        Some("https://blog.example/u")
    );
}

#[test]
fn the_header_uses_the_host_pages_title_and_later_comments_refresh_the_stored_one() {
    let server = TestServer::start();
    let base = &server.base;
    let post_titled = |title: &str, origin: Option<&str>| {
        let body =
            json!({"site": "blog", "page": "/titled", "title": title, "body": "hi"}).to_string();
        let headers: Vec<(&str, &str)> = origin.map(|o| ("Origin", o)).into_iter().collect();
        assert_eq!(
            call(base, "POST", "/api/v1/comments", Some(&body), &headers).status,
            201
        );
    };
    post_titled("Squatted title", None);
    assert_eq!(
        thread_of(base, "/titled").body["title"],
        Value::Null,
        "a request from no page of the blog names nothing"
    );
    post_titled("First title", Some(BLOG_ORIGIN));
    post_titled("Corrected title", Some(BLOG_ORIGIN));
    assert_eq!(thread_of(base, "/titled").body["title"], "Corrected title");
    let html = get(
        base,
        "/api/v1/threads/html?site=blog&page=/titled&title=The%20Host%20Page",
    )
    .body;
    assert!(html.as_str().unwrap().contains("The Host Page"), "{html}");
}

#[test]
fn a_page_whose_last_comment_is_deleted_leaves_no_record() {
    let server = TestServer::start();
    let c = create(
        &server.base,
        &json!({"site": "blog", "page": "/gone", "title": "Gone", "body": "hi"}),
    );
    let id = c.body["comment"]["id"].as_u64().unwrap();
    let key = c.body["edit_key"].as_str().unwrap();
    let deleted = call(
        &server.base,
        "DELETE",
        &format!("/api/v1/comments/{id}"),
        None,
        &[("X-Talkback-Edit-Key", key)],
    );
    assert_eq!(deleted.status, 200);
    let t = thread_of(&server.base, "/gone").body;
    assert_eq!(
        (t["title"].clone(), t["total"].clone()),
        (Value::Null, json!(0))
    );
}

// 7. Smaller holes.

#[test]
fn api_responses_carry_nosniff_and_the_html_fragment_a_restrictive_csp() {
    let server = TestServer::start();
    comment(&server.base, "A", "hi", None);
    for path in [
        "/api/v1/threads?site=blog&page=/post",
        "/api/v1/threads/html?site=blog&page=/post",
        "/api/v1/nothing",
    ] {
        let r = get(&server.base, path);
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
    }
    let html = get(&server.base, "/api/v1/threads/html?site=blog&page=/post");
    let csp = html.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("sandbox"),
        "{csp}"
    );
}

#[test]
fn the_demo_serves_only_its_pages_never_the_configuration() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let server = TestServer::start_with(|c| c.examples_dir = examples);
    assert_eq!(get(&server.base, "/").status, 200);
    assert_eq!(get(&server.base, "/modern/").status, 200);
    for path in ["/talkback.toml", "/%74alkback.toml"] {
        assert_eq!(get(&server.base, path).status, 404, "{path}");
    }
    // Traversals, sent exactly as written (an HTTP client would normalise them first).
    assert_not_served(
        &server.base,
        &[
            "/modern/../talkback.toml",
            "/../Cargo.toml",
            "/modern/..%2Ftalkback.toml",
            "/modern/%2e%2e/talkback.toml",
            "/..%2F..%2FCargo.toml",
        ],
        &["[[sites]]", "[package]"],
    );
}

#[test]
fn editing_with_a_wrong_key_answers_the_same_whether_the_comment_exists_or_not() {
    let server = TestServer::start();
    let id = comment(&server.base, "A", "hi", None)["comment"]["id"]
        .as_u64()
        .unwrap();
    let attempt = |method: &str, id: u64| {
        let r = call(
            &server.base,
            method,
            &format!("/api/v1/comments/{id}"),
            (method == "PUT").then_some(r#"{"body":"changed"}"#),
            &[("X-Talkback-Edit-Key", "guess")],
        );
        // Every response has its own request id; the rest must not differ.
        let mut body = r.body;
        body.as_object_mut().unwrap().remove("request_id");
        (r.status, body)
    };
    for method in ["PUT", "DELETE"] {
        assert_eq!(
            attempt(method, id),
            attempt(method, id + 1_000_000),
            "{method}"
        );
        assert_eq!(attempt(method, id).0, 403);
    }
}

#[test]
fn an_edit_of_an_approved_comment_on_a_moderated_site_goes_back_to_moderation() {
    use sha2::Digest;
    let key = "the-edit-key";
    let hash = hex::encode(sha2::Sha256::digest(key.as_bytes()));
    let (server, _dir) = server_on(|store| {
        let mut rec = new_record(
            "/held",
            "[{\"paragraph\":[{\"text\":\"approved\"}]}]",
            Status::Approved,
            Some(hash),
        );
        rec.site = "moderated".into();
        rec.created = talkback_server_now();
        store.insert_comment(rec).unwrap();
    });
    let read = || get(&server.base, "/api/v1/threads?site=moderated&page=/held").body;
    assert_eq!(read()["total"], 1);
    let id = read()["comments"][0]["id"].as_u64().unwrap();
    let edited = call(
        &server.base,
        "PUT",
        &format!("/api/v1/comments/{id}"),
        Some(r#"{"body":"now with a link https://spam.example"}"#),
        &[("X-Talkback-Edit-Key", key), ("Origin", BLOG_ORIGIN)],
    );
    assert_eq!(edited.status, 200, "{edited:?}");
    assert_eq!(edited.body["comment"]["pending"], true);
    assert_eq!(read()["total"], 0, "held again until approved");
    assert_eq!(read()["comments"], json!([]));
}

fn talkback_server_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn a_reply_chain_of_any_length_in_an_import_is_reported_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut wxr = String::from(
        "<?xml version=\"1.0\"?><rss xmlns:wp=\"http://wordpress.org/export/1.2/\"><channel><item><title>Chain</title><link>https://blog.example/chain/</link><wp:post_id>1</wp:post_id>",
    );
    let n = 20_000;
    for i in 1..=n {
        wxr.push_str(&format!(
            "<wp:comment><wp:comment_id>{i}</wp:comment_id><wp:comment_author>A</wp:comment_author><wp:comment_date_gmt>2024-01-01 00:00:00</wp:comment_date_gmt><wp:comment_content>reply {i}</wp:comment_content><wp:comment_approved>1</wp:comment_approved><wp:comment_parent>{}</wp:comment_parent></wp:comment>",
            i - 1
        ));
    }
    wxr.push_str("</item></channel></rss>");
    let file = dir.path().join("chain.xml");
    std::fs::write(&file, wxr).unwrap();
    let service = open_service(&test_config(dir.path()));
    // The parent walk used to recurse once per level; run it on a small stack to prove it no longer does.
    let report = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            talkback_server::transfer::import_file(
                &service,
                &blog_site(),
                talkback_server::transfer::Format::Wordpress,
                &file,
                false,
            )
            .unwrap()
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    assert_eq!(report.imported, 33, "the top and 32 levels of replies");
    assert_eq!(report.imported + report.skipped.len(), n);
    assert!(
        report.skipped[0].1.contains("deeper than 32"),
        "{:?}",
        report.skipped[0]
    );
}

#[test]
fn imported_times_are_clamped_to_a_sane_range() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"version":1,"users":[],"posts":[]}"#,
        r#"{"id":"far","pid":"","text":"from the future","user":{"name":"F","id":"f"},"locator":{"site":"s","url":"https://blog.example/t/"},"time":"2999-12-31T23:59:59Z"}"#,
        r#"{"id":"old","pid":"","text":"from before the epoch","user":{"name":"O","id":"o"},"locator":{"site":"s","url":"https://blog.example/t/"},"time":"1901-01-01T00:00:00Z"}"#,
    ];
    let file = dir.path().join("r42.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let service = open_service(&test_config(dir.path()));
    let report = talkback_server::transfer::import_file(
        &service,
        &blog_site(),
        talkback_server::transfer::Format::Remark42,
        &file,
        false,
    )
    .unwrap();
    assert_eq!(report.imported, 2, "{report:?}");
    let exported = talkback_server::transfer::talkback::export(&service, "blog").unwrap();
    let doc = serde_json::from_str::<Value>(&exported).unwrap();
    let times: Vec<i64> = doc["pages"][0]["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["created"].as_i64().unwrap())
        .collect();
    assert_eq!(times.len(), 2);
    assert!(times.contains(&0), "before 1970 becomes 1970: {times:?}");
    assert!(
        times
            .iter()
            .all(|t| *t <= talkback_server_now() + 86_400_000),
        "{times:?}"
    );
}

// 8. The owner's way out.

#[test]
fn the_owner_can_delete_a_comment_or_a_whole_thread_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let (top, reply, other) = {
        let store = open_store(&talkback_server::config::Config {
            database: db.clone(),
            ..test_config(dir.path())
        });
        let mut rec = new_record("/spam", "[]", Status::Approved, None);
        rec.site = "demo".into();
        let top = store.insert_comment(rec.clone()).unwrap().0.id;
        rec.parent = Some(top);
        let reply = store.insert_comment(rec.clone()).unwrap().0.id;
        rec.parent = None;
        rec.page_key = "/other".into();
        let other = store.insert_comment(rec).unwrap().0.id;
        store.flush_through(WriteSeq::ALL).unwrap();
        (top, reply, other)
    };
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_talkback"))
            .args(args)
            .env("TALKBACK_DATABASE", &db)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, said) = run(&["delete", "--site", "demo", "--id", &top.to_string()]);
    assert!(ok && said.contains("tombstone"), "{said}");
    let (ok, said) = run(&["delete", "--site", "elsewhere", "--id", &reply.to_string()]);
    assert!(
        !ok && said.contains("not configured"),
        "another site: {said}"
    );
    let (ok, said) = run(&["delete", "--site", "demo", "--page", "/spam"]);
    assert!(ok && said.contains("2 comments deleted"), "{said}");
    let (ok, said) = run(&["delete", "--site", "demo", "--page", "/spam"]);
    assert!(!ok && said.contains("no comments on page"), "{said}");
    let (ok, said) = run(&[
        "page", "--site", "demo", "--page", "/other", "--title", "Fixed",
    ]);
    assert!(ok && said.contains("Fixed"), "{said}");
    let (ok, said) = run(&[
        "page",
        "--site",
        "demo",
        "--page",
        "/other",
        "--url",
        "https://evil.example/x",
    ]);
    assert!(
        !ok && said.contains("not on one of the site's origins"),
        "{said}"
    );
    let store = open_store(&talkback_server::config::Config {
        database: db,
        ..test_config(dir.path())
    });
    assert!(store.comment(top).unwrap().is_none());
    assert!(store.comment(reply).unwrap().is_none());
    assert!(store.comment(other).unwrap().is_some());
    assert_eq!(
        store
            .page("demo", "/other")
            .unwrap()
            .unwrap()
            .title
            .as_deref(),
        Some("Fixed")
    );
    assert_eq!(store.page("demo", "/spam").unwrap(), None);
    // The owner's writes went through the one write path: each is in the change log.
    let kinds: Vec<String> = store
        .changes_after(3, 10)
        .unwrap()
        .iter()
        .map(|c| format!("{} {:?}", c.page_key, c.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            "/spam Deleted { tombstone: true }",
            "/spam PageDeleted { comments: 2 }",
            "/other PageUpdated",
        ]
    );
}

/// Hardening round two, item 3: a script naming the server's own origin (`Origin` = `Host`),
/// or a held comment sent with the blog's `Origin`, rewrote a thread's title and link, which
/// then went into mails, feeds, the sidebar and the no-JS page.
#[test]
fn a_stranger_cannot_rewrite_a_threads_title_and_link() {
    let server = TestServer::start();
    let base = &server.base;
    let send = |site: &str, title: &str, url: &str, headers: &[(&str, &str)]| {
        let body = json!({"site": site, "page": "/victim", "title": title, "url": url,
            "author": "Ann", "body": "hi"});
        call(
            base,
            "POST",
            "/api/v1/comments",
            Some(&body.to_string()),
            headers,
        )
        .status
    };
    let blogs = [("Origin", BLOG_ORIGIN)];
    assert_eq!(
        send(
            "blog",
            "Roses in winter",
            "https://blog.example/victim",
            &blogs
        ),
        201
    );
    let spoofed = [("Origin", "http://evil.example"), ("Host", "evil.example")];
    let phishing = "Your account is suspended - verify now";
    assert_eq!(
        send("blog", phishing, "http://evil.example/login", &spoofed),
        201
    );
    assert_eq!(thread_of(base, "/victim").body["title"], "Roses in winter");
    let page = get(base, "/t/blog?page=/victim").body;
    let page = page.as_str().unwrap();
    assert!(
        page.contains(r#"<link rel="canonical" href="https://blog.example/victim">"#),
        "{page}"
    );
    assert!(
        !page.contains("evil.example") && !page.contains("suspended"),
        "{page}"
    );

    // Every comment waits for a moderator here: a held one, whatever its Origin, may name a
    // thread that has no name yet, never rename one.
    let roses = send(
        "moderated",
        "Roses in winter",
        "https://blog.example/victim",
        &blogs,
    );
    assert_eq!(roses, 201);
    assert_eq!(
        send("moderated", phishing, "https://blog.example/login", &blogs),
        201
    );
    let held = get(base, "/api/v1/threads?site=moderated&page=/victim");
    assert_eq!(held.body["title"], "Roses in winter", "{held:?}");
}

/// Hardening round two, item 4: `a..b@example.com` (which browsers' type=email accepts) was
/// stored with "notify", and the mailer's parser then refused it on every turn, stopping all
/// reader mail. The API refuses what the mailer cannot send to, and stores nothing.
#[test]
fn an_address_the_mailer_cannot_parse_is_refused_and_nothing_is_stored() {
    let server = TestServer::start();
    for email in ["a..b@example.com", "jörg@example.com"] {
        let refused = post(
            &server.base,
            "/api/v1/comments",
            &json!({"site": "blog", "page": "/typo", "author": "Ann", "body": "hi",
                "email": email, "notify": "replies"}),
        );
        assert_eq!(refused.status, 400, "{email}: {refused:?}");
        assert_eq!(refused.body["error"], "invalid_email", "{refused:?}");
    }
    assert_eq!(thread_of(&server.base, "/typo").body["total"], 0);
}

/// Hardening round two, item 9: `/admin/api/import` read up to 512 MiB into memory before it
/// checked who was asking. A stranger is now refused before the body is read.
#[test]
fn a_strangers_import_is_refused_before_its_body_is_read() {
    use std::io::{Read, Write};
    let server = TestServer::start();
    let addr = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "POST /admin/api/import?site=blog&format=talkback HTTP/1.1\r\nHost: {addr}\r\n\
         Origin: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: 500000000\r\n\r\n",
        server.base
    )
    .unwrap();
    stream.write_all(&vec![b'x'; 1 << 20]).unwrap();
    let mut head = [0u8; 64];
    let n = stream
        .read(&mut head)
        .expect("an answer before the body was sent");
    let head = String::from_utf8_lossy(&head[..n]).into_owned();
    assert!(
        head.starts_with("HTTP/1.1 401") || head.starts_with("HTTP/1.1 403"),
        "{head}"
    );
}

/// The form token of the no-JS page of `page` on site `blog`.
fn form_token(base: &str, page: &str) -> String {
    let html = agent()
        .get(&format!("{base}/t/blog?page={page}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    html.split("name=\"proof\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries a form token")
        .to_owned()
}

/// Sends the no-JS form; the status (a 303 back to the thread when it was taken).
fn send_form(base: &str, fields: &[(&str, &str)]) -> u16 {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        body.append_pair(name, value);
    }
    let sent = ureq::AgentBuilder::new()
        .redirects(0)
        .build()
        .post(&format!("{base}/t/blog/comment"))
        .set("Content-Type", "application/x-www-form-urlencoded")
        .set("Origin", BLOG_ORIGIN)
        .send_string(&body.finish());
    match sent {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    }
}

/// Every comment of `site` in a database no server holds now: (body, status, reasons).
fn stored(
    config: &talkback_server::config::Config,
    site: &str,
) -> Vec<(String, Status, Vec<String>)> {
    let store = open_store(config);
    store
        .export_site(site)
        .unwrap()
        .into_iter()
        .flat_map(|(_, comments)| comments)
        .map(|c| (c.body_source, c.status, c.held_for))
        .collect()
}

#[test]
fn a_form_token_replayed_after_a_restart_is_still_spent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let config_file = dir.path().join("talkback.toml");
    // The blog's anti-spam as shipped, but for the time a person needs to write.
    std::fs::write(
        &config_file,
        format!("[[sites]]\nid = \"blog\"\norigins = [\"{BLOG_ORIGIN}\"]\n[sites.spam]\nmin_fill_secs = 0\n"),
    )
    .unwrap();
    let token = {
        let server = ServerProcess::spawn_with(&db, Some(&config_file));
        let token = form_token(&server.base, "/replayed");
        let form = [
            ("page", "/replayed"),
            ("proof", &token),
            ("author", "Ann"),
            ("body", "First, and only once."),
        ];
        assert_eq!(send_form(&server.base, &form), 303);
        token
    };
    // Killed and started again: what it remembered in memory is gone, the store's is not.
    let server = ServerProcess::spawn_with(&db, Some(&config_file));
    let form = [
        ("page", "/replayed"),
        ("proof", &token),
        ("author", "Bot"),
        ("body", "Captured, replayed."),
    ];
    assert_eq!(
        send_form(&server.base, &form),
        303,
        "answered like a reader"
    );
    drop(server);
    let config = talkback_server::config::Config {
        database: db,
        ..talkback_server::config::Config::default()
    };
    let comments = stored(&config, "blog");
    assert_eq!(
        comments,
        [
            ("First, and only once.".to_owned(), Status::Approved, vec![]),
            (
                "Captured, replayed.".to_owned(),
                Status::Spam,
                vec!["token_reused".to_owned()]
            ),
        ]
    );
}

#[test]
fn the_no_js_form_costs_four_writes_and_holds_a_website_for_a_moderator() {
    let server = TestServer::start_with(|config| {
        config.rate_limit_per_minute = 20;
        config.sites[0].spam = talkback_server::config::SpamRules {
            min_fill_secs: 0,
            ..talkback_server::config::SpamRules::default()
        };
    });
    let with_website = [
        ("page", "/costly"),
        ("author", "Ann"),
        ("website", "https://ann.example/"),
        ("body", "A plain comment, signed with my blog."),
    ];
    let token = form_token(&server.base, "/costly");
    let mut form = with_website.to_vec();
    form.push(("proof", &token));
    assert_eq!(send_form(&server.base, &form), 303);
    // Four more fit in the minute's twenty writes, the sixth does not.
    let statuses: Vec<u16> = (0..5)
        .map(|i| {
            let token = form_token(&server.base, "/costly");
            let body = format!("Comment number {i} without a script.");
            send_form(
                &server.base,
                &[("page", "/costly"), ("proof", &token), ("body", &body)],
            )
        })
        .collect();
    assert_eq!(statuses, [303, 303, 303, 303, 429]);
    let thread = thread_of(&server.base, "/costly");
    let shown: Vec<&str> = thread.body["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["author"].as_str().unwrap_or_default())
        .collect();
    assert!(
        !shown.contains(&"Ann"),
        "the comment with a website waits: {thread:?}"
    );
    assert_eq!(shown.len(), 4, "{thread:?}");
}
