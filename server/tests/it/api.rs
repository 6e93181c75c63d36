//! The API as a client sees it: stories, every kind of bad input, CORS and assets.

use serde_json::{Value, json};

use crate::support::*;

fn thread(base: &str, query: &str) -> Value {
    let reply = get(
        base,
        &format!("/api/v1/threads?site=blog&page=/post{query}"),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

fn authors(comments: &Value) -> Vec<String> {
    comments
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["author"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn post_reply_edit_delete_story() {
    let server = TestServer::start();
    let base = &server.base;
    let alice = comment(base, "Alice", "Hello **world**", None);
    let alice_id = alice["comment"]["id"].as_u64().unwrap();
    assert_eq!(
        alice["comment"]["body"],
        json!([{"paragraph": [{"text": "Hello "}, {"strong": [{"text": "world"}]}]}])
    );
    let key = alice["edit_key"].as_str().unwrap().to_owned();
    assert!(key.len() >= 43, "256-bit key, base64url");
    let bob = comment(base, "Bob", "Hi Alice", Some(alice_id));
    let bob_id = bob["comment"]["id"].as_u64().unwrap();
    comment(base, "Carol", "Me too", Some(bob_id));

    // Same page however the key is spelled.
    let t = thread(base, "/?utm=1");
    assert_eq!(t["total"], 3);
    assert_eq!(t["title"], "A Post");
    assert_eq!(authors(&t["comments"]), ["Alice"]);
    assert_eq!(authors(&t["comments"][0]["replies"]), ["Bob"]);
    assert_eq!(
        authors(&t["comments"][0]["replies"][0]["replies"]),
        ["Carol"]
    );
    assert!(
        !t.to_string().contains("@example.com"),
        "e-mail never reaches readers"
    );
    assert!(
        !t.to_string().contains("edit_key"),
        "edit keys are only given once"
    );

    let counts = post(
        base,
        "/api/v1/counts",
        &json!({"site": "blog", "pages": ["/post", "https://blog.example/post/", "/none"]}),
    );
    assert_eq!(
        counts.body["counts"],
        json!({"/post": 3, "https://blog.example/post/": 3, "/none": 0})
    );

    let preview = post(base, "/api/v1/preview", &json!({"body": "*hi*"}));
    assert_eq!(
        preview.body["body"][0]["paragraph"][0]["emph"][0]["text"],
        "hi"
    );

    // Edit with the key; a wrong key changes nothing.
    let path = format!("/api/v1/comments/{alice_id}");
    let wrong = call(
        base,
        "PUT",
        &path,
        Some(r#"{"body":"hacked"}"#),
        &[("X-Talkback-Edit-Key", "nope")],
    );
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (403, Some("edit_key_invalid"))
    );
    let bob_key = bob["edit_key"].as_str().unwrap();
    let other = call(
        base,
        "PUT",
        &path,
        Some(r#"{"body":"hacked"}"#),
        &[("X-Talkback-Edit-Key", bob_key)],
    );
    assert_eq!(
        other.body["error"], "edit_key_invalid",
        "one comment's key does not open another"
    );
    let edited = call(
        base,
        "PUT",
        &path,
        Some(r#"{"body":"Hello again"}"#),
        &[("X-Talkback-Edit-Key", &key)],
    );
    assert_eq!(edited.status, 200, "{edited:?}");
    assert!(edited.body["comment"]["edited"].is_i64());
    assert_eq!(
        thread(base, "")["comments"][0]["body"][0]["paragraph"][0]["text"],
        "Hello again"
    );

    // Deleting a comment with replies leaves a tombstone that keeps the thread's shape.
    let deleted = call(
        base,
        "DELETE",
        &path,
        None,
        &[("X-Talkback-Edit-Key", &key)],
    );
    assert_eq!(deleted.body, json!({"tombstone": true}));
    let t = thread(base, "");
    assert_eq!(t["total"], 2);
    assert_eq!(t["comments"][0]["deleted"], true);
    assert_eq!(t["comments"][0]["author"], "");
    assert_eq!(t["comments"][0]["body"], json!([]));
    assert_eq!(authors(&t["comments"][0]["replies"]), ["Bob"]);
    let again = call(
        base,
        "DELETE",
        &path,
        None,
        &[("X-Talkback-Edit-Key", &key)],
    );
    // A deleted comment answers like a wrong key: ids cannot be probed (hardening item 7).
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (403, Some("edit_key_invalid"))
    );
}

#[test]
fn bad_input_is_refused_with_a_stable_code_and_changes_nothing() {
    let server = TestServer::start();
    let base = &server.base;
    let parent = comment(base, "Alice", "first", None)["comment"]["id"]
        .as_u64()
        .unwrap();
    post(
        base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/elsewhere", "body": "x"}),
    );
    let elsewhere = thread_first_id(base, "/elsewhere");
    let before = thread(base, "");

    let ok = json!({"site": "blog", "page": "/post", "author": "Eve", "email": "eve@example.com", "body": "text"});
    let with = |field: &str, value: Value| {
        let mut v = ok.clone();
        v[field] = value;
        v.to_string()
    };
    let deep_parent = {
        let mut id = parent;
        for _ in 0..32 {
            id = comment(base, "Deep", "down", Some(id))["comment"]["id"]
                .as_u64()
                .unwrap();
        }
        id
    };
    let before_deep = thread(base, "");
    type Case<'a> = (&'a str, String, &'a [(&'a str, &'a str)], u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            "{\"site\": ".into(),
            &[],
            400,
            "invalid_json",
        ),
        (
            "wrong type",
            with("body", json!(42)),
            &[],
            400,
            "invalid_json",
        ),
        (
            "unknown field",
            with("admin", json!(true)),
            &[],
            400,
            "invalid_json",
        ),
        (
            "unknown site",
            with("site", json!("nope")),
            &[],
            404,
            "unknown_site",
        ),
        (
            "disallowed origin",
            ok.to_string(),
            &[("Origin", "https://evil.example")],
            403,
            "origin_not_allowed",
        ),
        (
            "missing parent",
            with("parent", json!(999_999)),
            &[],
            404,
            "parent_not_found",
        ),
        (
            "parent on another page",
            with("parent", json!(elsewhere)),
            &[],
            400,
            "parent_on_other_page",
        ),
        (
            "nesting too deep",
            with("parent", json!(deep_parent)),
            &[],
            400,
            "nesting_too_deep",
        ),
        (
            "empty body",
            with("body", json!("  \n ")),
            &[],
            400,
            "body_empty",
        ),
        (
            "body over 16 KiB",
            with("body", json!("a".repeat(16 * 1024 + 1))),
            &[],
            400,
            "body_too_long",
        ),
        (
            "markdown nested too deep",
            with("body", json!(">".repeat(20))),
            &[],
            400,
            "markdown_too_deep",
        ),
        (
            "name over 100 chars",
            with("author", json!("n".repeat(101))),
            &[],
            400,
            "name_too_long",
        ),
        (
            "javascript website",
            with("website", json!("javascript:alert(1)")),
            &[],
            400,
            "invalid_website",
        ),
        (
            "impossible e-mail",
            with("email", json!("not-an-email")),
            &[],
            400,
            "invalid_email",
        ),
        (
            "header injection e-mail",
            with("email", json!("a@b.example\r\nBcc: c@d.example")),
            &[],
            400,
            "invalid_email",
        ),
        (
            "empty page",
            with("page", json!("?x")),
            &[],
            400,
            "invalid_page",
        ),
        (
            "title too long",
            with("title", json!("t".repeat(301))),
            &[],
            400,
            "title_too_long",
        ),
        (
            "huge request",
            with("body", json!("a".repeat(100 * 1024))),
            &[],
            413,
            "payload_too_large",
        ),
    ];
    for (what, body, extra, status, code) in cases {
        let mut headers = vec![("Origin", BLOG_ORIGIN)];
        headers.retain(|(n, _)| !extra.iter().any(|(e, _)| e == n));
        headers.extend_from_slice(extra);
        let reply = call(base, "POST", "/api/v1/comments", Some(&body), &headers);
        assert_eq!(reply.status, status, "{what}: {reply:?}");
        assert_eq!(reply.body["error"], code, "{what}: {reply:?}");
        assert!(
            reply.body["message"].as_str().is_some_and(|m| m.len() > 10),
            "{what}: readable message"
        );
    }
    assert_eq!(
        thread(base, ""),
        before_deep,
        "nothing stored by refused requests"
    );
    assert_eq!(
        before["total"].as_u64().unwrap() + 32,
        before_deep["total"].as_u64().unwrap()
    );

    let reads: Vec<(&str, &str, u16, &str)> = vec![
        (
            "unknown site",
            "/api/v1/threads?site=nope&page=/post",
            404,
            "unknown_site",
        ),
        (
            "missing page",
            "/api/v1/threads?site=blog",
            400,
            "invalid_query",
        ),
        (
            "bad cursor",
            "/api/v1/threads?site=blog&page=/post&cursor=abc",
            400,
            "invalid_cursor",
        ),
        (
            "bad sort",
            "/api/v1/threads?site=blog&page=/post&sort=best",
            400,
            "invalid_query",
        ),
        ("no such endpoint", "/api/v1/nothing", 404, "not_found"),
    ];
    for (what, path, status, code) in reads {
        let reply = get(base, path);
        assert_eq!(
            (reply.status, reply.body["error"].as_str()),
            (status, Some(code)),
            "{what}"
        );
    }
    let too_many: Vec<String> = (0..101).map(|i| format!("/p{i}")).collect();
    let reply = post(
        base,
        "/api/v1/counts",
        &json!({"site": "blog", "pages": too_many}),
    );
    assert_eq!(reply.body["error"], "too_many_pages");
    let reply = call(
        base,
        "PUT",
        "/api/v1/comments/abc",
        Some("{\"body\":\"x\"}"),
        &[],
    );
    assert_eq!(reply.body["error"], "comment_not_found");
}

fn thread_first_id(base: &str, page: &str) -> u64 {
    get(base, &format!("/api/v1/threads?site=blog&page={page}")).body["comments"][0]["id"]
        .as_u64()
        .unwrap()
}

#[test]
fn keyset_paging_walks_every_comment_once_in_both_orders() {
    let server = TestServer::start();
    let base = &server.base;
    for i in 0..45 {
        comment(base, &format!("r{i:02}"), "x", None);
    }
    for (sort, first) in [("oldest", "r00"), ("newest", "r44")] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = thread(base, &format!("&sort={sort}&limit=20&cursor={cursor}"));
            seen.extend(authors(&page["comments"]));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen.len(), 45, "{sort}");
        assert_eq!(seen[0], first);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 45, "{sort}: no duplicates");
    }
}

