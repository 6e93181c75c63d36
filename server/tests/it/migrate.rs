//! Talkback's own export: lossless round trips and idempotent imports, through the library
//! and through the `talkback export` / `talkback import` commands.

use std::process::Command;

use serde_json::json;
use talkback_server::transfer::talkback::{export, import_talkback};

use crate::support::*;

/// A store with every kind of comment: nested replies, an edit, a tombstone, a pending one.
fn populated(dir: &std::path::Path) -> String {
    let server = TestServer::start_with({
        let db = dir.join("db");
        move |c| c.database = db
    });
    let base = &server.base;
    let a = comment(base, "Ädа-Ünïcode", "Hello *world* & <friends>", None);
    let a_id = a["comment"]["id"].as_u64().unwrap();
    let b = comment(base, "Bob", "a reply", Some(a_id));
    let b_id = b["comment"]["id"].as_u64().unwrap();
    comment(base, "Carol", "three levels deep", Some(b_id));
    let key = b["edit_key"].as_str().unwrap();
    call(
        base,
        "PUT",
        &format!("/api/v1/comments/{b_id}"),
        Some(r#"{"body":"a reply, edited"}"#),
        &[("X-Talkback-Edit-Key", key)],
    );
    call(
        base,
        "DELETE",
        &format!("/api/v1/comments/{b_id}"),
        None,
        &[("X-Talkback-Edit-Key", key)],
    );
    post(
        base,
        "/api/v1/comments",
        &json!({"site": "moderated", "page": "/p", "body": "held"}),
    );
    let second = post(
        base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/second", "title": "Second", "body": "other page"}),
    );
    // What moderators did travels too: a pin, a moderator's edit, a locked thread.
    use talkback_api::admin::{LockPage, ModAction, Moderate};
    let owner = talkback_server::service::Actor::command_line();
    let service = &server.service;
    let pin = Moderate {
        action: ModAction::Pin,
        ids: vec![talkback_api::CommentId(a_id)],
    };
    service.moderate(&owner, &pin).unwrap();
    let second_id = second.body["comment"]["id"].as_u64().unwrap();
    service
        .edit_as_moderator(&owner, second_id, "other page, tidied")
        .unwrap();
    let lock = LockPage {
        site: "blog".into(),
        page: "/second".into(),
        locked: true,
    };
    service.lock_page(&owner, &lock).unwrap();
    base.clone()
}

#[test]
fn export_import_export_is_byte_identical_and_imports_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    // The in-process server still holds the database; copy it through the public API instead:
    // read the export from a second store opened on a snapshot.
    let snapshot = tempfile::tempdir().unwrap();
    copy_dir(&dir.path().join("db"), &snapshot.path().join("db"));
    let config = talkback_server::config::Config {
        database: snapshot.path().join("db"),
        ..test_config(snapshot.path())
    };
    let store = open_service(&config);
    let first = export(store.as_ref(), "blog").unwrap();
    assert!(first.contains("\"format\": \"talkback-export\""));
    assert!(first.contains("Ädа-Ünïcode") && first.contains("\"status\": \"deleted\""));
    for kept in [
        "\"pinned\": true",
        "\"moderator_edit\": true",
        "\"locked\": true",
    ] {
        assert!(first.contains(kept), "{kept} in the export");
    }

    let empty = tempfile::tempdir().unwrap();
    let config = test_config(empty.path());
    let target = open_service(&config);
    let report = import_talkback(target.as_ref(), &blog_site(), &first, false).unwrap();
    assert_eq!(
        (
            report.imported,
            report.already_present,
            report.skipped.len()
        ),
        (4, 0, 0),
        "{report:?}"
    );
    let second = export(target.as_ref(), "blog").unwrap();
    assert_eq!(first, second, "export → import → export is byte-identical");
    assert_eq!(
        target
            .store()
            .counts("blog", &["/post", "/second"])
            .unwrap(),
        vec![2, 1]
    );

    let again = import_talkback(target.as_ref(), &blog_site(), &first, false).unwrap();
    assert_eq!(
        (again.imported, again.already_present),
        (0, 4),
        "re-running adds nothing"
    );
    assert_eq!(export(target.as_ref(), "blog").unwrap(), first);
}

