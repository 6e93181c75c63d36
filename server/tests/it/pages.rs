//! What the server renders as documents under `/t/{site}`: feeds parsed by a feed parser.

use serde_json::json;

use crate::support::*;

fn post_as_blog(base: &str, page: &str, author: &str, body: &str) -> u64 {
    let reply = call(
        base,
        "POST",
        "/api/v1/comments",
        Some(
            &json!({"site": "blog", "page": page, "title": format!("Title of {page}"),
                "url": format!("{BLOG_ORIGIN}{page}"), "author": author,
                "email": format!("{author}@secret.example"), "website": "https://ann.example/",
                "body": body})
            .to_string(),
        ),
        &[("Origin", BLOG_ORIGIN)],
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body["comment"]["id"].as_u64().unwrap()
}

fn fetch(base: &str, path: &str) -> (u16, String, String) {
    let reply = call(base, "GET", path, None, &[]);
    let text = reply.body.as_str().map(str::to_owned).unwrap_or_default();
    let kind = reply.header("content-type").unwrap_or_default().to_owned();
    (reply.status, kind, text)
}

#[test]
fn feeds_of_a_thread_and_of_a_site_parse_and_list_the_right_comments() {
    let server = TestServer::start();
    with_accounts(&server);
    let base = &server.base;
    let first = post_as_blog(
        base,
        "/post/",
        "Ann",
        "Hello <script>alert(1)</script> **world**",
    );
    let second = post_as_blog(base, "/post/", "Bob", "Second");
    post_as_blog(base, "/other/", "Cid", "Elsewhere");
    let spam = post_as_blog(base, "/post/", "Spammer", "buy now");
    assert_eq!(sign_in(base, "zoe").moderate("spam", &[spam]).status, 200);

    for (path, format, expected) in [
        ("/t/blog/atom?page=/post/", "atom", vec![second, first]),
        ("/t/blog/rss?page=/post", "rss", vec![second, first]),
        ("/t/blog/atom", "atom", vec![0, second, first]),
    ] {
        let (status, kind, text) = fetch(base, path);
        assert_eq!(status, 200, "{path}: {text}");
        assert!(kind.contains(format), "{path}: {kind}");
        assert!(!text.contains("secret.example"), "no e-mail in {path}");
        assert!(!text.contains("Spammer"), "no spam in {path}");
        let parsed = feed_rs::parser::parse(text.as_bytes()).expect("a valid feed");
        let links: Vec<String> = parsed
            .entries
            .iter()
            .map(|e| e.links.first().map(|l| l.href.clone()).unwrap_or_default())
            .collect();
        assert_eq!(links.len(), expected.len(), "{path}: {links:?}");
        for (link, id) in links.iter().zip(&expected) {
            if *id != 0 {
                assert_eq!(*link, format!("{BLOG_ORIGIN}/post/#tb-c{id}"), "{path}");
            }
        }
        let newest = &parsed.entries[expected.len() - 1];
        let title = newest
            .title
            .as_ref()
            .map(|t| t.content.clone())
            .unwrap_or_default();
        assert!(title.starts_with("Ann on "), "{path}: {title}");
        let html = newest
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .or_else(|| newest.summary.as_ref().map(|s| s.content.clone()))
            .unwrap_or_default();
        assert!(html.contains("<strong>world</strong>"), "{path}: {html}");
        assert!(!html.contains("<script"), "{path}: {html}");
    }
    for (path, status) in [("/t/nope/atom", 404), ("/t/blog/atom?page=", 400)] {
        assert_eq!(fetch(base, path).0, status, "{path}");
    }
}

#[test]
fn pingbacks_are_listed_under_the_thread_only_when_the_site_shows_them() {
    let wxr = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wordpress.xml");
    let page = "/2024/03/working-smarter/";
    for show in [false, true] {
        let server = TestServer::start_with(|c| c.sites[0].show_pingbacks = show);
        let site = server.service.site("blog").unwrap().clone();
        talkback_server::transfer::import_file(
            server.service.as_ref(),
            &site,
            talkback_server::transfer::Format::Wordpress,
            &wxr,
            false,
        )
        .unwrap();
        for path in [
            format!("/api/v1/threads/html?site=blog&page={page}&form=true"),
            format!("/t/blog?page={page}"),
        ] {
            let (status, _, html) = fetch(&server.base, &path);
            assert_eq!(status, 200, "{path}: {html}");
            assert_eq!(html.contains("class=\"tb-pingbacks\""), show, "{path}");
            if show {
                assert!(html.contains("One Pingback"), "{path}");
                assert!(
                    html.contains("<a rel=\"nofollow ugc noopener\" target=\"_blank\" href=\"https://another.example/post\">Another Blog</a>"),
                    "{path}: {html}"
                );
            }
            assert!(
                !html.contains("a pingback excerpt"),
                "never shown as a comment: {path}"
            );
        }
        // The thread's JSON and count never include pingbacks.
        let thread = get(
            &server.base,
            &format!("/api/v1/threads?site=blog&page={page}"),
        );
        let authors = thread.body["comments"].to_string();
        assert!(!authors.contains("Another Blog"), "{authors}");
    }
}

#[test]
fn recent_comments_are_a_short_escaped_list_linking_to_each_comment() {
    let server = TestServer::start();
    let base = &server.base;
    let long = "word ".repeat(60);
    let first = post_as_blog(base, "/post/", "Ann", &long);
    let second = call(
        base,
        "POST",
        "/api/v1/comments",
        Some(
            &json!({"site": "blog", "page": "/other/", "title": "Title of /other/",
                "url": format!("{BLOG_ORIGIN}/other/"), "author": "<b>Bob</b>",
                "body": "Hi <img src=x onerror=alert(1)>"})
            .to_string(),
        ),
        &[("Origin", BLOG_ORIGIN)],
    );
    assert_eq!(second.status, 201, "{second:?}");
    let second = second.body["comment"]["id"].as_u64().unwrap();
    let third = post_as_blog(base, "/post/", "Cid", "Third");

    let (status, kind, html) = fetch(base, "/api/v1/recent/html?site=blog&limit=2&lang=de");
    assert_eq!(status, 200, "{html}");
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(html.contains("Neueste Kommentare"), "{html}");
    assert_eq!(
        html.matches("class=\"tb-recent-item\"").count(),
        2,
        "{html}"
    );
    let at = |id: u64| html.find(&format!("#tb-c{id}\""));
    assert!(
        at(third).unwrap() < at(second).unwrap(),
        "newest first: {html}"
    );
    assert_eq!(at(first), None, "limit 2: {html}");
    assert!(
        html.contains(&format!("href=\"{BLOG_ORIGIN}/other/#tb-c{second}\"")),
        "{html}"
    );
    assert!(
        html.contains("&lt;b&gt;Bob&lt;/b&gt; zu „Title of /other/“"),
        "{html}"
    );
    assert!(
        html.contains("Hi &lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(!html.contains("secret.example"), "no e-mail: {html}");

    // A long comment is cut; the default is 5; a limit beyond 20 is 20; bad input is a 4xx.
    let (_, _, all) = fetch(base, "/api/v1/recent/html?site=blog");
    assert_eq!(all.matches("class=\"tb-recent-item\"").count(), 3);
    assert!(all.contains(" word…</p>"), "cut at a word: {all}");
    assert_eq!(
        fetch(base, "/api/v1/recent/html?site=blog&limit=1000").0,
        200
    );
    for (path, status) in [
        ("/api/v1/recent/html?site=nope", 404),
        ("/api/v1/recent/html?site=blog&limit=x", 400),
        ("/api/v1/recent/html", 400),
    ] {
        let reply = get(base, path);
        assert_eq!(reply.status, status, "{path}: {reply:?}");
        assert!(reply.body["error"].is_string(), "{path}: {reply:?}");
    }
}

/// Hardening round two (LOW): one control character in a body made the whole feed ill-formed
/// XML for every feed reader.
#[test]
fn a_control_character_in_a_body_leaves_the_feeds_well_formed() {
    let server = TestServer::start();
    let base = &server.base;
    post_as_blog(
        base,
        "/ctl/",
        "Ann",
        "bell \u{7} and escape \u{1b} and nul-ish \u{1}",
    );
    for path in ["/t/blog/atom?page=/ctl/", "/t/blog/rss?page=/ctl/"] {
        let (status, _, text) = fetch(base, path);
        assert_eq!(status, 200, "{path}: {text}");
        let parsed = feed_rs::parser::parse(text.as_bytes()).expect("a well-formed feed");
        assert_eq!(parsed.entries.len(), 1, "{path}");
        assert!(text.contains("bell  and escape  and nul-ish"), "{text}");
    }
}

/// Hardening round two, item 10: feeds and the sidebar searched the site's comments on every
/// request. Their lists are now kept until the next change, which must still show at once.
#[test]
fn kept_feed_lists_show_every_change_at_once() {
    let server = TestServer::start();
    with_accounts(&server);
    let base = &server.base;
    let entries = |path: &str| {
        let (status, _, text) = fetch(base, path);
        assert_eq!(status, 200, "{path}: {text}");
        feed_rs::parser::parse(text.as_bytes())
            .unwrap()
            .entries
            .len()
    };
    let first = post_as_blog(base, "/kept/", "Ann", "first");
    for _ in 0..3 {
        assert_eq!(entries("/t/blog/atom?page=/kept/"), 1);
    }
    assert_eq!(entries("/t/blog/atom?page=/never-commented/"), 0);
    post_as_blog(base, "/kept/", "Bob", "second");
    assert_eq!(entries("/t/blog/atom?page=/kept/"), 2);
    assert_eq!(entries("/t/blog/rss"), 2);
    assert_eq!(sign_in(base, "zoe").moderate("spam", &[first]).status, 200);
    assert_eq!(entries("/t/blog/atom?page=/kept/"), 1);
    assert_eq!(entries("/t/blog/rss"), 1);
}
