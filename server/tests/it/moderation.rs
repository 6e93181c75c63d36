//! The blogger's side over HTTP: signing in to the moderation API, its CSRF and origin checks,
//! back-off and lockout, session expiry, every decision alone and in bulk, moderators kept to
//! their sites, the audit log, and the command line acting through the running server.

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use talkback_api::admin::AdminRole;

use crate::support::*;

fn post_on(base: &str, site: &str, author: &str, body: &str) -> Value {
    let reply = post(
        base,
        "/api/v1/comments",
        &json!({"site": site, "page": "/post", "title": "A Post", "author": author,
                "email": format!("{author}@example.com"), "body": body}),
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body["comment"].clone()
}

fn thread_authors(base: &str, site: &str) -> (Vec<String>, u64) {
    let reply = get(base, &format!("/api/v1/threads?site={site}&page=/post"));
    let authors = reply.body["comments"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["author"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (authors, reply.body["total"].as_u64().unwrap_or(0))
}

fn error_code(reply: &Reply) -> &str {
    reply.body["error"].as_str().unwrap_or_default()
}

#[test]
fn signing_in_sets_a_strict_cookie_and_wrong_passwords_are_refused_alike() {
    let server = TestServer::start();
    with_accounts(&server);
    for (name, password) in [("zoe", "wrong password!"), ("nobody", PASSWORD)] {
        let reply = sign_in_reply(&server.base, name, password);
        assert_eq!(
            (reply.status, error_code(&reply)),
            (401, "sign_in_failed"),
            "{reply:?}"
        );
        assert!(reply.header("set-cookie").is_none());
    }
    let reply = sign_in_reply(&server.base, "zoe", PASSWORD);
    assert_eq!(reply.status, 200);
    let cookie = reply.header("set-cookie").unwrap();
    for part in ["tb_admin=", "HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure ({cookie})"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.body["role"], "owner");
    assert_eq!(reply.body["sites"], json!(["blog", "moderated"]));

    // Signing in from another origin (login CSRF) is refused before any password is checked.
    let foreign = call(
        &server.base,
        "POST",
        "/admin/api/session",
        Some(&json!({"name": "zoe", "password": PASSWORD}).to_string()),
        &[("Origin", BLOG_ORIGIN)],
    );
    assert_eq!(
        (foreign.status, error_code(&foreign)),
        (403, "csrf_rejected")
    );
}

#[test]
fn state_changes_need_the_csrf_token_and_the_own_origin_and_gets_change_nothing() {
    let server = TestServer::start();
    with_accounts(&server);
    let held = post_on(&server.base, "moderated", "ann", "hold me")["id"]
        .as_u64()
        .unwrap();
    let browser = sign_in(&server.base, "zoe");
    let body = json!({"action": "approve", "ids": [held]}).to_string();
    let attempts: [&[(&str, &str)]; 3] = [
        &[("Cookie", &browser.cookie), ("Origin", &server.base)],
        &[
            ("Cookie", &browser.cookie),
            ("Origin", BLOG_ORIGIN),
            ("X-CSRF-Token", &browser.csrf),
        ],
        &[("Cookie", &browser.cookie), ("X-CSRF-Token", &browser.csrf)],
    ];
    for headers in attempts {
        let reply = call(
            &server.base,
            "POST",
            "/admin/api/moderate",
            Some(&body),
            headers,
        );
        assert_eq!(
            (reply.status, error_code(&reply)),
            (403, "csrf_rejected"),
            "{headers:?}"
        );
    }
    // GET never decides anything.
    let reply = browser.get(&format!("/admin/api/moderate?action=approve&ids={held}"));
    assert_eq!(reply.status, 404, "{reply:?}");
    assert_eq!(thread_authors(&server.base, "moderated"), (vec![], 0));
    assert_eq!(browser.queue("").len(), 1);

    // Without a session, nothing at all.
    let anonymous = get(&server.base, "/admin/api/comments");
    assert_eq!(
        (anonymous.status, error_code(&anonymous)),
        (401, "sign_in_required")
    );

    // Signing out ends the session for good.
    assert_eq!(
        browser.send("DELETE", "/admin/api/session", None).status,
        204
    );
    let after = browser.get("/admin/api/session");
    assert_eq!(
        (after.status, error_code(&after)),
        (401, "sign_in_required")
    );
}

#[test]
fn repeated_failures_back_off_then_lock_the_account_even_with_the_right_password() {
    let server = TestServer::start();
    with_accounts(&server);
    for _ in 0..4 {
        assert_eq!(
            sign_in_reply(&server.base, "zoe", "not it at all").status,
            401
        );
    }
    let locked = sign_in_reply(&server.base, "zoe", PASSWORD);
    assert_eq!(
        (locked.status, error_code(&locked)),
        (429, "sign_in_locked"),
        "{locked:?}"
    );
    assert!(locked.header("retry-after").is_some());
    assert!(locked.header("set-cookie").is_none());
    // The client is held back too, whichever account it tries next.
    let other = sign_in_reply(&server.base, "mia", PASSWORD);
    assert_eq!(other.status, 429);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(sign_in_reply(&server.base, "zoe", PASSWORD).status, 200);
}

#[test]
fn idle_and_old_sessions_expire_and_a_password_change_signs_out_everywhere() {
    let server = TestServer::start_with(|c| c.admin_idle_minutes = 0);
    with_accounts(&server);
    let browser = sign_in(&server.base, "zoe");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let reply = browser.get("/admin/api/session");
    assert_eq!(
        (reply.status, error_code(&reply)),
        (401, "sign_in_required")
    );

    // However busy: a session older than `admin_session_hours` ends too.
    let server = TestServer::start_with(|c| c.admin_session_hours = 0);
    with_accounts(&server);
    let browser = sign_in(&server.base, "zoe");
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(browser.get("/admin/api/session").status, 401);

    let server = TestServer::start();
    with_accounts(&server);
    let browser = sign_in(&server.base, "mia");
    assert_eq!(browser.get("/admin/api/session").status, 200);
    std::thread::sleep(std::time::Duration::from_millis(2));
    server
        .service
        .put_account(
            "mia",
            AdminRole::Moderator,
            &["blog".into()],
            "a new password!",
        )
        .unwrap();
    assert_eq!(browser.get("/admin/api/session").status, 401);
}

#[test]
fn the_cookie_is_secure_when_a_trusted_proxy_says_https() {
    let server = TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    with_accounts(&server);
    let body = json!({"name": "zoe", "password": PASSWORD}).to_string();
    let through_proxy = call(
        &server.base,
        "POST",
        "/admin/api/session",
        Some(&body),
        &[
            ("Origin", &server.base),
            ("X-Forwarded-For", "203.0.113.5"),
            ("X-Forwarded-Proto", "https"),
        ],
    );
    assert!(
        through_proxy
            .header("set-cookie")
            .unwrap()
            .contains("Secure")
    );

    let untrusted = TestServer::start();
    with_accounts(&untrusted);
    let claimed = call(
        &untrusted.base,
        "POST",
        "/admin/api/session",
        Some(&body),
        &[("Origin", &untrusted.base), ("X-Forwarded-Proto", "https")],
    );
    assert!(!claimed.header("set-cookie").unwrap().contains("Secure"));
}

#[test]
fn the_queue_shows_why_and_decisions_reach_the_page_the_counts_and_the_audit_log() {
    let server = TestServer::start();
    with_accounts(&server);
    let shown = post_on(&server.base, "blog", "bea", "already shown")["id"]
        .as_u64()
        .unwrap();
    let held = post_on(&server.base, "moderated", "ann", "please approve me");
    assert_eq!(held["pending"], true);
    let held = held["id"].as_u64().unwrap();
    assert_eq!(thread_authors(&server.base, "moderated"), (vec![], 0));

    let zoe = sign_in(&server.base, "zoe");
    let queue = zoe.queue("");
    assert_eq!(queue.len(), 1);
    let item = &queue[0];
    assert_eq!(item["id"].as_u64(), Some(held));
    assert_eq!(item["status"], "pending");
    assert_eq!(item["page"], "/post");
    assert_eq!(item["page_title"], "A Post");
    assert_eq!(item["email"], "ann@example.com");
    assert_eq!(item["ip"], "127.0.0.1", "owners see the client address");
    assert_eq!(item["held_for"][0]["code"], "moderation_all");
    assert!(
        item["held_for"][0]["text"]
            .as_str()
            .unwrap()
            .contains("waits for approval")
    );

    // A moderator of another site sees nothing of it and can change nothing.
    let mia = sign_in(&server.base, "mia");
    assert!(mia.queue("").is_empty());
    let refused = mia.get("/admin/api/comments?site=moderated");
    assert_eq!(
        (refused.status, error_code(&refused)),
        (403, "not_permitted")
    );
    let reply = mia.moderate("approve", &[held]);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["results"][0]["error"], "not_permitted");
    assert_eq!(thread_authors(&server.base, "moderated"), (vec![], 0));
    // …and never sees client addresses.
    let mine = mia.queue("status=approved");
    assert_eq!(mine[0]["id"].as_u64(), Some(shown));
    assert!(mine[0]["ip"].is_null());

    // Approve: on the page at once, counted.
    let reply = zoe.moderate("approve", &[held]);
    assert_eq!(reply.body["results"][0]["status"], "approved", "{reply:?}");
    assert_eq!(
        thread_authors(&server.base, "moderated"),
        (vec!["ann".into()], 1)
    );
    assert!(zoe.queue("").is_empty());
    // Spam: off the page, uncounted, in the spam view; pending: back in the queue.
    zoe.moderate("spam", &[held]);
    assert_eq!(thread_authors(&server.base, "moderated"), (vec![], 0));
    assert_eq!(zoe.queue("status=spam").len(), 1);
    zoe.moderate("pending", &[held]);
    assert_eq!(zoe.queue("status=pending").len(), 1);
    // Delete: gone; deciding on it again says so.
    let reply = zoe.moderate("delete", &[held]);
    assert_eq!(reply.body["results"][0]["status"], "deleted");
    let again = zoe.moderate("approve", &[held]);
    assert_eq!(again.body["results"][0]["error"], "comment_not_found");

    let audit = zoe.get("/admin/api/audit");
    let entries: Vec<(String, String, String, String)> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["comment"].as_u64() == Some(held))
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("actor"), s("action"), s("before"), s("after"))
        })
        .collect();
    let row =
        |a: &str, b: &str, c: &str| ("zoe".to_owned(), a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        entries,
        [
            row("delete", "pending", "deleted"),
            row("pending", "spam", "pending"),
            row("spam", "approved", "spam"),
            row("approve", "pending", "approved"),
        ]
    );
    // The moderator's refused attempt changed nothing and left no decision behind.
    assert!(
        !audit
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "mia" && e["comment"].is_u64())
    );
}

