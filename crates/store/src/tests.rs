//! Story tests of the store on a temporary sled database.

use std::sync::Arc;

use crate::*;

fn new_comment(page: &str, parent: Option<u64>, author: &str) -> NewComment {
    NewComment {
        site: "blog".into(),
        page_key: page.into(),
        page_title: Some(format!("Title of {page}")),
        page_url: None,
        parent,
        max_depth: 3,
        author: author.into(),
        email: Some(format!("{author}@example.com")),
        website: None,
        body_source: format!("hello from {author}"),
        body_tree: "[]".into(),
        created: 1_700_000_000_000,
        status: Status::Approved,
        edit_key_hash: Some("ab".into()),
        edited: None,
        source: None,
        ip: None,
    }
}

fn insert(store: &SledStore, page: &str, parent: Option<u64>, author: &str) -> u64 {
    store
        .insert_comment(new_comment(page, parent, author))
        .unwrap()
        .0
        .id
}

fn authors(page: &ThreadPage) -> (Vec<&str>, Vec<&str>) {
    (
        page.top_level.iter().map(|c| c.author.as_str()).collect(),
        page.replies.iter().map(|c| c.author.as_str()).collect(),
    )
}

#[test]
fn comment_lifecycle_story() {
    let store = SledStore::temporary().unwrap();
    store.ensure_site("blog").unwrap();
    let alice = insert(&store, "/post", None, "alice");
    let bob = insert(&store, "/post", Some(alice), "bob");
    let carol = insert(&store, "/post", Some(bob), "carol");
    let dave = insert(&store, "/post", None, "dave");
    insert(&store, "/other", None, "erin");

    let page = store.page("blog", "/post").unwrap().unwrap();
    assert_eq!(page.count, 4);
    assert_eq!(store.page_by_id(page.id).unwrap().as_ref(), Some(&page));
    assert_eq!(store.page_by_id(999_999).unwrap(), None);
    assert_eq!(page.title.as_deref(), Some("Title of /post"));
    assert_eq!(
        store
            .counts("blog", &["/post", "/other", "/nothing"])
            .unwrap(),
        vec![4, 1, 0]
    );

    let thread = store
        .thread_page("blog", "/post", Order::OldestFirst, 10, None, 100)
        .unwrap();
    assert_eq!(
        authors(&thread),
        (vec!["alice", "dave"], vec!["bob", "carol"])
    );
    assert_eq!(thread.next_after, None);
    assert_eq!(thread.replies[1].depth, 2);

    // Keyset paging, both directions.
    let first = store
        .thread_page("blog", "/post", Order::OldestFirst, 1, None, 100)
        .unwrap();
    assert_eq!(authors(&first).0, vec!["alice"]);
    assert_eq!(first.next_after, Some(alice));
    let second = store
        .thread_page(
            "blog",
            "/post",
            Order::OldestFirst,
            1,
            first.next_after,
            100,
        )
        .unwrap();
    assert_eq!(authors(&second).0, vec!["dave"]);
    assert_eq!(second.next_after, None);
    let newest = store
        .thread_page("blog", "/post", Order::NewestFirst, 1, None, 100)
        .unwrap();
    assert_eq!(authors(&newest).0, vec!["dave"]);
    let older = store
        .thread_page(
            "blog",
            "/post",
            Order::NewestFirst,
            1,
            newest.next_after,
            100,
        )
        .unwrap();
    assert_eq!(authors(&older), (vec!["alice"], vec!["bob", "carol"]));

    // Parent rules.
    let refused = |parent, page: &str| {
        store
            .insert_comment(new_comment(page, Some(parent), "x"))
            .unwrap_err()
    };
    assert!(matches!(
        refused(999, "/post"),
        Error::Parent(ParentProblem::Missing)
    ));
    assert!(matches!(
        refused(alice, "/other"),
        Error::Parent(ParentProblem::OtherPage)
    ));
    let deep = insert(&store, "/post", Some(carol), "deep");
    assert!(matches!(
        refused(deep, "/post"),
        Error::Parent(ParentProblem::TooDeep)
    ));
    assert_eq!(
        store.page("blog", "/post").unwrap().unwrap().count,
        5,
        "refused replies change nothing"
    );
    store.delete_comment(deep).unwrap();

    // Edit.
    let (edited, _) = store
        .edit_comment(dave, "new".into(), "[1]".into(), 42, None)
        .unwrap();
    assert_eq!(
        (edited.body_source.as_str(), edited.edited),
        ("new", Some(42))
    );

    // Deleting a comment with replies leaves a tombstone; removing the last reply of a
    // tombstone chain removes the chain.
    assert_eq!(store.delete_comment(bob).unwrap().0, Deleted::Tombstone);
    let thread = store
        .thread_page("blog", "/post", Order::OldestFirst, 10, None, 100)
        .unwrap();
    assert_eq!(authors(&thread), (vec!["alice", "dave"], vec!["", "carol"]));
    assert_eq!(thread.replies[0].status, Status::Deleted);
    assert_eq!(thread.replies[0].email, None);
    assert_eq!(store.page("blog", "/post").unwrap().unwrap().count, 3);
    assert!(matches!(store.delete_comment(bob), Err(Error::NotFound)));
    assert!(matches!(
        store.edit_comment(bob, "x".into(), "[]".into(), 1, None),
        Err(Error::NotFound)
    ));
    assert_eq!(store.delete_comment(carol).unwrap().0, Deleted::Removed);
    assert!(
        store.comment(bob).unwrap().is_none(),
        "empty tombstone is removed"
    );
    assert_eq!(store.comment(alice).unwrap().unwrap().children, 0);
    assert_eq!(store.page("blog", "/post").unwrap().unwrap().count, 2);
}

