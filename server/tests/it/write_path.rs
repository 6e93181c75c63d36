//! The one write path seen from outside: every write the API acknowledges is in the change log
//! exactly once and in order, consumers are told, and errors a reader can fix come back in the
//! language the widget asks for.

use serde_json::{Value, json};
use talkback_store::{ChangeKind, Status};

use crate::support::*;

/// The changes after `after`, as `page kind` lines.
fn changes(server: &TestServer, after: u64) -> Vec<String> {
    server
        .service
        .store()
        .changes_after(after, 100)
        .unwrap()
        .iter()
        .map(|c| format!("{} {:?}", c.page_key, c.kind))
        .collect()
}

#[test]
fn every_acknowledged_write_is_in_the_change_log_once_and_in_order() {
    let server = TestServer::start();
    let base = &server.base;
    let mut published = server.service.changes();
    assert_eq!(*published.borrow_and_update(), 0);
    let a = comment(base, "Ann", "first", None);
    let a_id = a["comment"]["id"].as_u64().unwrap();
    let key = a["edit_key"].as_str().unwrap().to_owned();
    let b = comment(base, "Bob", "reply", Some(a_id));
    let b_id = b["comment"]["id"].as_u64().unwrap();
    assert!(published.has_changed().unwrap(), "consumers were told");
    assert_eq!(*published.borrow_and_update(), 2);
    let edited = call(
        base,
        "PUT",
        &format!("/api/v1/comments/{a_id}"),
        Some(r#"{"body":"first, edited"}"#),
        &[("X-Talkback-Edit-Key", &key)],
    );
    assert_eq!(edited.status, 200);
    let deleted = call(
        base,
        "DELETE",
        &format!("/api/v1/comments/{a_id}"),
        None,
        &[("X-Talkback-Edit-Key", &key)],
    );
    assert_eq!(deleted.status, 200);
    let held = post(
        base,
        "/api/v1/comments",
        &json!({"site": "moderated", "page": "/q", "body": "hold me"}),
    );
    assert_eq!(held.status, 201);
    // Refused writes leave nothing behind.
    let refused = post(
        base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/post", "body": "", "parent": b_id}),
    );
    assert_eq!(refused.status, 400);

    assert_eq!(
        changes(&server, 0),
        [
            "/post Created { status: Approved, parent: None, imported: false }".to_owned(),
            format!("/post Created {{ status: Approved, parent: Some({a_id}), imported: false }}"),
            "/post Edited { status: Approved, was: Approved }".to_owned(),
            "/post Deleted { tombstone: true }".to_owned(),
            "/q Created { status: Pending, parent: None, imported: false }".to_owned(),
        ]
    );
    let log = server.service.store().changes_after(0, 100).unwrap();
    assert_eq!(
        log.iter().map(|c| c.comment).collect::<Vec<_>>(),
        [
            Some(a_id),
            Some(b_id),
            Some(a_id),
            Some(a_id),
            log[4].comment
        ]
    );
    assert_eq!(log[4].site, "moderated");
    assert!(matches!(
        log[4].kind,
        ChangeKind::Created {
            status: Status::Pending,
            ..
        }
    ));
    // A consumer resuming from its cursor sees the rest, and nothing twice.
    assert_eq!(changes(&server, 3).len(), 2);
    assert_eq!(*published.borrow_and_update(), 5);
}

/// Posts a comment with `fields` added, in `lang`; returns the status, code and message.
fn refused(base: &str, lang: Option<&str>, fields: Value) -> (u16, String, String) {
    let mut body = json!({"site": "blog", "page": "/post", "body": "hi"});
    for (k, v) in fields.as_object().unwrap() {
        body[k] = v.clone();
    }
    let mut headers = vec![("Origin", BLOG_ORIGIN)];
    if let Some(lang) = lang {
        headers.push(("Accept-Language", lang));
    }
    let r = call(
        base,
        "POST",
        "/api/v1/comments",
        Some(&body.to_string()),
        &headers,
    );
    (
        r.status,
        r.body["error"].as_str().unwrap_or_default().to_owned(),
        r.body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn errors_a_reader_can_fix_come_in_the_language_the_widget_asks_for() {
    let server = TestServer::start();
    let long_name = json!({"author": "n".repeat(101)});
    let cases = [
        (None, "Please keep your name under 100 characters."),
        (Some("en-GB"), "Please keep your name under 100 characters."),
        (Some("de"), "Bitte halte deinen Namen unter 100 Zeichen."),
        (
            Some("fr-CA,fr;q=0.9"),
            "Votre nom doit faire moins de 100 caractères.",
        ),
        (Some("es"), "Tu nombre debe tener menos de 100 caracteres."),
        (Some("pt-BR"), "Please keep your name under 100 characters."),
    ];
    for (lang, message) in cases {
        assert_eq!(
            refused(&server.base, lang, long_name.clone()),
            (400, "name_too_long".to_owned(), message.to_owned()),
            "{lang:?}"
        );
    }
    let (_, code, message) = refused(&server.base, Some("de"), json!({"body": "  "}));
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("body_empty", "Bitte schreib zuerst einen Kommentar.")
    );
    // What only a developer can cause stays in English, with its specific words.
    let (status, code, message) = refused(&server.base, Some("de"), json!({"site": "nope"}));
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            404,
            "unknown_site",
            "There is no site called \"nope\" on this server."
        )
    );
    // Replying to a comment that is gone.
    let (_, code, message) = refused(&server.base, Some("fr"), json!({"parent": 999_999}));
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "parent_not_found",
            "Le commentaire auquel vous répondez n’existe plus."
        )
    );
}

#[test]
fn over_the_limit_a_reader_is_told_in_their_language_how_long_to_wait() {
    let server = TestServer::start_with(|c| c.rate_limit_per_minute = 1);
    assert_eq!(refused(&server.base, Some("es"), json!({})).0, 201);
    let (status, code, message) = refused(&server.base, Some("es"), json!({}));
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert!(
        message.starts_with("Estás comentando demasiado rápido. Espera ")
            && message.ends_with(" segundos y vuelve a intentarlo."),
        "{message}"
    );
    let (_, _, english) = refused(&server.base, None, json!({}));
    assert!(
        english.starts_with("You are commenting too fast. Please wait "),
        "{english}"
    );
}