#[test]
fn bulk_decisions_apply_to_each_comment_and_report_each_one() {
    let server = TestServer::start();
    with_accounts(&server);
    let ids: Vec<u64> = (0..5)
        .map(|i| {
            post_on(&server.base, "moderated", &format!("bot{i}"), "cheap pills")["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let zoe = sign_in(&server.base, "zoe");
    let mut asked = ids[..4].to_vec();
    asked.push(999_999);
    let reply = zoe.moderate("spam", &asked);
    let results = reply.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert!(results[..4].iter().all(|r| r["status"] == "spam"));
    assert_eq!(results[4]["error"], "comment_not_found");
    assert_eq!(zoe.queue("status=spam").len(), 4);
    assert_eq!(zoe.queue("status=pending").len(), 1);

    // Too many at once, or none: a clear error, nothing changed.
    let none = zoe.moderate("approve", &[]);
    assert_eq!((none.status, error_code(&none)), (400, "invalid_json"));
    let junk = zoe.send(
        "POST",
        "/admin/api/moderate",
        Some(json!({"action": "explode", "ids": [ids[4]]})),
    );
    assert_eq!((junk.status, error_code(&junk)), (400, "invalid_json"));
    assert_eq!(zoe.queue("status=pending").len(), 1);
}

#[test]
fn search_filters_by_words_site_status_and_date_and_pages_by_keyset() {
    let server = TestServer::start();
    with_accounts(&server);
    for i in 0..7 {
        let body = if i % 2 == 0 {
            format!("Buy cheap WATCHES {i}")
        } else {
            format!("Lovely post {i}")
        };
        post_on(&server.base, "blog", &format!("reader{i}"), &body);
    }
    post_on(&server.base, "moderated", "held", "cheap watches, held");
    let zoe = sign_in(&server.base, "zoe");
    let authors = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|c| c["author"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        authors(&zoe.queue("status=all&q=cheap%20watches")),
        ["held", "reader6", "reader4", "reader2", "reader0"]
    );
    assert_eq!(
        authors(&zoe.queue("status=all&q=watches&site=blog")),
        ["reader6", "reader4", "reader2", "reader0"]
    );
    assert_eq!(
        authors(&zoe.queue("status=all&q=reader3%40example.com")),
        ["reader3"]
    );
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    assert_eq!(
        zoe.queue(&format!("status=all&from={today}&to={today}"))
            .len(),
        8
    );
    assert!(zoe.queue("status=all&to=2001-01-01").is_empty());

    // Keyset pages of 3 cover everything once, newest first.
    let mut seen = Vec::new();
    let mut path = "/admin/api/comments?status=all&limit=3".to_owned();
    loop {
        let reply = zoe.get(&path);
        seen.extend(authors(reply.body["comments"].as_array().unwrap()));
        match reply.body["next"].as_str() {
            Some(next) => path = format!("/admin/api/comments?status=all&limit=3&before={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    assert_eq!(seen[0], "held");
    assert_eq!(seen[7], "reader0");

    for (query, code) in [
        ("status=everything", "invalid_query"),
        ("from=yesterday", "invalid_query"),
        ("before=abc", "invalid_cursor"),
        ("site=nosuch", "unknown_site"),
    ] {
        let reply = zoe.get(&format!("/admin/api/comments?{query}"));
        assert_eq!(error_code(&reply), code, "{query}: {reply:?}");
        assert!((400..500).contains(&reply.status));
    }
}

fn talkback(
    config: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_talkback"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_command_line_moderates_through_the_running_server_and_directly_when_none_runs() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("db");
    let config = dir.path().join("talkback.toml");
    std::fs::write(
        &config,
        format!(
            "database = {:?}\nbind = \"127.0.0.1:0\"\nexamples_dir = \"\"\nrate_limit_per_minute = 0\n\
             [[sites]]\nid = \"blog\"\norigins = [\"{BLOG_ORIGIN}\"]\nmoderation = \"all\"\n{SPAM_OFF_TOML}",
            database.display().to_string()
        ),
    )
    .unwrap();
    // No server yet: the account goes straight into the database.
    let (ok, out, err) = talkback(
        &config,
        &["admin", "add", "zoe", "--role", "owner", "--password-stdin"],
        Some(PASSWORD),
    );
    assert!(ok, "{out}{err}");
    let weak = talkback(
        &config,
        &["admin", "add", "kim", "--site", "blog", "--password-stdin"],
        Some("short"),
    );
    assert!(
        !weak.0 && weak.2.contains("at least 10 characters"),
        "{weak:?}"
    );

    let server = ServerProcess::spawn_with(&database, Some(&config));
    let id = post_on(&server.base, "blog", "ann", "held for the command line")["id"]
        .as_u64()
        .unwrap();
    let (ok, out, err) = talkback(&config, &["moderate", "list"], None);
    assert!(ok, "{err}");
    assert!(
        out.contains(&id.to_string())
            && out.contains("ann <ann@example.com>")
            && out.contains("moderation_all"),
        "{out}"
    );
    let (ok, out, err) = talkback(&config, &["moderate", "approve", &id.to_string()], None);
    assert!(ok, "{out}{err}");
    assert!(out.contains("Approved"), "{out}");
    assert_eq!(
        thread_authors(&server.base, "blog"),
        (vec!["ann".into()], 1)
    );
    // Accounts and exports through the server too.
    let (ok, _, err) = talkback(
        &config,
        &["admin", "add", "kim", "--site", "blog", "--password-stdin"],
        Some("kim's long password"),
    );
    assert!(ok, "{err}");
    let (_, out, _) = talkback(&config, &["admin", "list"], None);
    assert!(
        out.contains("kim\tModerator\tblog") && out.contains("zoe\tOwner\tevery site"),
        "{out}"
    );
    let (ok, out, err) = talkback(&config, &["export", "--site", "blog"], None);
    assert!(ok, "{err}");
    assert!(out.contains("held for the command line"));
    // Import through the server (the file is sent to it): a dry run writes nothing, and a
    // second run adds nothing.
    let file = dir.path().join("blog.json");
    std::fs::write(
        &file,
        out.replace("held for the command line", "imported copy"),
    )
    .unwrap();
    let file_arg = file.to_str().unwrap();
    let import = |extra: &[&str]| {
        let mut args = vec!["import", "--format", "talkback", file_arg, "--site", "blog"];
        args.extend_from_slice(extra);
        talkback(&config, &args, None)
    };
    let (ok, said, err) = import(&["--dry-run"]);
    assert!(
        ok && said.contains("would import 1 comments"),
        "{said}{err}"
    );
    let (ok, said, err) = import(&[]);
    assert!(
        ok && said.contains("imported 1 comments, 0 already present"),
        "{said}{err}"
    );
    let (ok, said, err) = import(&[]);
    assert!(
        ok && said.contains("imported 0 comments, 1 already present"),
        "{said}{err}"
    );
    let (ok, out, _) = talkback(&config, &["moderate", "spam", "424242"], None);
    assert!(!ok && out.contains("comment_not_found"), "{out}");
    // Pin, lock, ban and settings through the server too.
    let (ok, out, err) = talkback(&config, &["moderate", "pin", &id.to_string()], None);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = talkback(
        &config,
        &["moderate", "lock", "--site", "blog", "--page", "/post"],
        None,
    );
    assert!(ok, "{err}");
    let closed = get(&server.base, "/api/v1/threads?site=blog&page=/post").body;
    assert_eq!(
        (
            closed["closed"].clone(),
            closed["comments"][0]["pinned"].clone()
        ),
        (json!(true), json!(true))
    );
    let (ok, out, err) = talkback(
        &config,
        &[
            "moderate",
            "ban",
            "--email",
            "bad@example.com",
            "--for",
            "7d",
        ],
        None,
    );
    assert!(
        ok && out.contains("Email bad@example.com until"),
        "{out}{err}"
    );
    let (_, out, _) = talkback(&config, &["moderate", "bans"], None);
    assert!(
        out.contains("bad@example.com\ton every site\tby cli"),
        "{out}"
    );
    let (ok, out, err) = talkback(
        &config,
        &["moderate", "site", "blog", "--moderation", "links"],
        None,
    );
    assert!(ok && out.contains("moderation = Links"), "{out}{err}");
    let (_, out, _) = talkback(&config, &["config"], None);
    assert!(out.contains("# blog: moderation = Links"), "{out}");
    // Page corrections and moves through the server.
    let (ok, out, err) = talkback(
        &config,
        &[
            "page",
            "--site",
            "blog",
            "--page",
            "/post",
            "--title",
            "Fixed Title",
        ],
        None,
    );
    assert!(ok && out.contains("Fixed Title"), "{out}{err}");
    let (ok, out, err) = talkback(
        &config,
        &[
            "remap", "--site", "blog", "--from", "/post", "--to", "/renamed",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    assert_eq!(
        get(&server.base, "/api/v1/threads?site=blog&page=/renamed").body["title"],
        "Fixed Title"
    );
    // Deleting a whole page through the server.
    let extra = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/gone", "body": "bye"}),
    );
    assert_eq!(extra.status, 201);
    let (ok, out, err) = talkback(
        &config,
        &["delete", "--site", "blog", "--page", "/gone"],
        None,
    );
    assert!(ok, "{out}{err}");
    assert_eq!(
        get(&server.base, "/api/v1/threads?site=blog&page=/gone").body["total"],
        0
    );
    // The audit log names the command line.
    let audit = server_audit(&server.base);
    assert!(
        audit
            .iter()
            .any(|e| e["actor"] == "cli" && e["action"] == "approve"),
        "{audit:?}"
    );
    drop(server);

    // The server is gone (killed, its file left behind): the command line opens the database.
    let (ok, out, err) =
        retry(|| talkback(&config, &["moderate", "list", "--status", "approved"], None));
    assert!(ok, "{err}");
    assert!(out.contains("held for the command line"), "{out}");
}

fn retry(mut run: impl FnMut() -> (bool, String, String)) -> (bool, String, String) {
    for _ in 0..50 {
        let result = run();
        if result.0 || !result.2.contains("lock") {
            return result;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    run()
}

fn server_audit(base: &str) -> Vec<Value> {
    let reply = sign_in_reply(base, "zoe", PASSWORD);
    let cookie = reply
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let audit = call(
        base,
        "GET",
        "/admin/api/audit",
        None,
        &[("Cookie", &cookie)],
    );
    audit.body.as_array().unwrap().clone()
}

fn thread(base: &str, site: &str) -> Value {
    get(base, &format!("/api/v1/threads?site={site}&page=/post")).body
}

#[test]
fn pinned_comments_lead_their_thread_with_a_mark_in_the_json_and_the_first_paint() {
    let server = TestServer::start();
    with_accounts(&server);
    let ids: Vec<u64> = ["first", "second", "third"]
        .iter()
        .map(|a| {
            post_on(&server.base, "blog", a, &format!("{a} words"))["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let zoe = sign_in(&server.base, "zoe");
    // Warm the cache: the pin must invalidate it.
    assert_eq!(
        thread_authors(&server.base, "blog").0,
        ["first", "second", "third"]
    );
    let reply = zoe.moderate("pin", &[ids[2]]);
    assert_eq!(reply.body["results"][0]["status"], "approved", "{reply:?}");
    let body = thread(&server.base, "blog");
    assert_eq!(
        thread_authors(&server.base, "blog").0,
        ["third", "first", "second"]
    );
    assert_eq!(body["comments"][0]["pinned"], true);
    assert!(
        body["comments"][1].get("pinned").is_none(),
        "unpinned comments keep their JSON"
    );
    let (_, html) = raw_get(
        &server.base,
        "/api/v1/threads/html?site=blog&page=/post&lang=de",
    );
    assert!(
        html.contains("<span class=\"tb-pinned\">Angeheftet</span>"),
        "{html}"
    );
    // Replies cannot be pinned.
    let answer = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/post", "author": "r", "body": "a reply", "parent": ids[0]}),
    );
    let reply_id = answer.body["comment"]["id"].as_u64().unwrap();
    assert_eq!(
        zoe.moderate("pin", &[reply_id]).body["results"][0]["error"],
        "not_top_level"
    );
    zoe.moderate("unpin", &[ids[2]]);
    assert_eq!(
        thread_authors(&server.base, "blog").0,
        ["first", "second", "third"]
    );
}

#[test]
fn a_locked_thread_and_a_read_only_site_refuse_new_comments_and_say_so() {
    let server = TestServer::start();
    with_accounts(&server);
    post_on(&server.base, "blog", "ann", "before the lock");
    let zoe = sign_in(&server.base, "zoe");
    assert!(thread(&server.base, "blog").get("closed").is_none());
    let reply = zoe.send(
        "POST",
        "/admin/api/pages/lock",
        Some(json!({"site": "blog", "page": "/post", "locked": true})),
    );
    assert_eq!(reply.status, 204, "{reply:?}");
    assert_eq!(thread(&server.base, "blog")["closed"], true);
    let refused = call(
        &server.base,
        "POST",
        "/api/v1/comments",
        Some(&json!({"site": "blog", "page": "/post", "body": "after"}).to_string()),
        &[("Origin", BLOG_ORIGIN), ("Accept-Language", "fr")],
    );
    assert_eq!(
        (refused.status, error_code(&refused)),
        (403, "comments_closed")
    );
    assert_eq!(refused.body["message"], "Les commentaires sont fermés.");
    // Other pages are open; unlocking opens this one again.
    let other = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/other", "body": "fine"}),
    );
    assert_eq!(other.status, 201);
    zoe.send(
        "POST",
        "/admin/api/pages/lock",
        Some(json!({"site": "blog", "page": "/post", "locked": false})),
    );
    post_on(&server.base, "blog", "bea", "after the lock");

    // Read-only: every page of the site, cached ones included; other sites unaffected.
    assert!(thread(&server.base, "blog").get("closed").is_none());
    let reply = zoe.send(
        "PUT",
        "/admin/api/sites/blog",
        Some(json!({"read_only": true})),
    );
    assert_eq!(reply.body["read_only"], true, "{reply:?}");
    assert_eq!(
        reply.body["moderation"], "none",
        "unchanged settings stay as they were"
    );
    assert_eq!(thread(&server.base, "blog")["closed"], true);
    let refused = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/new", "body": "x"}),
    );
    assert_eq!(error_code(&refused), "comments_closed");
    post_on(
        &server.base,
        "moderated",
        "cid",
        "another site still takes comments",
    );
    // A moderator of another site may not change this one.
    let mia = sign_in(&server.base, "mia");
    let denied = mia.send(
        "PUT",
        "/admin/api/sites/moderated",
        Some(json!({"read_only": true})),
    );
    assert_eq!((denied.status, error_code(&denied)), (403, "not_permitted"));
    let junk = zoe.send(
        "PUT",
        "/admin/api/sites/blog",
        Some(json!({"edit_window_secs": 999_999_999})),
    );
    assert_eq!(error_code(&junk), "invalid_json");
}

#[test]
fn settings_from_the_dashboard_change_moderation_and_the_edit_window() {
    let server = TestServer::start();
    with_accounts(&server);
    let zoe = sign_in(&server.base, "zoe");
    let reply = zoe.send(
        "PUT",
        "/admin/api/sites/blog",
        Some(json!({"moderation": "links", "edit_window_secs": 60})),
    );
    assert_eq!(
        reply.body,
        json!({"moderation": "links", "edit_window_secs": 60, "read_only": false})
    );
    let plain = post_on(&server.base, "blog", "ann", "no links here");
    assert_eq!(plain["pending"], false);
    let linked = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/post", "author": "bob", "body": "see [this](https://example.org)"}),
    );
    assert_eq!(linked.body["comment"]["pending"], true);
    let until = linked.body["editable_until"].as_i64().unwrap()
        - linked.body["comment"]["created"].as_i64().unwrap();
    assert_eq!(until, 60_000);
    let queue = zoe.queue("");
    assert_eq!(queue[0]["held_for"][0]["code"], "contains_links");
    assert_eq!(zoe.get("/admin/api/sites/blog").body["moderation"], "links");
}

#[test]
fn banned_authors_land_in_spam_quietly_by_email_name_or_network() {
    let server = TestServer::start();
    with_accounts(&server);
    let zoe = sign_in(&server.base, "zoe");
    for (by, value) in [("email", "Spam@Example.com"), ("name", "Buy Now")] {
        let reply = zoe.send(
            "POST",
            "/admin/api/bans",
            Some(json!({"by": by, "value": value, "duration": "30d"})),
        );
        assert_eq!(reply.status, 201, "{reply:?}");
        assert!(reply.body["until"].as_i64().unwrap() > jiff::Timestamp::now().as_millisecond());
    }
    let banned = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/post", "author": "x", "email": "spam@example.com", "body": "hi"}),
    );
    assert_eq!(banned.status, 201);
    assert_eq!(
        banned.body["comment"]["pending"], true,
        "the author sees it as waiting"
    );
    let named = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/post", "author": "BUY NOW", "body": "hi"}),
    );
    assert_eq!(named.body["comment"]["pending"], true);
    post_on(&server.base, "blog", "fine", "a real reader");
    assert_eq!(
        thread_authors(&server.base, "blog"),
        (vec!["fine".into()], 1)
    );
    let spam = zoe.queue("status=spam");
    assert_eq!(spam.len(), 2);
    assert!(spam.iter().all(|c| c["held_for"][0]["code"] == "banned"));

    // An address ban covers its whole IPv6 /64; this client (127.0.0.1) is caught by its own.
    let ip = zoe.send(
        "POST",
        "/admin/api/bans",
        Some(json!({"by": "ip", "value": "127.0.0.1"})),
    );
    assert!(ip.body["until"].is_null(), "no duration: for ever");
    post_on(&server.base, "blog", "someone", "from the banned address");
    assert_eq!(zoe.queue("status=spam").len(), 3);
    let wide = zoe.send(
        "POST",
        "/admin/api/bans",
        Some(json!({"by": "ip", "value": "2001:db8:1:2::99"})),
    );
    assert_eq!(wide.body["value"], "2001:db8:1:2::");

    for (body, why) in [
        (
            json!({"by": "ip", "value": "not an address"}),
            "bad address",
        ),
        (
            json!({"by": "email", "value": "a@b.c", "duration": "forever"}),
            "bad duration",
        ),
        (json!({"by": "email", "value": " "}), "empty"),
    ] {
        let reply = zoe.send("POST", "/admin/api/bans", Some(body));
        assert_eq!(
            (reply.status, error_code(&reply)),
            (400, "invalid_json"),
            "{why}"
        );
    }
    let bans = zoe.get("/admin/api/bans").body;
    assert_eq!(bans.as_array().unwrap().len(), 4);
    let ip_ban = ip.body["id"].as_u64().unwrap();
    assert_eq!(
        zoe.send("DELETE", &format!("/admin/api/bans/{ip_ban}"), None)
            .status,
        204
    );
    assert_eq!(
        zoe.send("DELETE", &format!("/admin/api/bans/{ip_ban}"), None)
            .status,
        404
    );
    post_on(&server.base, "blog", "again", "welcome back");
    assert_eq!(thread_authors(&server.base, "blog").0, ["fine", "again"]);
}

#[test]
fn a_moderators_edit_keeps_the_status_and_tells_readers() {
    let server = TestServer::start();
    with_accounts(&server);
    let id = post_on(&server.base, "blog", "ann", "my number is 555-1234")["id"]
        .as_u64()
        .unwrap();
    let zoe = sign_in(&server.base, "zoe");
    let reply = zoe.send(
        "POST",
        &format!("/admin/api/comments/{id}/edit"),
        Some(json!({"body": "my number is [removed]"})),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["status"], "approved");
    let body = thread(&server.base, "blog");
    assert_eq!(body["comments"][0]["moderator_edit"], true);
    assert_eq!(
        body["comments"][0]["body"][0]["paragraph"][0]["text"],
        "my number is [removed]"
    );
    let (_, html) = raw_get(
        &server.base,
        "/api/v1/threads/html?site=blog&page=/post&lang=en",
    );
    assert!(html.contains("edited by a moderator"), "{html}");
    let empty = zoe.send(
        "POST",
        &format!("/admin/api/comments/{id}/edit"),
        Some(json!({"body": "  "})),
    );
    assert_eq!(error_code(&empty), "body_empty");
    let mia_on_other = sign_in(&server.base, "mia");
    let held = post_on(&server.base, "moderated", "x", "held")["id"]
        .as_u64()
        .unwrap();
    let denied = mia_on_other.send(
        "POST",
        &format!("/admin/api/comments/{held}/edit"),
        Some(json!({"body": "mine now"})),
    );
    assert_eq!(error_code(&denied), "not_permitted");
    let audit = zoe.get("/admin/api/audit").body;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "edit" && e["comment"].as_u64() == Some(id))
    );
}

#[test]
fn first_time_mode_holds_a_commenter_until_one_comment_is_approved() {
    let server = TestServer::start();
    with_accounts(&server);
    let zoe = sign_in(&server.base, "zoe");
    zoe.send(
        "PUT",
        "/admin/api/sites/blog",
        Some(json!({"moderation": "first_time"})),
    );
    let first = post_on(&server.base, "blog", "ann", "my first words here");
    assert_eq!(first["pending"], true);
    assert_eq!(zoe.queue("")[0]["held_for"][0]["code"], "first_time");
    // Until then every comment of hers waits; approving one lets the next ones through.
    assert_eq!(
        post_on(&server.base, "blog", "ann", "still waiting")["pending"],
        true
    );
    zoe.moderate("approve", &[first["id"].as_u64().unwrap()]);
    assert_eq!(
        post_on(&server.base, "blog", "Ann", "now at once")["pending"],
        false
    );
    // Same e-mail with another name, or no e-mail at all, is someone new.
    let other_name = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/post", "author": "not ann", "email": "ann@example.com", "body": "x"}),
    );
    assert_eq!(other_name.body["comment"]["pending"], true);
    let no_email = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/post", "author": "ann", "body": "x"}),
    );
    assert_eq!(no_email.body["comment"]["pending"], true);
    // Trust rests on approved comments: marking one spam leaves the other standing.
    zoe.moderate("spam", &[first["id"].as_u64().unwrap()]);
    let later = post_on(&server.base, "blog", "ann", "after the spam mark");
    assert_eq!(
        later["pending"], false,
        "one approved comment (\"now at once\") is still there"
    );
}

#[test]
fn hiding_a_comment_with_replies_leaves_a_placeholder_and_honest_counts() {
    let server = TestServer::start();
    with_accounts(&server);
    let parent = post_on(&server.base, "blog", "spammer", "visit my shop")["id"]
        .as_u64()
        .unwrap();
    let reply = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/post", "author": "bea", "body": "please no", "parent": parent}),
    );
    assert_eq!(reply.status, 201);
    let zoe = sign_in(&server.base, "zoe");
    zoe.moderate("spam", &[parent]);
    let body = thread(&server.base, "blog");
    let top = &body["comments"][0];
    assert_eq!(top["deleted"], true, "{body}");
    assert_eq!(top["author"], "");
    assert_eq!(top["body"], json!([]));
    assert_eq!(top["replies"][0]["author"], "bea");
    assert_eq!(body["total"], 1, "the reply is counted and shown");
    let (_, html) = raw_get(&server.base, "/api/v1/threads/html?site=blog&page=/post");
    assert!(
        !html.contains("visit my shop") && !html.contains("spammer"),
        "{html}"
    );
    assert!(html.contains("please no"));
}

#[test]
fn pages_are_corrected_and_moved_through_the_api_by_their_site_moderators() {
    let server = TestServer::start();
    with_accounts(&server);
    post_on(&server.base, "blog", "ann", "on the old slug");
    let mia = sign_in(&server.base, "mia");
    let reply = mia.send(
        "POST",
        "/admin/api/pages/meta",
        Some(json!({"site": "blog", "page": "/post", "title": "The Right Title"})),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(thread(&server.base, "blog")["title"], "The Right Title");
    let moved = mia.send(
        "POST",
        "/admin/api/pages/move",
        Some(json!({"site": "blog", "moves": [["/post", "/new-slug"]]})),
    );
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(
        get(&server.base, "/api/v1/threads?site=blog&page=/new-slug").body["total"],
        1
    );
    assert_eq!(thread(&server.base, "blog")["total"], 0);
    let denied = mia.send(
        "POST",
        "/admin/api/pages/meta",
        Some(json!({"site": "moderated", "page": "/post", "title": "x"})),
    );
    assert_eq!(error_code(&denied), "not_permitted");
    let missing = mia.send(
        "POST",
        "/admin/api/pages/meta",
        Some(json!({"site": "blog", "page": "/nothing", "title": "x"})),
    );
    assert_eq!((missing.status, error_code(&missing)), (404, "not_found"));
    let none = mia.send(
        "POST",
        "/admin/api/pages/move",
        Some(json!({"site": "blog", "moves": []})),
    );
    assert_eq!(error_code(&none), "invalid_json");
}

/// Hardening round two, item 1: every one of a burst of concurrent sign-ins was hashed
/// (argon2id, 19 MiB each) before any failure was counted: hundreds of passwords tried where
/// the back-off allows a few, and gigabytes of memory. Each attempt now takes its slot first.
#[test]
fn a_burst_of_concurrent_sign_ins_is_counted_before_any_password_is_hashed() {
    let server = TestServer::start();
    with_accounts(&server);
    let replies: Vec<Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..60)
            .map(|i| {
                let base = &server.base;
                s.spawn(move || sign_in_reply(base, "zoe", &format!("guess number {i}")))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let tried = replies.iter().filter(|r| r.status == 401).count();
    let held_back = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(tried + held_back, 60, "{replies:?}");
    assert!(tried <= 4, "{tried} passwords were tried in one burst");
    // A name no account can have is refused before anything else (it never reaches a log line).
    let forged = sign_in_reply(
        &server.base,
        "zoe\nINFO signed in as owner",
        "whatever it is",
    );
    assert_eq!(
        (forged.status, error_code(&forged)),
        (401, "sign_in_failed")
    );
    let long = sign_in_reply(&server.base, "mia", &"x".repeat(2000));
    assert_eq!((long.status, error_code(&long)), (401, "sign_in_failed"));
}

/// Hardening round two, item 14: a moderator's export carried the client address of every
/// comment, which the design gives owners only.
#[test]
fn a_moderators_export_leaves_out_client_addresses() {
    let server = TestServer::start();
    with_accounts(&server);
    comment(&server.base, "Ann", "from somewhere", None);
    let owner = sign_in(&server.base, "zoe").get("/admin/api/export?site=blog");
    assert_eq!(owner.status, 200, "{owner:?}");
    let owner = owner.body.to_string();
    assert!(owner.contains("127.0.0.1"), "owners see addresses: {owner}");
    let moderator = sign_in(&server.base, "mia").get("/admin/api/export?site=blog");
    assert_eq!(moderator.status, 200, "{moderator:?}");
    let moderator = moderator.body.to_string();
    assert!(moderator.contains("from somewhere"), "{moderator}");
    assert!(!moderator.contains("127.0.0.1"), "{moderator}");
}

#[test]
fn a_moderator_bans_only_on_their_own_sites_and_sees_no_other_bans() {
    let server = TestServer::start();
    with_accounts(&server);
    let (zoe, mia) = (sign_in(&server.base, "zoe"), sign_in(&server.base, "mia"));
    let ban = |who: &Browser, body: Value| {
        let reply = who.send("POST", "/admin/api/bans", Some(body));
        (reply.status, reply.body)
    };
    // mia moderates blog only: (request, status, error code)
    let cases = [
        (
            json!({"by": "email", "value": "x@example.com"}),
            403,
            "not_permitted",
        ),
        (
            json!({"by": "email", "value": "x@example.com", "site": "moderated"}),
            403,
            "not_permitted",
        ),
        (
            json!({"by": "email", "value": "x@example.com", "site": "nowhere"}),
            404,
            "unknown_site",
        ),
    ];
    for (body, status, code) in cases {
        let (got, reply) = ban(&mia, body.clone());
        assert_eq!(
            (got, reply["error"].as_str().unwrap_or_default()),
            (status, code),
            "{body}"
        );
    }
    let (status, mine) = ban(
        &mia,
        json!({"by": "email", "value": "X@example.com", "site": "blog"}),
    );
    assert_eq!(
        (status, mine["site"].as_str()),
        (201, Some("blog")),
        "{mine}"
    );
    let (_, everywhere) = ban(&zoe, json!({"by": "email", "value": "y@example.com"}));
    assert!(everywhere["site"].is_null(), "{everywhere}");
    let (_, elsewhere) = ban(
        &zoe,
        json!({"by": "name", "value": "Zed", "site": "moderated"}),
    );
    // Each sees what they may handle: mia her site's ban only, zoe every ban.
    let ids = |who: &Browser| -> Vec<u64> {
        who.get("/admin/api/bans")
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&mia), [mine["id"].as_u64().unwrap()]);
    assert_eq!(ids(&zoe).len(), 3);
    for other in [&everywhere, &elsewhere] {
        let id = other["id"].as_u64().unwrap();
        assert_eq!(
            mia.send("DELETE", &format!("/admin/api/bans/{id}"), None)
                .status,
            404
        );
    }
    assert_eq!(ids(&zoe).len(), 3, "nothing lifted");
    // mia's ban holds on blog only; zoe's everywhere.
    let send = |site: &str, email: &str| {
        post(
            &server.base,
            "/api/v1/comments",
            &json!({"site": site, "page": "/bans", "author": "someone", "email": email, "body": format!("{email} on {site}")}),
        );
    };
    send("blog", "x@example.com");
    send("moderated", "x@example.com");
    send("moderated", "y@example.com");
    let spam: Vec<String> = zoe
        .queue("status=spam")
        .iter()
        .map(|c| c["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(spam.len(), 2, "{spam:?}");
    assert!(
        spam.contains(&"x@example.com on blog".to_owned()),
        "{spam:?}"
    );
    assert!(
        spam.contains(&"y@example.com on moderated".to_owned()),
        "{spam:?}"
    );
}

#[test]
fn over_https_the_session_cookie_is_secure_prefixed_and_a_planted_plain_one_is_ignored() {
    let server = TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    with_accounts(&server);
    let host = server.base.trim_start_matches("http://").to_owned();
    let https_origin = format!("https://{host}");
    fn over_https<'a>(origin: &'a str, cookie: Option<&'a str>) -> Vec<(&'static str, &'a str)> {
        let mut headers = vec![("X-Forwarded-Proto", "https"), ("Origin", origin)];
        if let Some(cookie) = cookie {
            headers.push(("Cookie", cookie));
        }
        headers
    }
    let signed = call(
        &server.base,
        "POST",
        "/admin/api/session",
        Some(&json!({"name": "zoe", "password": PASSWORD}).to_string()),
        &over_https(&https_origin, None),
    );
    assert_eq!(signed.status, 200, "{signed:?}");
    let set = signed.header("set-cookie").unwrap().to_owned();
    assert!(set.starts_with("__Secure-tb_admin="), "{set}");
    assert!(set.contains("Secure") && set.contains("HttpOnly"), "{set}");
    let value = set
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let session = |name: &str| {
        let cookie = format!("{name}={value}");
        call(
            &server.base,
            "GET",
            "/admin/api/session",
            None,
            &over_https(&https_origin, Some(&cookie)),
        )
        .status
    };
    assert_eq!(session("__Secure-tb_admin"), 200);
    // The same value under the plain name, as a page on plain HTTP could have set it: ignored.
    assert_eq!(session("tb_admin"), 401);
    // Over plain HTTP the cookie keeps its plain name (a test machine, a loopback dashboard).
    assert!(
        sign_in_reply(&server.base, "zoe", PASSWORD)
            .header("set-cookie")
            .unwrap()
            .starts_with("tb_admin=")
    );
}

#[test]
fn strangers_locking_an_account_do_not_lock_out_a_browser_that_signed_in_to_it_before() {
    let server = TestServer::start_with(|c| c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]);
    with_accounts(&server);
    let attempt = |name: &str, from: &str, password: &str, device: Option<&str>| {
        let mut headers = vec![("Origin", server.base.as_str()), ("X-Forwarded-For", from)];
        let cookie;
        if let Some(device) = device {
            cookie = format!("tb_device={device}");
            headers.push(("Cookie", cookie.as_str()));
        }
        call(
            &server.base,
            "POST",
            "/admin/api/session",
            Some(&json!({"name": name, "password": password}).to_string()),
            &headers,
        )
    };
    let device_of = |reply: &Reply| {
        reply
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, v)| v.strip_prefix("tb_device="))
            .and_then(|v| v.split(';').next())
            .expect("a device cookie")
            .to_owned()
    };
    // zoe's own browser (and mia's) signed in once and were given device cookies.
    let first = attempt("zoe", "198.51.100.1", PASSWORD, None);
    assert_eq!(first.status, 200);
    let zoes = device_of(&first);
    let mias = device_of(&attempt("mia", "198.51.100.9", PASSWORD, None));
    // Strangers from other addresses run up zoe's lockout.
    for i in 0..5 {
        attempt("zoe", &format!("203.0.113.{i}"), "guessing wrong", None);
    }
    let forged = format!("{}x", &zoes[..zoes.len() - 1]);
    // (who, device cookie, status)
    let cases = [
        ("a new browser", None, 429),
        ("a forged device cookie", Some(forged.as_str()), 429),
        (
            "mia's browser, whose cookie is for mia",
            Some(mias.as_str()),
            429,
        ),
        ("zoe's browser", Some(zoes.as_str()), 200),
    ];
    for (who, cookie, status) in cases {
        assert_eq!(
            attempt("zoe", "198.51.100.1", PASSWORD, cookie).status,
            status,
            "{who}"
        );
    }
}