#[test]
fn hidden_comments_are_not_shown_or_counted() {
    let store = SledStore::temporary().unwrap();
    let mut pending = new_comment("/p", None, "pending");
    pending.status = Status::Pending;
    store.insert_comment(pending).unwrap();
    insert(&store, "/p", None, "shown");
    let thread = store
        .thread_page("blog", "/p", Order::OldestFirst, 10, None, 100)
        .unwrap();
    assert_eq!(authors(&thread).0, vec!["shown"]);
    assert_eq!(store.counts("blog", &["/p"]).unwrap(), vec![1]);
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
fn concurrent_writers_share_flushes_and_lose_nothing() {
    let store = Arc::new(SledStore::temporary().unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let (_, seq) = store
                        .insert_comment(new_comment("/busy", None, &format!("w{t}-{i}")))
                        .unwrap();
                    store.flush_through(seq).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.counts("blog", &["/busy"]).unwrap(), vec![200]);
    let all = store
        .thread_page("blog", "/busy", Order::OldestFirst, 500, None, 100)
        .unwrap();
    assert_eq!(all.top_level.len(), 200);
}

#[test]
fn records_carry_a_format_version() {
    let bytes = crate::records::encode(&Status::Approved).unwrap();
    assert_eq!(bytes[0], crate::records::FORMAT_VERSION);
    assert!(matches!(
        crate::records::decode::<Status>(&[9, b'1']),
        Err(Error::Corrupt(_))
    ));
}

#[test]
fn imports_are_idempotent_by_source_and_exports_list_everything() {
    let store = SledStore::temporary().unwrap();
    let mut imported = new_comment("/old", None, "wp-reader");
    imported.source = Some("wp-17".into());
    imported.edited = Some(5);
    let id = store.insert_comment(imported.clone()).unwrap().0.id;
    assert!(matches!(
        store.insert_comment(imported),
        Err(Error::Conflict)
    ));
    assert_eq!(store.comment_by_source("blog", "wp-17").unwrap(), Some(id));
    assert_eq!(store.comment_by_source("other", "wp-17").unwrap(), None);
    let reply = insert(&store, "/old", Some(id), "later");
    insert(&store, "/another", None, "x");
    let export = store.export_site("blog").unwrap();
    let outline: Vec<(String, Vec<u64>)> = export
        .iter()
        .map(|(p, c)| (p.key.clone(), c.iter().map(|c| c.id).collect()))
        .collect();
    assert_eq!(outline[1], ("/old".to_owned(), vec![id, reply]));
    assert_eq!(export[1].1[0].edited, Some(5));
    assert_eq!(export.len(), 2);
    assert_eq!(store.counts("blog", &["/old"]).unwrap(), vec![2]);
}

#[test]
fn moving_a_page_keeps_replies_and_counts() {
    let store = SledStore::temporary().unwrap();
    let a = insert(&store, "/old-url", None, "a");
    insert(&store, "/old-url", Some(a), "reply");
    // Renaming onto an empty key.
    assert_eq!(store.move_page("blog", "/old-url", "/new-url").unwrap(), 2);
    assert!(store.page("blog", "/old-url").unwrap().is_none());
    let moved = store
        .thread_page("blog", "/new-url", Order::OldestFirst, 10, None, 100)
        .unwrap();
    assert_eq!(authors(&moved), (vec!["a"], vec!["reply"]));
    // Merging into an existing thread.
    insert(&store, "/merged", None, "already there");
    assert_eq!(store.move_page("blog", "/new-url", "/merged").unwrap(), 2);
    let merged = store
        .thread_page("blog", "/merged", Order::OldestFirst, 10, None, 100)
        .unwrap();
    assert_eq!(
        authors(&merged),
        (vec!["a", "already there"], vec!["reply"])
    );
    assert_eq!(
        store.counts("blog", &["/merged", "/new-url"]).unwrap(),
        vec![3, 0]
    );
    let new = store
        .insert_comment(new_comment("/merged", Some(a), "after the move"))
        .unwrap()
        .0;
    assert_eq!(new.depth, 1, "replies still attach across the moved thread");
    assert!(matches!(
        store.move_page("blog", "/nothing", "/x"),
        Err(Error::NotFound)
    ));
}

#[test]
fn replies_are_paged_under_their_top_level_comment() {
    let store = SledStore::temporary().unwrap();
    let top = insert(&store, "/big", None, "top");
    let mut ids = vec![];
    let mut parent = top;
    for i in 0..7 {
        // A chain two deep, then siblings: every reply counts under the same top-level comment.
        let id = insert(&store, "/big", Some(parent), &format!("r{i}"));
        if i < 2 {
            parent = id;
        }
        ids.push(id);
    }
    let other = insert(&store, "/big", None, "other");
    insert(&store, "/big", Some(other), "other-reply");
    assert_eq!(store.comment(top).unwrap().unwrap().descendants, 7);
    assert_eq!(store.comment(ids[3]).unwrap().unwrap().root, Some(top));

    let page = store
        .thread_page("blog", "/big", Order::OldestFirst, 10, None, 3)
        .unwrap();
    let names: Vec<&str> = page.replies.iter().map(|c| c.author.as_str()).collect();
    assert_eq!(names, ["r0", "r1", "r2", "other-reply"]);
    let more = page.more_replies.as_slice();
    assert_eq!(more.len(), 1);
    assert_eq!(
        (more[0].root, more[0].after, more[0].remaining),
        (top, ids[2], 4)
    );

    let next = store
        .replies_page("blog", "/big", top, more[0].after, more[0].seen, 3)
        .unwrap();
    let names: Vec<&str> = next.replies.iter().map(|c| c.author.as_str()).collect();
    assert_eq!(names, ["r3", "r4", "r5"]);
    let more = next.more.unwrap();
    assert_eq!(more.remaining, 1);
    let last = store
        .replies_page("blog", "/big", top, more.after, more.seen, 3)
        .unwrap();
    assert_eq!(last.replies.len(), 1);
    assert_eq!(last.more, None);

    // Deleting replies keeps the count of what remains exact.
    store.delete_comment(ids[6]).unwrap();
    assert_eq!(store.comment(top).unwrap().unwrap().descendants, 6);
    // A reply is not a top-level comment, and a root on another page reads as nothing.
    assert!(
        store
            .replies_page("blog", "/big", ids[0], 0, 0, 3)
            .unwrap()
            .replies
            .is_empty()
    );
    assert!(
        store
            .replies_page("blog", "/elsewhere", top, 0, 0, 3)
            .unwrap()
            .replies
            .is_empty()
    );
}

#[test]
fn a_page_whose_last_comment_is_removed_leaves_no_record() {
    let store = SledStore::temporary().unwrap();
    let a = insert(&store, "/short-lived", None, "a");
    let b = insert(&store, "/short-lived", Some(a), "b");
    let mut held = new_comment("/short-lived", None, "held");
    held.status = Status::Pending;
    let held = store.insert_comment(held).unwrap().0.id;
    assert_eq!(
        store
            .page("blog", "/short-lived")
            .unwrap()
            .unwrap()
            .comments,
        3
    );
    assert_eq!(store.delete_comment(a).unwrap().0, Deleted::Tombstone);
    store.delete_comment(b).unwrap();
    assert!(
        store.page("blog", "/short-lived").unwrap().is_some(),
        "held comment remains"
    );
    store.delete_comment(held).unwrap();
    assert_eq!(store.page("blog", "/short-lived").unwrap(), None);
    assert!(store.export_site("blog").unwrap().is_empty());
}

#[test]
fn deleting_a_page_removes_its_whole_thread_only() {
    let store = SledStore::temporary().unwrap();
    let a = insert(&store, "/doomed", None, "a");
    insert(&store, "/doomed", Some(a), "b");
    insert(&store, "/kept", None, "c");
    assert_eq!(store.delete_page("blog", "/doomed").unwrap().0, 2);
    assert_eq!(store.page("blog", "/doomed").unwrap(), None);
    assert!(store.comment(a).unwrap().is_none());
    assert_eq!(store.counts("blog", &["/doomed", "/kept"]).unwrap(), [0, 1]);
    assert!(matches!(
        store.delete_page("blog", "/doomed"),
        Err(Error::NotFound)
    ));
    // The key can be used again from scratch.
    insert(&store, "/doomed", None, "again");
    assert_eq!(store.page("blog", "/doomed").unwrap().unwrap().count, 1);
}

#[test]
fn page_titles_follow_later_comments_until_the_owner_sets_one() {
    let store = SledStore::temporary().unwrap();
    insert(&store, "/t", None, "a");
    let mut later = new_comment("/t", None, "b");
    later.page_title = Some("Renamed".into());
    later.page_url = Some("https://blog.example/t".into());
    store.insert_comment(later.clone()).unwrap();
    let page = store.page("blog", "/t").unwrap().unwrap();
    assert_eq!(page.title.as_deref(), Some("Renamed"));
    assert_eq!(page.url.as_deref(), Some("https://blog.example/t"));
    store
        .set_page_meta("blog", "/t", Some("Owner's title".into()), None)
        .unwrap();
    later.page_title = Some("Reader's title".into());
    store.insert_comment(later).unwrap();
    let page = store.page("blog", "/t").unwrap().unwrap();
    assert_eq!(page.title.as_deref(), Some("Owner's title"));
    assert!(matches!(
        store.set_page_meta("blog", "/none", Some("x".into()), None),
        Err(Error::NotFound)
    ));
}

#[test]
fn an_edit_can_send_a_comment_back_to_moderation() {
    let store = SledStore::temporary().unwrap();
    let a = insert(&store, "/m", None, "a");
    let (rec, _) = store
        .edit_comment(a, "x".into(), "[]".into(), 5, Some(Status::Pending))
        .unwrap();
    assert_eq!(rec.status, Status::Pending);
    assert_eq!(store.page("blog", "/m").unwrap().unwrap().count, 0);
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
    let store = loop {
        // sled releases its lock from a background thread.
        match SledStore::open(dir.path(), &options) {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
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
                .insert(id.to_be_bytes(), crate::records::encode(&rec).unwrap())
                .unwrap();
        }
        let mut page = store.page("blog", "/old").unwrap().unwrap();
        page.comments = 0;
        store
            .pages
            .insert(b"blog\0/old", crate::records::encode(&page).unwrap())
            .unwrap();
        store.meta.remove("level").unwrap();
        store.db.flush().unwrap();
        (top, reply)
    };
    let store = loop {
        match SledStore::open(dir.path(), &options) {
            Ok(s) => break s,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
    assert_eq!(store.comment(reply).unwrap().unwrap().root, Some(top));
    assert_eq!(store.comment(top).unwrap().unwrap().descendants, 2);
    assert_eq!(store.page("blog", "/old").unwrap().unwrap().comments, 3);
    let page = store
        .thread_page("blog", "/old", Order::OldestFirst, 10, None, 10)
        .unwrap();
    assert_eq!(page.replies.len(), 2);
}
