//! The conformance suite on temporary sled databases, and what only sled has: reopening a
//! directory, the record format byte and the upgrade of older databases.

use std::sync::Arc;

use talkback_store::conformance::new_comment;
use talkback_store::*;

use crate::{SledStore, StoreOptions};

talkback_store::conformance_suite!(Arc::new(SledStore::temporary().unwrap()) as Arc<dyn Store>);

fn insert(store: &SledStore, page: &str, parent: Option<u64>, author: &str) -> u64 {
    store
        .insert_comment(new_comment(page, parent, author))
        .unwrap()
        .0
        .id
}

/// Opens `dir` again once sled has released its lock (from a background thread).
fn reopen(dir: &std::path::Path) -> SledStore {
    loop {
        match SledStore::open(dir, &StoreOptions::default()) {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

#[test]
fn store_reopens_with_everything_after_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let id = {
        let store = SledStore::open(&path, &StoreOptions::default()).unwrap();
        let (rec, seq) = store
            .insert_comment(new_comment("/p", None, "alice"))
            .unwrap();
        store.flush_through(seq).unwrap();
        rec.id
    };
    let store = SledStore::open(&path, &StoreOptions::default()).unwrap();
    assert_eq!(store.comment(id).unwrap().unwrap().author, "alice");
    assert_eq!(store.counts("blog", &["/p"]).unwrap(), vec![1]);
}

#[test]
fn records_carry_a_format_version() {
    let bytes = crate::codec::encode(&Status::Approved).unwrap();
    assert_eq!(bytes[0], crate::codec::FORMAT_VERSION);
    assert!(matches!(
        crate::codec::decode::<Status>(&[9, b'1']),
        Err(Error::Corrupt(_))
    ));
}

#[test]
fn secrets_are_created_once_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions::default();
    let first = {
        let store = SledStore::open(dir.path(), &options).unwrap();
        let s = store.secret("avatar", b"first").unwrap();
        assert_eq!(store.secret("avatar", b"second").unwrap(), s);
        s
    };
    assert_eq!(first, b"first");
    let store = reopen(dir.path());
    assert_eq!(store.secret("avatar", b"third").unwrap(), b"first");
}

#[test]
fn an_older_database_is_upgraded_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions::default();
    let (top, reply) = {
        let store = SledStore::open(dir.path(), &options).unwrap();
        let top = insert(&store, "/old", None, "a");
        let mid = insert(&store, "/old", Some(top), "b");
        let reply = insert(&store, "/old", Some(mid), "c");
        // Make it look like a level-1 database: no replies tree, no roots, no totals.
        store.replies.clear().unwrap();
        for id in [top, mid, reply] {
            let mut rec = store.comment(id).unwrap().unwrap();
            rec.root = None;
            rec.descendants = 0;
            store
                .comments
                .insert(id.to_be_bytes(), crate::codec::encode(&rec).unwrap())
                .unwrap();
        }
        let mut page = store.page("blog", "/old").unwrap().unwrap();
        page.comments = 0;
        store
            .pages
            .insert(b"blog\0/old", crate::codec::encode(&page).unwrap())
            .unwrap();
        store.meta.remove("level").unwrap();
        store.db.flush().unwrap();
        (top, reply)
    };
    let store = reopen(dir.path());
    assert_eq!(store.comment(reply).unwrap().unwrap().root, Some(top));
    assert_eq!(store.comment(top).unwrap().unwrap().descendants, 2);
    assert_eq!(store.page("blog", "/old").unwrap().unwrap().comments, 3);
    let page = store
        .thread_page("blog", "/old", Order::OldestFirst, 10, None, 10)
        .unwrap();
    assert_eq!(page.replies.len(), 2);
}

#[test]
fn a_level_2_database_gains_its_moderation_queue_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions::default();
    let held = {
        let store = SledStore::open(dir.path(), &options).unwrap();
        insert(&store, "/p", None, "shown");
        let mut new = new_comment("/p", None, "held");
        new.status = Status::Pending;
        let held = store.insert_comment(new).unwrap().0.id;
        store.held.clear().unwrap();
        store.meta.insert("level", &[2]).unwrap();
        store.db.flush().unwrap();
        held
    };
    let store = reopen(dir.path());
    let queue = store
        .list_comments(&CommentQuery {
            statuses: vec![Status::Pending],
            ..CommentQuery::default()
        })
        .unwrap();
    let ids: Vec<u64> = queue.items.iter().map(|l| l.comment.id).collect();
    assert_eq!(ids, [held]);
}

#[test]
fn the_change_log_survives_reopening_and_continues_its_sequence() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path(), &StoreOptions::default()).unwrap();
        insert(&store, "/p", None, "a");
        let (_, seq) = store.insert_comment(new_comment("/p", None, "b")).unwrap();
        store.flush_through(seq).unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(store.last_change().unwrap(), 2);
    insert(&store, "/p", None, "c");
    let seqs: Vec<u64> = store
        .changes_after(0, 10)
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
}

#[test]
fn a_store_is_outgrown_only_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db"), &StoreOptions::default()).unwrap();
    let seq = store
        .insert_comment(new_comment("/p", None, "alice"))
        .unwrap()
        .1;
    store.flush_through(seq).unwrap();
    let size = store.size_on_disk().unwrap();
    assert!(size > 0, "a flushed store takes room");
    for (limit, outgrown) in [(0, Some(size)), (size, None), (crate::OUTGROWN_BYTES, None)] {
        assert_eq!(store.past(limit).unwrap(), outgrown, "limit {limit}");
    }
    assert_eq!(store.outgrown().unwrap(), None);
}

#[test]
fn a_database_whose_log_was_lost_is_refused_never_served_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = SledStore::open(&path, &StoreOptions::default()).unwrap();
        let seq = store
            .insert_comment(new_comment("/p", None, "alice"))
            .unwrap()
            .1;
        store.flush_through(seq).unwrap();
    }
    // What a power cut before the log was synced leaves: the directory, without the log.
    for entry in std::fs::read_dir(&path).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "db" || name.starts_with("snap.") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let refused = loop {
        match SledStore::open(&path, &StoreOptions::default()) {
            Err(Error::Corrupt(message)) => break message,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Ok(_) => panic!("a database that lost its log opened empty"),
        }
    };
    assert!(refused.contains("restore the last backup"), "{refused}");
}

#[test]
fn a_new_database_is_marked_and_opens_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/db");
    drop(SledStore::open(&path, &StoreOptions::default()).unwrap());
    assert!(path.join(crate::durable::MARKER).exists());
    let store = reopen(&path);
    assert_eq!(store.counts("blog", &["/p"]).unwrap(), vec![0]);
    assert_eq!(
        store.disk(),
        DiskState::default(),
        "a roomy disk is not full"
    );
}
