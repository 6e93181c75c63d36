//! The anti-spam layers against a real server: what a script posting JSON gets (a 201 that
//! shows nothing, and the comment in the spam view with its reasons), what the widget's solved
//! challenge gets (a visible comment), replays, reused and foreign tokens, the honeypot,
//! duplicates, page bursts, addresses rotated through a trusted proxy, and the filter learning
//! from moderators' decisions through the change log, kept across a restart.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use talkback_server::config::{SiteConfig, SpamRules};

use crate::support::*;

/// The `blog` site with every layer on, and a one-second fill time so tests stay quick.
fn defended(config: &mut talkback_server::config::Config) {
    config.sites = vec![SiteConfig {
        spam: SpamRules {
            min_fill_secs: 1,
            pow_max_number: 5_000,
            ..SpamRules::default()
        },
        ..SiteConfig::new("blog", &[BLOG_ORIGIN])
    }];
}

/// Fetches a challenge for `page` and solves it as the widget's script does.
fn solved(base: &str, page: &str) -> String {
    let reply = get(base, &format!("/api/v1/challenge?site=blog&page={page}"));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let c = &reply.body;
    let (salt, target) = (
        c["salt"].as_str().unwrap(),
        c["challenge"].as_str().unwrap(),
    );
    let n = (0..=c["max"].as_u64().unwrap())
        .find(|n| hex::encode(Sha256::digest(format!("{salt}{n}"))) == target)
        .expect("the puzzle has an answer");
    format!("{}.{n}", c["token"].as_str().unwrap())
}

fn comment_json(page: &str, author: &str, body: &str, proof: Option<&str>) -> Value {
    json!({"site": "blog", "page": page, "author": author, "email": format!("{}@example.com", author.to_lowercase()),
           "body": body, "proof": proof})
}

/// Posts and returns (status, the stored comment's status and reasons).
fn post_and_look(server: &TestServer, body: &Value, headers: &[(&str, &str)]) -> (u16, String) {
    let mut all = vec![("Origin", BLOG_ORIGIN)];
    all.extend_from_slice(headers);
    let reply = call(
        &server.base,
        "POST",
        "/api/v1/comments",
        Some(&body.to_string()),
        &all,
    );
    let stored = latest(server);
    (
        reply.status,
        format!("{} {}", reply.body["error"].as_str().unwrap_or("-"), stored),
    )
}

/// The newest stored comment's status and reasons.
fn latest(server: &TestServer) -> String {
    let list = server
        .service
        .store()
        .list_comments(&talkback_store::CommentQuery {
            limit: 1,
            ..talkback_store::CommentQuery::default()
        })
        .unwrap();
    let c = &list.items[0].comment;
    format!("{:?} {}", c.status, c.held_for.join(","))
}