#[test]
fn edits_after_the_window_are_refused() {
    let server = TestServer::start_with(|c| c.edit_window_secs = 0);
    let created = comment(&server.base, "Alice", "hi", None);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let path = format!("/api/v1/comments/{}", created["comment"]["id"]);
    let key = created["edit_key"].as_str().unwrap();
    let reply = call(
        &server.base,
        "DELETE",
        &path,
        None,
        &[("X-Talkback-Edit-Key", key)],
    );
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (403, Some("edit_window_expired"))
    );
    assert_eq!(thread(&server.base, "")["total"], 1);
}

#[test]
fn moderated_sites_hold_comments_back() {
    let server = TestServer::start();
    let reply = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "moderated", "page": "/p", "body": "wait"}),
    );
    assert_eq!(reply.status, 201);
    let t = get(&server.base, "/api/v1/threads?site=moderated&page=/p").body;
    assert_eq!(
        (t["total"].as_u64(), t["comments"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );
}

#[test]
fn cors_allows_only_configured_origins() {
    let server = TestServer::start();
    let preflight = |origin: &str| {
        call(
            &server.base,
            "OPTIONS",
            "/api/v1/comments",
            None,
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
        )
    };
    let allowed = preflight(BLOG_ORIGIN);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some(BLOG_ORIGIN),
        "{allowed:?}"
    );
    let refused = preflight("https://evil.example");
    assert_eq!(
        refused.header("access-control-allow-origin"),
        None,
        "{refused:?}"
    );
    assert!(refused.status >= 400);
    let read = call(
        &server.base,
        "GET",
        "/api/v1/threads?site=blog&page=/p",
        None,
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(read.header("access-control-allow-origin"), None);
    let read = call(
        &server.base,
        "GET",
        "/api/v1/threads?site=blog&page=/p",
        None,
        &[("Origin", BLOG_ORIGIN)],
    );
    assert_eq!(
        read.header("access-control-allow-origin"),
        Some(BLOG_ORIGIN)
    );
}

#[test]
fn assets_are_served_precompressed_with_the_right_caching() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("embed.js"), "console.log(1)").unwrap();
    std::fs::write(dir.path().join("embed.js.br"), "BR").unwrap();
    std::fs::write(dir.path().join("w-0123abcd.wasm"), "WASM").unwrap();
    std::fs::write(dir.path().join("w-0123abcd.wasm.gz"), "GZ").unwrap();
    let assets = dir.path().to_owned();
    let server = TestServer::start_with(move |c| c.assets_dir = Some(assets));
    let embed = call(
        &server.base,
        "GET",
        "/embed.js",
        None,
        &[("Accept-Encoding", "gzip, br")],
    );
    assert_eq!(embed.header("content-encoding"), Some("br"));
    assert_eq!(embed.body, "BR");
    assert_eq!(embed.header("cache-control"), Some("public, max-age=300"));
    let plain = call(
        &server.base,
        "GET",
        "/embed.js",
        None,
        &[("Accept-Encoding", "identity")],
    );
    assert_eq!(plain.body, "console.log(1)");
    let wasm = call(
        &server.base,
        "GET",
        "/assets/w-0123abcd.wasm",
        None,
        &[("Accept-Encoding", "gzip, br")],
    );
    assert_eq!(
        (wasm.header("content-encoding"), wasm.header("content-type")),
        (Some("gzip"), Some("application/wasm"))
    );
    assert_eq!(
        wasm.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    // Sent as written: no client normalises the dots away first.
    assert_not_served(
        &server.base,
        &[
            "/assets/../Cargo.toml",
            "/assets/..%2FCargo.toml",
            "/assets/%2e%2e/%2e%2e/Cargo.toml",
            "/assets/../embed.js.br",
        ],
        &["[package]", "BR"],
    );
}

