//! Data-driven tests for the pure helpers and snapshot tests of the JSON shapes.

use expect_test::{Expect, expect};

use crate::*;

#[track_caller]
fn check_key(input: &str, expect: Expect) {
    expect.assert_eq(&format!("{:?}", normalize_page_key(input)));
}

#[test]
fn page_keys_normalise() {
    check_key("/2024/hello/", expect![[r#"Some("/2024/hello")"#]]);
    check_key("/2024/hello", expect![[r#"Some("/2024/hello")"#]]);
    check_key(
        "https://blog.example/2024/hello/?utm=x#c5",
        expect![[r#"Some("/2024/hello")"#]],
    );
    check_key("https://blog.example", expect![[r#"Some("/")"#]]);
    check_key("/", expect![[r#"Some("/")"#]]);
    check_key("//a//b//", expect![[r#"Some("/a/b")"#]]);
    check_key("my-post-id", expect![[r#"Some("/my-post-id")"#]]);
    check_key("/caf\u{e9}/", expect![[r#"Some("/café")"#]]);
    check_key("", expect![[r#"None"#]]);
    check_key("?only=query", expect![[r#"None"#]]);
    check_key("/a\nb", expect![[r#"None"#]]);
}

#[test]
fn page_keys_keep_the_query_parameters_that_name_a_page() {
    // (input, key with WordPress's parameters, key with "path only")
    let cases = [
        ("/?p=4", "/?p=4", "/"),
        ("https://blog.example/?p=4", "/?p=4", "/"),
        ("https://blog.example?p=4", "/?p=4", "/"),
        ("http://example.tld/?p=4#comment-11", "/?p=4", "/"),
        ("/?page_id=7", "/?page_id=7", "/"),
        (
            "/index.php?p=4&utm_source=feed&fbclid=x1",
            "/index.php?p=4",
            "/index.php",
        ),
        ("/?utm_source=a&utm_medium=b&gclid=c&ref=d", "/", "/"),
        ("/?tag=rust&cat=3", "/?cat=3&tag=rust", "/"),
        ("/?cat=3&tag=rust", "/?cat=3&tag=rust", "/"),
        ("/?p=4&p=4", "/?p=4", "/"),
        ("/?p=", "/", "/"),
        ("/?p", "/", "/"),
        ("/?p=%34", "/?p=4", "/"),
        ("/?tag=caf%c3%a9", "/?tag=caf%C3%A9", "/"),
        ("/?tag=a%2fb", "/?tag=a%2Fb", "/"),
        ("/?tag=100%", "/?tag=100%25", "/"),
        ("/?tag=caf\u{e9}", "/?tag=caf\u{e9}", "/"),
        ("/2024/hello/?p=4", "/2024/hello?p=4", "/2024/hello"),
        ("/2024/hello/?utm=x", "/2024/hello", "/2024/hello"),
        ("/?P=4", "/", "/"),
    ];
    let none: [&str; 0] = [];
    for (input, wordpress, path_only) in cases {
        assert_eq!(
            normalize_page_key(input).as_deref(),
            Some(wordpress),
            "{input}"
        );
        assert_eq!(
            normalize_page_key_keeping(input, &none).as_deref(),
            Some(path_only),
            "{input}, path only"
        );
    }
    assert_eq!(
        page_url_keeping(
            "https://blog.example/?utm_source=x&p=4#comment-2",
            DEFAULT_PAGE_PARAMS
        ),
        "https://blog.example/?p=4"
    );
    assert_eq!(
        page_url_keeping(
            "https://blog.example/2024/hello/?fbclid=1",
            DEFAULT_PAGE_PARAMS
        ),
        "https://blog.example/2024/hello/"
    );
    // A site that lists its own parameter.
    assert_eq!(
        normalize_page_key_keeping("/index.php?id=12&session=9", &["id"]).as_deref(),
        Some("/index.php?id=12")
    );
    // Normalising a key again changes nothing.
    for (input, wordpress, _) in cases {
        assert_eq!(
            normalize_page_key(wordpress).as_deref(),
            Some(wordpress),
            "{input}"
        );
    }
}

fn comment(id: u64, parent: Option<u64>) -> Comment {
    Comment {
        id: CommentId(id),
        parent: parent.map(CommentId),
        author: format!("a{id}"),
        website: None,
        avatar: String::new(),
        body: vec![],
        created: id as i64,
        edited: None,
        deleted: false,
        pending: false,
        pinned: false,
        moderator_edit: false,
        replies: vec![],
        more_replies: 0,
        replies_cursor: None,
    }
}

fn outline(comments: &[Comment], depth: usize, out: &mut String) {
    for c in comments {
        out.push_str(&format!("{}{}\n", "  ".repeat(depth), c.id));
        outline(&c.replies, depth + 1, out);
    }
}

#[track_caller]
fn check_thread(top: &[u64], replies: &[(u64, u64)], expect: Expect) {
    let top = top.iter().map(|&id| comment(id, None)).collect();
    let replies = replies
        .iter()
        .map(|&(id, p)| comment(id, Some(p)))
        .collect();
    let mut out = String::new();
    outline(&assemble_thread(top, replies), 0, &mut out);
    expect.assert_eq(&out);
}

#[test]
fn threads_nest_replies_under_parents() {
    check_thread(
        &[1, 2],
        &[],
        expect![[r#"
        1
        2
    "#]],
    );
    check_thread(
        &[5, 1],
        &[(7, 5), (6, 5), (8, 6), (9, 1)],
        expect![[r#"
        5
          6
            8
          7
        1
          9
    "#]],
    );
    // An orphan (parent on another page or not loaded) is dropped, not shown at the top.
    check_thread(
        &[1],
        &[(3, 2)],
        expect![[r#"
        1
    "#]],
    );
}

#[test]
fn error_body_json_shape_is_stable() {
    let body = ErrorBody {
        error: ErrorCode::BodyTooLong,
        message: "too long".into(),
    };
    expect![[r#"{"error":"body_too_long","message":"too long"}"#]]
        .assert_eq(&serde_json::to_string(&body).unwrap());
    let sent = crate::SentError {
        body: body.clone(),
        request_id: Some("5f0c2a9e1b7d4c36".into()),
    };
    let text = serde_json::to_string(&sent).unwrap();
    expect![[r#"{"error":"body_too_long","message":"too long","request_id":"5f0c2a9e1b7d4c36"}"#]]
        .assert_eq(&text);
    let read: ErrorBody = serde_json::from_str(&text).unwrap();
    assert_eq!(read, body, "clients read what the server sends");
    let unknown: ErrorBody =
        serde_json::from_str(r#"{"error":"brand_new_code","message":"m"}"#).unwrap();
    assert_eq!(unknown.error, ErrorCode::Unknown);
}

/// Every code, in declaration order (the wire names below are its snapshot).
const EVERY_CODE: [ErrorCode; 29] = [
    ErrorCode::InvalidJson,
    ErrorCode::InvalidQuery,
    ErrorCode::PayloadTooLarge,
    ErrorCode::UnknownSite,
    ErrorCode::OriginNotAllowed,
    ErrorCode::InvalidPage,
    ErrorCode::TitleTooLong,
    ErrorCode::ParentNotFound,
    ErrorCode::ParentOnOtherPage,
    ErrorCode::NestingTooDeep,
    ErrorCode::BodyEmpty,
    ErrorCode::BodyTooLong,
    ErrorCode::MarkdownTooDeep,
    ErrorCode::NameTooLong,
    ErrorCode::InvalidWebsite,
    ErrorCode::InvalidEmail,
    ErrorCode::InvalidCursor,
    ErrorCode::TooManyPages,
    ErrorCode::CommentNotFound,
    ErrorCode::EditKeyInvalid,
    ErrorCode::EditWindowExpired,
    ErrorCode::RateLimited,
    ErrorCode::InvalidClientAddress,
    ErrorCode::UnsupportedEncoding,
    ErrorCode::NotFound,
    ErrorCode::MethodNotAllowed,
    ErrorCode::CommentsClosed,
    ErrorCode::Internal,
    ErrorCode::Unknown,
];

/// Codes only the server sends: the reader's widget never branches on them, so this crate
/// reads them back as `Unknown` (and its deserializer stays small).
const SENT_ONLY: [ErrorCode; 8] = [
    ErrorCode::DuplicateComment,
    ErrorCode::SubscriptionNotFound,
    ErrorCode::SignInRequired,
    ErrorCode::SignInFailed,
    ErrorCode::SignInLocked,
    ErrorCode::CsrfRejected,
    ErrorCode::NotPermitted,
    ErrorCode::StoreUnavailable,
];

#[test]
fn codes_only_the_server_sends_keep_their_wire_names_and_read_back_as_unknown() {
    use crate::i18n::errors::EN;
    let mut out = String::new();
    for code in SENT_ONLY {
        let name = serde_json::to_string(&code).unwrap();
        let back: ErrorCode = serde_json::from_str(&name).unwrap();
        assert_eq!(back, ErrorCode::Unknown, "{name}");
        match EN.message(code) {
            Some(message) => out.push_str(&format!("{name}: {message}\n")),
            None => out.push_str(&format!("{name}\n")),
        }
    }
    expect![[r#"
        "duplicate_comment": You posted this comment already. Write something new, or wait for an answer.
        "subscription_not_found": This link is not valid, or that subscription has already ended.
        "sign_in_required"
        "sign_in_failed"
        "sign_in_locked"
        "csrf_rejected"
        "not_permitted"
        "store_unavailable": Comments are briefly unavailable. Please try again in a moment.
    "#]]
    .assert_eq(&out);
}

#[test]
fn error_codes_keep_their_wire_names_and_english_messages() {
    use crate::i18n::errors::EN;
    let mut out = String::new();
    for code in EVERY_CODE {
        let name = serde_json::to_string(&code).unwrap();
        let back: ErrorCode = serde_json::from_str(&name).unwrap();
        assert_eq!(back, code, "{name} reads back");
        match EN.message(code) {
            Some(message) => out.push_str(&format!("{name}: {message}\n")),
            None => out.push_str(&format!("{name}\n")),
        }
    }
    expect![[r#"
        "invalid_json"
        "invalid_query"
        "payload_too_large"
        "unknown_site"
        "origin_not_allowed"
        "invalid_page"
        "title_too_long"
        "parent_not_found": The comment you are replying to no longer exists.
        "parent_on_other_page": The comment you are replying to is on another page.
        "nesting_too_deep": Replies can nest at most 32 levels deep; reply higher up the thread.
        "body_empty": Please write a comment first.
        "body_too_long": Your comment could not be accepted: the comment is longer than 16384 bytes.
        "markdown_too_deep": Your comment could not be accepted: quotes and lists are nested more than 8 deep.
        "name_too_long": Please keep your name under 100 characters.
        "invalid_website": Your website must be an http:// or https:// address.
        "invalid_email": That e-mail address does not look right (like name@example.com).
        "invalid_cursor"
        "too_many_pages"
        "comment_not_found": There is no such comment.
        "edit_key_invalid": This comment can only be changed from the browser that posted it.
        "edit_window_expired": The time to edit or delete this comment has passed.
        "rate_limited"
        "invalid_client_address"
        "unsupported_encoding"
        "not_found"
        "method_not_allowed"
        "comments_closed": Comments are closed.
        "internal": Something went wrong on the server. Please try again.
        "unknown"
    "#]].assert_eq(&out);
}

#[test]
fn every_language_words_every_error_a_reader_can_act_on() {
    use crate::i18n::errors::{ALL, EN, ErrorTexts};
    for texts in ALL {
        for code in EVERY_CODE {
            let (en, here) = (EN.message(code), texts.message(code));
            assert_eq!(en.is_some(), here.is_some(), "{}: {code:?}", texts.lang);
            if let Some(here) = here {
                assert!(!here.contains('{'), "{}: {here}", texts.lang);
                // The limit is in every language's words.
                for n in ["100", "16384", "8", "32"] {
                    assert_eq!(
                        en.as_deref().unwrap_or_default().contains(n),
                        here.contains(n),
                        "{}: {here}",
                        texts.lang
                    );
                }
            }
        }
        assert!(texts.too_fast(true, 7).contains('7') && texts.too_fast(false, 9).contains('9'));
    }
    assert_eq!(ErrorTexts::for_lang("de-AT,de;q=0.9,en;q=0.5").lang, "de");
    assert_eq!(ErrorTexts::for_lang("fr-CA").lang, "fr");
    assert_eq!(ErrorTexts::for_lang("pt-BR,pt").lang, "en");
    assert_eq!(ErrorTexts::for_lang("").lang, "en");
}

#[track_caller]
fn check_link(href: &str, expect: Expect) {
    let as_link = link_href(href);
    let as_website = is_web_address(href);
    expect.assert_eq(&format!("{as_link:?} {as_website}"));
}

#[test]
fn links_keep_http_https_and_mailto_and_websites_http_and_https() {
    check_link(
        "https://example.com/a?b",
        expect![[r#"Some("https://example.com/a?b") true"#]],
    );
    check_link(
        "  HTTP://Example.com  ",
        expect![[r#"Some("HTTP://Example.com") false"#]],
    );
    check_link(
        "mailto:me@example.com",
        expect![[r#"Some("mailto:me@example.com") false"#]],
    );
    check_link("javascript:alert(1)", expect!["None false"]);
    check_link(" javascript:alert(1)", expect!["None false"]);
    check_link("data:text/html,x", expect!["None false"]);
    check_link("https://", expect!["None false"]);
    check_link("mailto:", expect!["None false"]);
    check_link("https://a b", expect!["None false"]);
    check_link("https://a\u{7}", expect!["None false"]);
    check_link(
        "https://x\"onmouseover=1",
        expect![[r#"Some("https://x\"onmouseover=1") false"#]],
    );
    check_link("https:///path", expect![[r#"Some("https:///path") false"#]]);
    check_link("httpsx://x", expect!["None false"]);
    check_link(
        "hTtPs://é.example",
        expect![[r#"Some("hTtPs://é.example") true"#]],
    );
    // The widget's check on stored values: the scheme alone, nothing trimmed.
    assert!(has_scheme("https://x", &WEB_SCHEMES));
    assert!(!has_scheme(" https://x", &WEB_SCHEMES));
    assert!(!has_scheme("mailto:x", &WEB_SCHEMES));
    assert!(has_scheme("MAILTO:x", &LINK_SCHEMES));
}

#[test]
fn authors_are_named_the_same_everywhere() {
    let en = crate::i18n::Strings::for_lang("en");
    assert_eq!(en.author_name("Ann", false), "Ann");
    assert_eq!(en.author_name("", false), "Anonymous");
    assert_eq!(en.author_name("", true), "a deleted comment");
    assert_eq!(en.author_name("Ann", true), "a deleted comment");
    let de = crate::i18n::Strings::for_lang("de");
    assert_eq!(
        crate::i18n::fill(de.in_reply_to, &[("name", de.author_name("", true))]),
        "als Antwort auf einen gelöschten Kommentar"
    );
}

#[test]
fn comment_json_shape_is_stable() {
    let mut c = comment(3, Some(1));
    c.body = vec![Block::Paragraph(vec![
        Inline::Text("hi ".into()),
        Inline::Link {
            href: "https://x.example".into(),
            children: vec![Inline::Text("x".into())],
        },
    ])];
    expect![[r#"{"id":3,"parent":1,"author":"a3","website":null,"avatar":"","body":[{"paragraph":[{"text":"hi "},{"link":{"href":"https://x.example","children":[{"text":"x"}]}}]}],"created":3,"edited":null,"deleted":false,"pending":false,"replies":[]}"#]]
        .assert_eq(&serde_json::to_string(&c).unwrap());
    // Old clients' payloads (fields added later missing) still parse.
    let minimal: Comment =
        serde_json::from_str(r#"{"id":1,"author":"a","avatar":"","body":[],"created":0}"#).unwrap();
    assert!(minimal.replies.is_empty());
}

#[track_caller]
fn check_heading(lang: &str, n: u32, title: Option<&str>, expect: Expect) {
    expect.assert_eq(&i18n::Strings::for_lang(lang).count_heading(n, title));
}

#[test]
fn count_headings_have_zero_one_and_many_forms() {
    check_heading(
        "en",
        0,
        Some("A Post"),
        expect![[r#"No Responses to “A Post”"#]],
    );
    check_heading(
        "en",
        1,
        Some("A Post"),
        expect![[r#"One Response to “A Post”"#]],
    );
    check_heading(
        "en-GB",
        16,
        Some("A Working Smarter Conversation"),
        expect![[r#"16 Responses to “A Working Smarter Conversation”"#]],
    );
    check_heading("en", 2, None, expect![[r#"2 comments"#]]);
    check_heading("en", 2, Some("  "), expect![[r#"2 comments"#]]);
    check_heading(
        "de-AT",
        3,
        Some("Hallo"),
        expect![[r#"3 Antworten auf „Hallo“"#]],
    );
    check_heading(
        "fr",
        1,
        Some("Salut"),
        expect![[r#"Une réponse à « Salut »"#]],
    );
    check_heading("es", 0, None, expect![[r#"Aún no hay comentarios"#]]);
    check_heading("xx", 5, None, expect![[r#"5 comments"#]]);
}

#[test]
fn relative_times_read_naturally() {
    let en = i18n::Strings::for_lang("en");
    let now = 1_763_900_000_000;
    let cases = [
        (0, "just now"),
        (61_000, "1 minute ago"),
        (5 * 60_000, "5 minutes ago"),
        (3 * 3_600_000, "3 hours ago"),
        (86_400_000, "yesterday"),
        (3 * 86_400_000, "3 days ago"),
        (40 * 86_400_000, "on 2025-10-14"),
    ];
    for (ago, text) in cases {
        assert_eq!(en.relative_time(now, now - ago), text);
    }
    assert_eq!(
        i18n::Strings::for_lang("de").relative_time(now, now - 120_000),
        "vor 2 Minuten"
    );
    assert_eq!(en.time_left(14 * 60_000 + 1_000), "15 min left to edit");
    assert_eq!(en.time_left(9_000), "9 s left to edit");
    assert_eq!(i18n::rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(
        i18n::iso_datetime(1_709_164_800_000),
        "2024-02-29 00:00 UTC"
    );
}

#[test]
fn every_language_fills_every_string() {
    for strings in i18n::ALL {
        let all = format!("{strings:?}");
        assert!(!all.contains("\"\""), "{}: empty string", strings.lang);
        assert!(
            strings.count_many_titled.contains("{n}")
                && strings.count_many_titled.contains("{title}")
        );
        assert!(
            strings.show_more_replies.contains("{n}") && strings.in_reply_to.contains("{name}")
        );
    }
}

#[test]
fn identicons_are_mirrored_and_stable() {
    let a = Identicon::from_seed("a1b2c3d4");
    assert_eq!(a, Identicon::from_seed("a1b2c3d4"));
    assert_ne!(a, Identicon::from_seed("00000001"));
    for row in 0..5 {
        assert_eq!(a.cells[row * 5], a.cells[row * 5 + 4]);
        assert_eq!(a.cells[row * 5 + 1], a.cells[row * 5 + 3]);
    }
    assert!(a.hue < 360);
    assert_eq!(Identicon::from_seed("").filled().count(), 0);
}

#[test]
fn error_code_all_is_every_code_the_server_sends_once() {
    let mut listed: Vec<ErrorCode> = EVERY_CODE.iter().chain(&SENT_ONLY).copied().collect();
    let mut all = ErrorCode::ALL.to_vec();
    let key = |c: &ErrorCode| format!("{c:?}");
    listed.sort_by_key(key);
    all.sort_by_key(key);
    assert_eq!(all, listed);
}