fn visible(server: &TestServer, page: &str) -> u64 {
    get(
        &server.base,
        &format!("/api/v1/threads?site=blog&page={page}"),
    )
    .body["total"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn scripts_land_in_spam_quietly_and_the_widgets_proof_is_shown_once() {
    let server = TestServer::start_with(defended);
    let text = "I tried the recipe this weekend and the crust came out much better.";
    // A script posting JSON directly: 201 like anyone, marked pending, nothing shown.
    let reply = post(
        &server.base,
        "/api/v1/comments",
        &comment_json("/post", "Ann", text, None),
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.body["comment"]["pending"], true);
    assert_eq!(latest(&server), "Spam proof_missing");
    assert_eq!(visible(&server, "/post"), 0);

    // The widget's way: a solved challenge, sent after the reader had time to write.
    let proof = solved(&server.base, "/post");
    std::thread::sleep(Duration::from_millis(1100));
    let request = comment_json(
        "/post",
        "Bob",
        "A different thought about the crust.",
        Some(&proof),
    );
    let (status, stored) = post_and_look(&server, &request, &[]);
    assert_eq!((status, stored.as_str()), (201, "- Approved "));
    assert_eq!(visible(&server, "/post"), 1);

    // The captured request replayed: refused as a duplicate, kept as spam with both reasons.
    let (status, stored) = post_and_look(&server, &request, &[]);
    assert_eq!(
        (status, stored.as_str()),
        (409, "duplicate_comment Spam token_reused,duplicate")
    );
    // Its token reused for a new text: spam, quietly.
    let reused = comment_json("/post", "Bob", "Yet another text.", Some(&proof));
    assert_eq!(
        post_and_look(&server, &reused, &[]),
        (201, "- Spam token_reused".into())
    );
    // A token for another page, a forged one, a wrong answer.
    let elsewhere = solved(&server.base, "/other");
    std::thread::sleep(Duration::from_millis(1100));
    let cases = [
        (elsewhere.clone(), "Spam token_other_page"),
        (
            format!("{}9", elsewhere),
            "Spam proof_invalid,token_other_page",
        ),
        ("eyJ9.c2ln.1".to_owned(), "Spam proof_invalid"),
    ];
    for (i, (proof, expected)) in cases.into_iter().enumerate() {
        let body = comment_json("/post", "Eve", &format!("try {i}"), Some(&proof));
        assert_eq!(
            post_and_look(&server, &body, &[]),
            (201, format!("- {expected}"))
        );
    }
    // Too soon after the form loaded: held for a moderator, not spam.
    let quick = solved(&server.base, "/post");
    let body = comment_json("/post", "Cy", "Fast typist here.", Some(&quick));
    assert_eq!(
        post_and_look(&server, &body, &[]),
        (201, "- Pending too_fast".into())
    );
    // The honeypot filled in.
    let trap = solved(&server.base, "/post");
    std::thread::sleep(Duration::from_millis(1100));
    let mut body = comment_json("/post", "Bot", "Nice post.", Some(&trap));
    body["trap"] = json!("https://spam.example");
    assert_eq!(
        post_and_look(&server, &body, &[]),
        (201, "- Spam honeypot".into())
    );
    assert_eq!(visible(&server, "/post"), 1);

    // The moderation API lists every refused or held comment with its reasons in words.
    with_accounts(&server);
    let zoe = sign_in(&server.base, "zoe");
    let queue = zoe.queue("status=queue&limit=50");
    let codes: Vec<&str> = queue
        .iter()
        .flat_map(|c| c["held_for"].as_array().unwrap())
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    for code in [
        "proof_missing",
        "duplicate",
        "token_reused",
        "token_other_page",
        "proof_invalid",
        "too_fast",
        "honeypot",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    assert!(
        queue
            .iter()
            .all(|c| !c["held_for"][0]["text"].as_str().unwrap().is_empty())
    );
    // …and counts every outcome by reason.
    let counts = zoe.get("/admin/api/spam");
    assert_eq!(counts.status, 200, "{counts:?}");
    assert_eq!(counts.body["counts"]["spam.proof_missing"], 1);
    assert_eq!(counts.body["counts"]["refused.duplicate"], 1);
    assert_eq!(counts.body["counts"]["accepted"], 1);
}

#[test]
fn bad_challenge_requests_get_clear_errors() {
    let server = TestServer::start_with(defended);
    let cases = [
        ("/api/v1/challenge?site=nope&page=/p", 404, "unknown_site"),
        ("/api/v1/challenge?site=blog", 400, "invalid_query"),
        ("/api/v1/challenge?site=blog&page=", 400, "invalid_page"),
    ];
    for (path, status, code) in cases {
        let reply = get(&server.base, path);
        assert_eq!(
            (reply.status, reply.body["error"].as_str()),
            (status, Some(code)),
            "{path}"
        );
        assert!(
            reply.body["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // A challenge changes nothing and may not be posted to.
    assert_eq!(server.service.store().last_change().unwrap(), 0);
    let reply = call(
        &server.base,
        "POST",
        "/api/v1/challenge?site=blog&page=/p",
        Some("{}"),
        &[],
    );
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
    assert_eq!(reply.header("allow"), Some("GET"));
}

/// Hardening round two, item 7: junk without a proof counted towards the page's burst, so
/// one script kept a thread closed to everyone, and spam raised every reader's proof of work.
#[test]
fn a_burst_of_comments_on_one_page_is_refused_but_junk_neither_closes_a_thread_nor_slows_readers() {
    let server = TestServer::start_with(|config| {
        defended(config);
        config.sites[0].spam.page_burst_per_minute = 5;
        config.rate_limit_per_minute = 3;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    });
    // A script rotating addresses through the trusted proxy: its junk lands in spam quietly,
    // closes nothing and makes nobody's puzzle harder.
    for i in 0..30 {
        let ip = format!("203.0.113.{i}");
        let body = comment_json("/hot", "Bot", &format!("cheap pills {i}"), None);
        let (status, _) = post_and_look(&server, &body, &[("X-Forwarded-For", &ip)]);
        assert_eq!(status, 201);
    }
    let challenge = get(&server.base, "/api/v1/challenge?site=blog&page=/hot");
    assert_eq!(challenge.body["max"], 5_000, "{challenge:?}");
    // Readers with proofs: the sixth within the minute waits, whoever sends it.
    let proofs: Vec<String> = (0..8).map(|_| solved(&server.base, "/hot")).collect();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let statuses: Vec<u16> = proofs
        .iter()
        .enumerate()
        .map(|(i, proof)| {
            let ip = format!("198.51.100.{i}");
            let thought = format!("a real thought, number {i}");
            let body = comment_json("/hot", &format!("Reader{i}"), &thought, Some(proof));
            post_and_look(&server, &body, &[("X-Forwarded-For", &ip)]).0
        })
        .collect();
    assert_eq!(statuses, [201, 201, 201, 201, 201, 429, 429, 429]);
    let counts = server
        .service
        .spam_counts(&talkback_server::service::Actor::command_line());
    assert_eq!(counts.counts.get("refused.page_burst"), Some(&3));
    assert_eq!(counts.counts.get("spam.proof_missing"), Some(&30));
    // Another page is not affected by the burst.
    let proof = solved(&server.base, "/calm");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let body = comment_json("/calm", "Calm", "a real thought", Some(&proof));
    assert_eq!(
        post_and_look(&server, &body, &[("X-Forwarded-For", "198.51.100.99")]).0,
        201
    );
}

#[test]
fn the_filter_learns_from_decisions_and_holds_what_looks_like_them() {
    let server = TestServer::start_with(defended);
    let spam_text = "Zorblax quantum wallet doubles your zorblax deposit overnight";
    let tokens = words(&["zorblax", "quantum", "wallet"]);
    with_accounts(&server);
    let zoe = sign_in(&server.base, "zoe");
    let mut ids = Vec::new();
    for i in 0..4 {
        let reply = post(
            &server.base,
            "/api/v1/comments",
            &comment_json("/post", "Zed", &format!("{spam_text} {i}"), None),
        );
        ids.push(reply.body["comment"]["id"].as_u64().unwrap());
    }
    let ham = post(
        &server.base,
        "/api/v1/comments",
        &comment_json("/post", "Ann", "My zorblax garden grew well", None),
    );
    let ham_id = ham.body["comment"]["id"].as_u64().unwrap();
    // They are spam already (no proof); the moderator approves one and confirms the others.
    assert_eq!(zoe.moderate("approve", &[ham_id]).status, 200);
    zoe.moderate("pending", &ids);
    assert_eq!(zoe.moderate("spam", &ids).status, 200);
    let store = server.service.store();
    let learned = wait_for(|| {
        let c = store.token_counts(&tokens).unwrap();
        (c.spam_docs == 4 && c.ham_docs == 1).then_some(c)
    });
    assert_eq!(learned.tokens, vec![(4, 1), (4, 0), (4, 0)]);
    wait_for(|| (store.training_cursor().unwrap() == store.last_change().unwrap()).then_some(()));
    // A comment full of those words, with a solved proof, now waits for a moderator.
    let proof = solved(&server.base, "/post");
    std::thread::sleep(Duration::from_millis(1100));
    let body = comment_json(
        "/post",
        "New",
        "zorblax quantum wallet zorblax deposit",
        Some(&proof),
    );
    let (status, stored) = post_and_look(&server, &body, &[]);
    assert_eq!(status, 201);
    assert!(stored.starts_with("- Pending filter:"), "{stored}");
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn lessons_survive_a_restart_and_none_is_learned_twice() {
    use talkback_api::admin::{ModAction, Moderate};
    use talkback_server::service::{Actor, Provenance};
    let dir = tempfile::tempdir().unwrap();
    let config = talkback_server::config::Config {
        database: dir.path().join("db"),
        ..test_config(dir.path())
    };
    let tokens = words(&["zorblax", "cheap"]);
    {
        let service = open_service(&config);
        let input = |body: &str| talkback_api::CreateComment {
            site: "blog".into(),
            page: "/post".into(),
            author: Some("Zed".into()),
            body: body.into(),
            ..Default::default()
        };
        let a = service
            .post(input("zorblax cheap"), &Provenance::default())
            .unwrap();
        let b = service
            .post(input("zorblax again"), &Provenance::default())
            .unwrap();
        let moderate = |action, ids: Vec<u64>| {
            let ids = ids.into_iter().map(talkback_api::CommentId).collect();
            service
                .moderate(&Actor::command_line(), &Moderate { action, ids })
                .unwrap();
        };
        moderate(ModAction::Spam, vec![a.comment.id.0, b.comment.id.0]);
        // One change at a time, stopping half-way: the restart must not repeat the first lesson.
        while service.store().token_counts(&tokens).unwrap().spam_docs < 1 {
            assert!(service.train_spam_filter(1).unwrap() > 0);
        }
        let counts = service.store().token_counts(&tokens).unwrap();
        assert_eq!(counts.tokens, vec![(1, 0), (1, 0)]);
    }
    let service = open_service(&config);
    while service.train_spam_filter(1).unwrap() > 0 {}
    let counts = service.store().token_counts(&tokens).unwrap();
    assert_eq!(
        (counts.spam_docs, counts.tokens.clone()),
        (2, vec![(2, 0), (1, 0)])
    );
    assert_eq!(service.train_spam_filter(100).unwrap(), 0);
}

fn wait_for<T>(mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(v) = check() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("condition not met in 5 s");
}

#[test]
fn editing_links_into_an_approved_comment_sends_it_back_to_the_queue() {
    let server = TestServer::start_with(defended);
    let proof = solved(&server.base, "/post");
    std::thread::sleep(Duration::from_millis(1100));
    let reply = post(
        &server.base,
        "/api/v1/comments",
        &comment_json(
            "/post",
            "Sly",
            "What a lovely garden you have.",
            Some(&proof),
        ),
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    let id = reply.body["comment"]["id"].as_u64().unwrap();
    let key = reply.body["edit_key"].as_str().unwrap();
    assert_eq!(latest(&server), "Approved ");
    let links = "Now visit https://a.example https://b.example https://c.example";
    let edited = call(
        &server.base,
        "PUT",
        &format!("/api/v1/comments/{id}"),
        Some(&json!({"body": links}).to_string()),
        &[("Origin", BLOG_ORIGIN), ("X-Talkback-Edit-Key", key)],
    );
    assert_eq!(edited.status, 200, "{edited:?}");
    let stored = latest(&server);
    assert!(
        stored.starts_with("Pending edited,too_many_links"),
        "{stored}"
    );
    assert_eq!(visible(&server, "/post"), 0);
}

#[test]
fn a_request_replayed_after_a_restart_is_still_a_duplicate() {
    use talkback_server::service::Provenance;
    let dir = tempfile::tempdir().unwrap();
    let mut config = talkback_server::config::Config {
        database: dir.path().join("db"),
        ..test_config(dir.path())
    };
    config.sites[0].spam = SpamRules {
        duplicate_minutes: 60,
        ..SpamRules::off()
    };
    let input = || talkback_api::CreateComment {
        site: "blog".into(),
        page: "/post".into(),
        author: Some("Ann".into()),
        body: "Said once, before the restart.".into(),
        ..Default::default()
    };
    {
        let service = open_service(&config);
        service.post(input(), &Provenance::default()).unwrap();
    }
    let service = open_service(&config);
    let again = service.post(input(), &Provenance::default());
    let code = again.err().map(|e| format!("{e:?}"));
    assert!(
        code.as_deref()
            .is_some_and(|c| c.contains("DuplicateComment")),
        "{code:?}"
    );
}