#[test]
fn cached_thread_pages_never_outlive_a_write() {
    let server = TestServer::start();
    let base = &server.base;
    let created = comment(base, "Alice", "original text", None);
    let id = created["comment"]["id"].as_u64().unwrap();
    let key = created["edit_key"].as_str().unwrap().to_owned();
    let html = |base: &str| {
        get(base, "/api/v1/threads/html?site=blog&page=/post")
            .body
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for _ in 0..3 {
        assert_eq!(
            thread(base, "")["comments"][0]["body"][0]["paragraph"][0]["text"],
            "original text"
        );
        assert!(html(base).contains("original text"));
    }
    let path = format!("/api/v1/comments/{id}");
    call(
        base,
        "PUT",
        &path,
        Some(r#"{"body":"edited text"}"#),
        &[("X-Talkback-Edit-Key", &key)],
    );
    assert_eq!(
        thread(base, "")["comments"][0]["body"][0]["paragraph"][0]["text"],
        "edited text"
    );
    assert!(html(base).contains("edited text") && !html(base).contains("original text"));
    comment(base, "Bob", "reply", Some(id));
    call(
        base,
        "DELETE",
        &path,
        None,
        &[("X-Talkback-Edit-Key", &key)],
    );
    let t = thread(base, "");
    assert_eq!(
        (t["comments"][0]["deleted"].as_bool(), t["total"].as_u64()),
        (Some(true), Some(1))
    );
    assert!(!html(base).contains("edited text"));
}

#[test]
fn unchanged_threads_answer_304_and_compressed_when_asked() {
    let server = TestServer::start();
    comment(&server.base, "Alice", "hello", None);
    let first = get(&server.base, "/api/v1/threads?site=blog&page=/post");
    let etag = first.header("etag").unwrap().to_owned();
    let again = call(
        &server.base,
        "GET",
        "/api/v1/threads?site=blog&page=/post",
        None,
        &[("If-None-Match", &etag)],
    );
    assert_eq!(again.status, 304);
    let brotli = call(
        &server.base,
        "GET",
        "/api/v1/threads?site=blog&page=/post",
        None,
        &[("Accept-Encoding", "br")],
    );
    assert_eq!(brotli.header("content-encoding"), Some("br"));
    comment(&server.base, "Bob", "new", None);
    let changed = call(
        &server.base,
        "GET",
        "/api/v1/threads?site=blog&page=/post",
        None,
        &[("If-None-Match", &etag)],
    );
    assert_eq!(changed.status, 200, "a write changes the ETag");
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
}

#[test]
fn comment_writes_are_rate_limited_per_client_and_forwarded_for_is_not_trusted_by_default() {
    let server = TestServer::start_with(|c| c.rate_limit_per_minute = 3);
    let body = json!({"site": "blog", "page": "/limited", "body": "hi"}).to_string();
    let send = |headers: &[(&str, &str)]| {
        let mut all = vec![("Origin", BLOG_ORIGIN)];
        all.extend_from_slice(headers);
        call(&server.base, "POST", "/api/v1/comments", Some(&body), &all)
    };
    for _ in 0..3 {
        assert_eq!(send(&[]).status, 201);
    }
    let refused = send(&[]);
    assert_eq!(
        (refused.status, refused.body["error"].as_str()),
        (429, Some("rate_limited"))
    );
    // Claiming to be someone else does not open a new bucket when the peer is not a trusted proxy.
    assert_eq!(send(&[("X-Forwarded-For", "203.0.113.9")]).status, 429);
    let t = get(&server.base, "/api/v1/threads?site=blog&page=/limited").body;
    assert_eq!(t["total"], 3, "refused writes store nothing");
    // Reads are never limited.
    assert_eq!(
        get(&server.base, "/api/v1/threads?site=blog&page=/limited").status,
        200
    );
}

#[test]
fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let server = TestServer::start_with(|c| {
        c.rate_limit_per_minute = 1;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    });
    let body = json!({"site": "blog", "page": "/proxied", "body": "hi"}).to_string();
    let send = |client: &str| {
        call(
            &server.base,
            "POST",
            "/api/v1/comments",
            Some(&body),
            &[("Origin", BLOG_ORIGIN), ("X-Forwarded-For", client)],
        )
        .status
    };
    assert_eq!(send("198.51.100.1"), 201);
    assert_eq!(send("198.51.100.1"), 429);
    assert_eq!(send("198.51.100.2"), 201);
    // The last hop is what the proxy saw; earlier entries are the client's own claims.
    assert_eq!(send("198.51.100.2, 198.51.100.3"), 201);
}

/// The document at `/api/v1/openapi.json` and the route table agree: every documented path
/// answers its other methods with `405` and an `Allow` naming exactly the documented ones.
#[test]
fn the_openapi_document_matches_the_routes() {
    let server = TestServer::start();
    let doc = get(&server.base, "/api/v1/openapi.json");
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let paths = doc.body["paths"].as_object().expect("paths");
    assert!(paths.len() >= 9, "{paths:?}");
    for (path, operations) in paths {
        let documented: Vec<String> = operations
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        let concrete = path.replace("{id}", "1");
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if documented.iter().any(|m| m == method) {
                continue;
            }
            let reply = call(
                &server.base,
                method,
                &format!("/api/v1{concrete}"),
                None,
                &[],
            );
            assert_eq!(
                (reply.status, reply.body["error"].as_str()),
                (405, Some("method_not_allowed")),
                "{method} {path}"
            );
            let mut allowed: Vec<String> = reply
                .header("allow")
                .unwrap_or_default()
                .split(", ")
                .map(str::to_owned)
                .collect();
            allowed.sort();
            let mut expected = documented.clone();
            expected.sort();
            assert_eq!(allowed, expected, "{method} {path}");
        }
    }
}