#[test]
fn broken_items_are_reported_and_the_rest_imports() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_service(&test_config(dir.path()));
    let doc = json!({"format": "talkback-export", "version": 1, "site": "blog", "pages": [{"key": "/p", "title": "P", "comments": [
        {"id": "1", "author": "ok", "source": "fine", "tree": [], "created": 1, "status": "approved"},
        {"id": "2", "parent": "404", "author": "orphan", "source": "lost parent", "tree": [], "created": 2, "status": "approved"},
        {"id": "3", "parent": "2", "author": "grandchild", "source": "of an orphan", "tree": [], "created": 3, "status": "approved"},
        {"id": "4", "author": "huge", "source": "x".repeat(20_000), "tree": [], "created": 4, "status": "approved"},
        {"id": "5", "author": "x", "website": "javascript:alert(1)", "source": "bad site", "tree": [], "created": 5, "status": "approved"},
        {"id": "6", "parent": "1", "author": "reply", "source": "fine too", "tree": [], "created": 6, "status": "spam"}
    ]}]});
    let report = import_talkback(store.as_ref(), &blog_site(), &doc.to_string(), false).unwrap();
    assert_eq!(report.imported, 3, "{report:?}");
    let reasons: Vec<String> = report
        .skipped
        .iter()
        .map(|(id, why)| format!("{id}: {why}"))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].starts_with("2: its parent 404 is missing"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("3: its parent 2 was not imported"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("16384 bytes"), "{reasons:?}");
    assert_eq!(
        store.store().counts("blog", &["/p"]).unwrap(),
        vec![2],
        "spam is kept but not counted"
    );
    let bad_site = store
        .store()
        .comment(
            store
                .store()
                .comment_by_source("blog", "5")
                .unwrap()
                .unwrap(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        bad_site.website, None,
        "a javascript: website is dropped, the comment kept"
    );

    let dry = tempfile::tempdir().unwrap();
    let dry_store = open_service(&test_config(dry.path()));
    let report = import_talkback(dry_store.as_ref(), &blog_site(), &doc.to_string(), true).unwrap();
    assert_eq!(report.imported, 3);
    assert_eq!(
        dry_store.store().counts("blog", &["/p"]).unwrap(),
        vec![0],
        "a dry run writes nothing"
    );
    assert!(
        import_talkback(
            dry_store.as_ref(),
            &blog_site(),
            "{\"format\": \"other\"}",
            false
        )
        .is_err()
    );
    assert!(import_talkback(dry_store.as_ref(), &blog_site(), "not json", false).is_err());
}

#[test]
fn export_and_import_commands_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    let from = ServerProcess::spawn(&dir.path().join("db"));
    let created = call(
        &from.base,
        "POST",
        "/api/v1/comments",
        Some(r#"{"site": "demo", "page": "/cli", "body": "via the CLI"}"#),
        &[],
    );
    assert_eq!(created.status, 201);
    drop(from);
    let bin = env!("CARGO_BIN_EXE_talkback");
    let out = dir.path().join("export.json");
    let status = Command::new(bin)
        .args(["export", "--site", "demo", "--out"])
        .arg(&out)
        .env("TALKBACK_DATABASE", dir.path().join("db"))
        .status()
        .unwrap();
    assert!(status.success());
    let target = dir.path().join("db2");
    let run = |dry: bool| {
        let mut cmd = Command::new(bin);
        cmd.args(["import", "--format", "talkback"])
            .arg(&out)
            .args(["--site", "demo"])
            .env("TALKBACK_DATABASE", &target);
        if dry {
            cmd.arg("--dry-run");
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    assert_eq!(
        run(true),
        "would import 1 comments, 0 already present, 0 skipped (1 in the file)\n"
    );
    assert_eq!(
        run(false),
        "imported 1 comments, 0 already present, 0 skipped (1 in the file)\n"
    );
    assert_eq!(
        run(false),
        "imported 0 comments, 1 already present, 0 skipped (1 in the file)\n"
    );
    let server = ServerProcess::spawn(&target);
    let thread = get(&server.base, "/api/v1/threads?site=demo&page=/cli");
    assert_eq!(
        thread.body["comments"][0]["body"][0]["paragraph"][0]["text"],
        "via the CLI"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn backups_rotate_and_restore_with_one_command() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let store = open_service(&config);
    let backups = dir.path().join("backups");
    let sites = vec!["blog".to_owned()];
    let mut written = Vec::new();
    for (i, text) in ["first", "second", "third"].iter().enumerate() {
        let doc = json!({"format": "talkback-export", "version": 1, "site": "blog", "pages": [{"key": "/b", "comments": [
            {"id": format!("c{i}"), "author": "a", "source": text, "tree": [], "created": i, "status": "approved"}]}]});
        import_talkback(store.as_ref(), &blog_site(), &doc.to_string(), false).unwrap();
        written.extend(
            talkback_server::transfer::backup::run_once(
                store.as_ref(),
                &sites,
                &backups,
                2,
                1_700_000_000_000 + i as i64,
            )
            .unwrap(),
        );
    }
    let mut kept: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            "blog-20231114T221320001Z.json.gz",
            "blog-20231114T221320002Z.json.gz"
        ],
        "keeps the newest two"
    );
    drop(store);

    // Restore: `talkback import --format talkback BACKUP.json.gz --site blog` into an empty database.
    let restored = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_talkback"))
        .args(["import", "--format", "talkback"])
        .arg(written.last().unwrap())
        .args(["--site", "demo"])
        .env("TALKBACK_DATABASE", restored.path().join("db"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "imported 3 comments, 0 already present, 0 skipped (3 in the file)\n"
    );
}
