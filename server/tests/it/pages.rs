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