/// Counts are cached per set of pages, answered from memory without touching the read budget,
/// and never outlive a write to the site; with a language they come worded too.
#[test]
fn counts_are_cached_until_the_next_write_and_worded_on_request() {
    let server = TestServer::start_with(|c| c.read_rate_limit_per_minute = 2);
    let base = &server.base;
    comment(base, "Ann", "one", None);
    let ask = || {
        post(
            base,
            "/api/v1/counts",
            &json!({"site": "blog", "pages": ["/post", "/none"], "lang": "fr"}),
        )
    };
    let first = ask();
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["counts"], json!({"/post": 1, "/none": 0}));
    assert_eq!(
        first.body["labels"],
        json!({"/post": "Une réponse", "/none": "Aucune réponse"})
    );
    // Far past the read budget (2 a minute): each is a cache hit.
    for _ in 0..20 {
        assert_eq!(ask().status, 200);
    }
    // A variant spelling of the same pages shares the entry; a write drops it.
    comment(base, "Bob", "two", None);
    let after = post(
        base,
        "/api/v1/counts",
        &json!({"site": "blog", "pages": ["https://blog.example/post/", "/none/"]}),
    );
    assert_eq!(after.status, 200, "{after:?}");
    assert_eq!(
        after.body["counts"],
        json!({"https://blog.example/post/": 2, "/none/": 0})
    );
    assert!(after.body.get("labels").is_none(), "no language, no words");
    assert_eq!(ask().body["labels"]["/post"], "2 réponses");
}
