//! The conformance suite: the store's stories, written once against the traits, so every
//! backend proves the same rules (counts, parents, tombstones, paging, the change log).
//! A backend runs it with [`conformance_suite!`](crate::conformance_suite), given an expression
//! that makes a fresh, empty store. Stories that need one facet only take any store with that
//! facet, so a backend that is still growing runs them facet by facet.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::sync::Arc;

use crate::*;

/// Expands to one `#[test]` per story, each on a store made by `$make` (an expression
/// evaluating to an `Arc<dyn Store>`, evaluated afresh for every test). With `named $make`,
/// `$make` is a function given the story's name that returns the store and a guard kept until
/// the story ends (a database of its own, say).
#[macro_export]
macro_rules! conformance_suite {
    (@stories $($make:tt)+) => {
        $crate::conformance_suite!(@each $($make)+;
            comment_lifecycle_story,
            hidden_comments_are_not_shown_or_counted,
            concurrent_writers_share_flushes_and_lose_nothing,
            imports_are_idempotent_by_source_and_exports_list_everything,
            moving_a_page_keeps_replies_and_counts,
            replies_are_paged_under_their_top_level_comment,
            a_page_whose_last_comment_is_removed_leaves_no_record,
            deleting_a_page_removes_its_whole_thread_only,
            page_titles_follow_later_comments_until_the_owner_sets_one,
            an_edit_can_send_a_comment_back_to_moderation,
            secrets_are_created_once,
            not_found_says_what,
            every_write_appends_one_change_in_order,
            refused_writes_append_no_change,
            concurrent_writes_get_gapless_sequence_numbers,
            a_consumer_that_resumes_misses_nothing_and_sees_nothing_twice,
            consumers_keep_their_own_cursors,
            pruned_changes_are_reported_not_skipped,
            status_changes_keep_counts_the_queue_and_the_log_exact,
            listings_are_newest_first_filtered_and_keyset_paged,
            accounts_sessions_and_the_audit_log_story,
            pinned_comments_open_the_first_page_and_follow_their_thread,
            locks_bans_settings_and_moderator_edits_are_kept,
            approved_authors_are_counted_exactly_through_every_status_change,
            the_spam_filter_learns_each_decision_once_and_unlearns_reversals,
            subscriptions_are_confirmed_once_per_address_and_end_cleanly,
            subscriptions_move_with_their_page_and_keep_the_wider_scope,
            restored_subscriptions_keep_their_ids,
            a_one_time_token_is_spent_once,
            uses_are_counted_per_window_of_any_length,
            one_pages_listing_reads_that_page_alone
        );
    };
    (@each named $make:path; $($story:ident),* $(,)?) => {
        $(
            #[test]
            fn $story() {
                let (store, _keep) = $make(stringify!($story));
                $crate::conformance::$story(store);
            }
        )*
    };
    (@each $make:expr; $($story:ident),* $(,)?) => {
        $(
            #[test]
            fn $story() {
                $crate::conformance::$story($make);
            }
        )*
    };
    (named $make:path) => {
        $crate::conformance_suite!(@stories named $make);
    };
    ($make:expr) => {
        $crate::conformance_suite!(@stories $make);
    };
}

pub fn new_comment(page: &str, parent: Option<u64>, author: &str) -> NewComment {
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
        held_for: Vec::new(),
        pinned: false,
        moderator_edit: false,
    }
}

fn insert(store: &dyn Store, page: &str, parent: Option<u64>, author: &str) -> u64 {
    store
        .insert_comment(new_comment(page, parent, author))
        .unwrap()
        .0
        .id
}

fn edit(source: &str, tree: &str, at: i64, status: Option<Status>) -> Edit {
    Edit {
        body_source: source.into(),
        body_tree: tree.into(),
        edited_at: at,
        status,
        by_moderator: false,
        held_for: None,
    }
}

fn authors(page: &ThreadPage) -> (Vec<&str>, Vec<&str>) {
    (
        page.top_level.iter().map(|c| c.author.as_str()).collect(),
        page.replies.iter().map(|c| c.author.as_str()).collect(),
    )
}

pub fn comment_lifecycle_story(store: Arc<dyn Store>) {
    store.ensure_site("blog").unwrap();
    let alice = insert(&*store, "/post", None, "alice");
    let bob = insert(&*store, "/post", Some(alice), "bob");
    let carol = insert(&*store, "/post", Some(bob), "carol");
    let dave = insert(&*store, "/post", None, "dave");
    insert(&*store, "/other", None, "erin");

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
    let deep = insert(&*store, "/post", Some(carol), "deep");
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
        .edit_comment(dave, edit("new", "[1]", 42, None))
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
    assert!(matches!(store.delete_comment(bob), Err(Error::NotFound(_))));
    assert!(matches!(
        store.edit_comment(bob, edit("x", "[]", 1, None),),
        Err(Error::NotFound(_))
    ));
    assert_eq!(store.delete_comment(carol).unwrap().0, Deleted::Removed);
    assert!(
        store.comment(bob).unwrap().is_none(),
        "empty tombstone is removed"
    );
    assert_eq!(store.comment(alice).unwrap().unwrap().children, 0);
    assert_eq!(store.page("blog", "/post").unwrap().unwrap().count, 2);
}

pub fn hidden_comments_are_not_shown_or_counted(store: Arc<dyn Store>) {
    let mut pending = new_comment("/p", None, "pending");
    pending.status = Status::Pending;
    store.insert_comment(pending).unwrap();
    insert(&*store, "/p", None, "shown");
    let thread = store
        .thread_page("blog", "/p", Order::OldestFirst, 10, None, 100)
        .unwrap();
    assert_eq!(authors(&thread).0, vec!["shown"]);
    assert_eq!(store.counts("blog", &["/p"]).unwrap(), vec![1]);
}

pub fn concurrent_writers_share_flushes_and_lose_nothing(store: Arc<dyn Store>) {
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

pub fn imports_are_idempotent_by_source_and_exports_list_everything(store: Arc<dyn Store>) {
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
    assert_eq!(
        store
            .comments_by_source("blog", &["wp-18", "wp-17", "wp-17"])
            .unwrap(),
        std::collections::HashMap::from([("wp-17".to_owned(), id)])
    );
    assert!(
        store
            .comments_by_source("other", &["wp-17"])
            .unwrap()
            .is_empty()
    );
    let reply = insert(&*store, "/old", Some(id), "later");
    insert(&*store, "/another", None, "x");
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

pub fn moving_a_page_keeps_replies_and_counts(store: Arc<dyn Store>) {
    let a = insert(&*store, "/old-url", None, "a");
    insert(&*store, "/old-url", Some(a), "reply");
    // Renaming onto an empty key.
    assert_eq!(
        store.move_page("blog", "/old-url", "/new-url").unwrap().0,
        2
    );
    assert!(store.page("blog", "/old-url").unwrap().is_none());
    let moved = store
        .thread_page("blog", "/new-url", Order::OldestFirst, 10, None, 100)
        .unwrap();
    assert_eq!(authors(&moved), (vec!["a"], vec!["reply"]));
    // Merging into an existing thread.
    insert(&*store, "/merged", None, "already there");
    assert_eq!(store.move_page("blog", "/new-url", "/merged").unwrap().0, 2);
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
        Err(Error::NotFound(_))
    ));
}

pub fn replies_are_paged_under_their_top_level_comment(store: Arc<dyn Store>) {
    let top = insert(&*store, "/big", None, "top");
    let mut ids = vec![];
    let mut parent = top;
    for i in 0..7 {
        // A chain two deep, then siblings: every reply counts under the same top-level comment.
        let id = insert(&*store, "/big", Some(parent), &format!("r{i}"));
        if i < 2 {
            parent = id;
        }
        ids.push(id);
    }
    let other = insert(&*store, "/big", None, "other");
    insert(&*store, "/big", Some(other), "other-reply");
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

pub fn a_page_whose_last_comment_is_removed_leaves_no_record(store: Arc<dyn Store>) {
    let a = insert(&*store, "/short-lived", None, "a");
    let b = insert(&*store, "/short-lived", Some(a), "b");
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

pub fn deleting_a_page_removes_its_whole_thread_only(store: Arc<dyn Store>) {
    let a = insert(&*store, "/doomed", None, "a");
    insert(&*store, "/doomed", Some(a), "b");
    insert(&*store, "/kept", None, "c");
    assert_eq!(store.delete_page("blog", "/doomed").unwrap().0, 2);
    assert_eq!(store.page("blog", "/doomed").unwrap(), None);
    assert!(store.comment(a).unwrap().is_none());
    assert_eq!(store.counts("blog", &["/doomed", "/kept"]).unwrap(), [0, 1]);
    assert!(matches!(
        store.delete_page("blog", "/doomed"),
        Err(Error::NotFound(_))
    ));
    // The key can be used again from scratch.
    insert(&*store, "/doomed", None, "again");
    assert_eq!(store.page("blog", "/doomed").unwrap().unwrap().count, 1);
}

/// Hardening round two, item 3: a stranger's held comment rewrote the thread's title and link.
pub fn page_titles_follow_later_comments_until_the_owner_sets_one(store: Arc<dyn Store>) {
    insert(&*store, "/t", None, "a");
    let mut later = new_comment("/t", None, "b");
    later.page_title = Some("Renamed".into());
    later.page_url = Some("https://blog.example/t".into());
    store.insert_comment(later.clone()).unwrap();
    let page = store.page("blog", "/t").unwrap().unwrap();
    assert_eq!(page.title.as_deref(), Some("Renamed"));
    assert_eq!(page.url.as_deref(), Some("https://blog.example/t"));
    // A comment held or taken for spam may come from anyone: it names a page only where the
    // page has no name yet, and replaces nothing.
    for status in [Status::Pending, Status::Spam] {
        let mut stranger = new_comment("/t", None, "stranger");
        stranger.status = status;
        stranger.page_title = Some("Your account is suspended".into());
        stranger.page_url = Some("https://blog.example/login".into());
        store.insert_comment(stranger).unwrap();
        let page = store.page("blog", "/t").unwrap().unwrap();
        assert_eq!(page.title.as_deref(), Some("Renamed"), "{status:?}");
        assert_eq!(page.url.as_deref(), Some("https://blog.example/t"));
    }
    let mut first = new_comment("/held-first", None, "a");
    first.status = Status::Pending;
    first.page_url = Some("https://blog.example/held-first".into());
    store.insert_comment(first).unwrap();
    let page = store.page("blog", "/held-first").unwrap().unwrap();
    assert_eq!(page.title.as_deref(), Some("Title of /held-first"));
    assert_eq!(page.url.as_deref(), Some("https://blog.example/held-first"));
    store
        .set_page_meta(
            "blog",
            "/t",
            Some("Owner's title".into()),
            Some("https://blog.example/owners".into()),
        )
        .unwrap();
    later.page_title = Some("Reader's title".into());
    later.page_url = Some("https://blog.example/readers".into());
    store.insert_comment(later).unwrap();
    let page = store.page("blog", "/t").unwrap().unwrap();
    assert_eq!(page.title.as_deref(), Some("Owner's title"));
    assert_eq!(page.url.as_deref(), Some("https://blog.example/owners"));
    assert!(matches!(
        store.set_page_meta("blog", "/none", Some("x".into()), None),
        Err(Error::NotFound(_))
    ));
}

pub fn an_edit_can_send_a_comment_back_to_moderation(store: Arc<dyn Store>) {
    let a = insert(&*store, "/m", None, "a");
    let (rec, _) = store
        .edit_comment(a, edit("x", "[]", 5, Some(Status::Pending)))
        .unwrap();
    assert_eq!(rec.status, Status::Pending);
    assert_eq!(store.page("blog", "/m").unwrap().unwrap().count, 0);
}

pub fn secrets_are_created_once(store: Arc<dyn Store>) {
    let first = store.secret("avatar", b"first").unwrap();
    assert_eq!(first, b"first");
    assert_eq!(store.secret("avatar", b"second").unwrap(), b"first");
    assert_eq!(store.secret("other", b"mine").unwrap(), b"mine");
}

pub fn not_found_says_what(store: Arc<dyn Store>) {
    let said = |e: Error| match e {
        Error::NotFound(what) => what,
        other => panic!("expected NotFound, got {other:?}"),
    };
    assert_eq!(
        said(store.delete_comment(41).unwrap_err()),
        Missing::Comment(41)
    );
    assert_eq!(
        said(
            store
                .edit_comment(42, edit("x", "[]", 1, None))
                .unwrap_err()
        ),
        Missing::Comment(42)
    );
    let page = Missing::Page {
        site: "blog".into(),
        key: "/none".into(),
    };
    assert_eq!(said(store.delete_page("blog", "/none").unwrap_err()), page);
    assert_eq!(
        said(store.move_page("blog", "/none", "/x").unwrap_err()),
        page
    );
    assert_eq!(
        said(
            store
                .set_page_meta("blog", "/none", None, None)
                .unwrap_err()
        ),
        page
    );
    assert_eq!(page.to_string(), "page \"/none\" of site \"blog\"");
}

/// The kinds of the changes after `after`, with their comment and page.
fn changes(store: &dyn Store, after: u64) -> Vec<(u64, Option<u64>, String, ChangeKind)> {
    store
        .changes_after(after, 1000)
        .unwrap()
        .into_iter()
        .map(|c| (c.seq, c.comment, c.page_key, c.kind))
        .collect()
}

pub fn every_write_appends_one_change_in_order(store: Arc<dyn Store>) {
    assert_eq!(store.last_change().unwrap(), 0);
    assert!(store.changes_after(0, 10).unwrap().is_empty());
    let a = insert(&*store, "/log", None, "a");
    let b = insert(&*store, "/log", Some(a), "b");
    let mut held = new_comment("/log", None, "held");
    held.status = Status::Pending;
    held.source = Some("wp:1:9".into());
    let held = store.insert_comment(held).unwrap().0.id;
    store
        .edit_comment(a, edit("new", "[]", 7, Some(Status::Pending)))
        .unwrap();
    store.delete_comment(a).unwrap();
    store.delete_comment(held).unwrap();
    store
        .set_page_meta("blog", "/log", Some("T".into()), None)
        .unwrap();
    store.move_page("blog", "/log", "/moved").unwrap();
    store.delete_page("blog", "/moved").unwrap();
    let key = |k: &str| k.to_owned();
    let created = |status, parent, imported| ChangeKind::Created {
        status,
        parent,
        imported,
    };
    assert_eq!(
        changes(&*store, 0),
        vec![
            (
                1,
                Some(a),
                key("/log"),
                created(Status::Approved, None, false)
            ),
            (
                2,
                Some(b),
                key("/log"),
                created(Status::Approved, Some(a), false)
            ),
            (
                3,
                Some(held),
                key("/log"),
                created(Status::Pending, None, true)
            ),
            (
                4,
                Some(a),
                key("/log"),
                ChangeKind::Edited {
                    status: Status::Pending,
                    was: Status::Approved
                }
            ),
            (
                5,
                Some(a),
                key("/log"),
                ChangeKind::Deleted { tombstone: true }
            ),
            (
                6,
                Some(held),
                key("/log"),
                ChangeKind::Deleted { tombstone: false }
            ),
            (7, None, key("/log"), ChangeKind::PageUpdated),
            (
                8,
                None,
                key("/log"),
                ChangeKind::PageMoved {
                    to: "/moved".into(),
                    comments: 2
                }
            ),
            (
                9,
                None,
                key("/moved"),
                ChangeKind::PageDeleted { comments: 2 }
            ),
        ]
    );
    assert_eq!(store.last_change().unwrap(), 9);
    let tail: Vec<u64> = changes(&*store, 7).iter().map(|c| c.0).collect();
    assert_eq!(tail, [8, 9]);
    let first_two: Vec<u64> = store
        .changes_after(0, 2)
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(first_two, [1, 2]);
    assert!(store.changes_after(9, 10).unwrap().is_empty());
    assert!(store.changes_after(0, 1).unwrap()[0].at > 1_600_000_000_000);
    assert_eq!(store.changes_after(0, 1).unwrap()[0].site, "blog");
}

pub fn refused_writes_append_no_change(store: Arc<dyn Store>) {
    let a = insert(&*store, "/r", None, "a");
    let before = store.last_change().unwrap();
    assert!(
        store
            .insert_comment(new_comment("/r", Some(999), "x"))
            .is_err()
    );
    assert!(
        store
            .insert_comment(new_comment("/other", Some(a), "x"))
            .is_err()
    );
    let mut imported = new_comment("/r", None, "i");
    imported.source = Some("once".into());
    store.insert_comment(imported.clone()).unwrap();
    assert!(matches!(
        store.insert_comment(imported),
        Err(Error::Conflict)
    ));
    assert!(store.delete_comment(999).is_err());
    assert!(store.delete_page("blog", "/none").is_err());
    assert_eq!(store.last_change().unwrap(), before + 1);
}

pub fn concurrent_writes_get_gapless_sequence_numbers(store: Arc<dyn Store>) {
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let page = format!("/p{}", i % 3);
                    let id = insert(&*store, &page, None, &format!("w{t}-{i}"));
                    if i % 5 == 0 {
                        store.delete_comment(id).unwrap();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let all = store.changes_after(0, 1000).unwrap();
    let seqs: Vec<u64> = all.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=120).collect::<Vec<u64>>());
    let created = all
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::Created { .. }))
        .count();
    assert_eq!(created, 100);
    // A deletion always comes after the creation of the comment it deletes.
    for (i, c) in all.iter().enumerate() {
        if matches!(c.kind, ChangeKind::Deleted { .. }) {
            assert!(all[..i].iter().any(|e| e.comment == c.comment
                && matches!(e.kind, ChangeKind::Created { .. })));
        }
    }
}

pub fn a_consumer_that_resumes_misses_nothing_and_sees_nothing_twice(store: Arc<dyn Store>) {
    let writer = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            for i in 0..60 {
                insert(&*store, "/live", None, &format!("c{i}"));
            }
        })
    };
    // A consumer reads small batches, "restarting" (keeping only its cursor) after each.
    let mut cursor = 0;
    let mut seen = Vec::new();
    while seen.len() < 60 {
        // Asked before reading: a writer done by then has all its changes in this read.
        let writer_done = writer.is_finished();
        let batch = store.changes_after(cursor, 7).unwrap();
        if batch.is_empty() && writer_done {
            // The writer stopped short (it failed): its panic is the story's failure.
            break;
        }
        for change in batch {
            assert_eq!(change.seq, cursor + 1, "no gap, no repeat");
            cursor = change.seq;
            seen.push(change.comment.unwrap());
        }
        std::thread::yield_now();
    }
    writer.join().unwrap();
    assert!(store.changes_after(cursor, 7).unwrap().is_empty());
    let mut ids = seen.clone();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 60);
}

pub fn consumers_keep_their_own_cursors<S: ChangeLog + ?Sized>(store: Arc<S>) {
    assert_eq!(store.consumer_cursor("mail").unwrap(), None);
    store.set_consumer_cursor("mail", 0).unwrap();
    assert_eq!(store.consumer_cursor("mail").unwrap(), Some(0));
    store.set_consumer_cursor("mail", 7).unwrap();
    store.set_consumer_cursor("webhooks", 3).unwrap();
    store.set_consumer_cursor("mail", 9).unwrap();
    assert_eq!(store.consumer_cursor("mail").unwrap(), Some(9));
    assert_eq!(store.consumer_cursor("webhooks").unwrap(), Some(3));
    assert_eq!(store.consumer_cursor("other").unwrap(), None);
}

pub fn pruned_changes_are_reported_not_skipped(store: Arc<dyn Store>) {
    for i in 0..5 {
        insert(&*store, "/old", None, &format!("o{i}"));
    }
    let cutoff = store.changes_after(4, 1).unwrap()[0].at + 1;
    assert!(
        store.prune_changes(0).unwrap() == 0,
        "nothing is older than 1970"
    );
    let removed = store.prune_changes(cutoff).unwrap();
    assert!(
        removed >= 5,
        "the five old changes go (and any written in the same ms)"
    );
    let last = store.last_change().unwrap();
    assert_eq!(last, 5, "pruning does not reset the sequence");
    assert!(matches!(
        store.changes_after(0, 10),
        Err(Error::Pruned { through: 5 })
    ));
    let newer = insert(&*store, "/old", None, "new");
    let after = store.changes_after(5, 10).unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!((after[0].seq, after[0].comment), (6, Some(newer)));
}

fn held(page: &str, author: &str, status: Status) -> NewComment {
    NewComment {
        status,
        held_for: vec!["moderation_all".into()],
        ip: Some("203.0.113.9".into()),
        ..new_comment(page, None, author)
    }
}

fn listed(store: &dyn Store, query: &CommentQuery) -> (Vec<String>, Option<u64>) {
    let list = store.list_comments(query).unwrap();
    (
        list.items
            .iter()
            .map(|l| l.comment.author.clone())
            .collect(),
        list.next_before,
    )
}

fn queue() -> CommentQuery {
    CommentQuery {
        statuses: vec![Status::Pending, Status::Spam],
        ..CommentQuery::default()
    }
}

pub fn status_changes_keep_counts_the_queue_and_the_log_exact(store: Arc<dyn Store>) {
    store.ensure_site("blog").unwrap();
    let shown = insert(&*store, "/post", None, "shown");
    let p1 = store
        .insert_comment(held("/post", "p1", Status::Pending))
        .unwrap()
        .0;
    let p2 = store
        .insert_comment(held("/post", "p2", Status::Pending))
        .unwrap()
        .0
        .id;
    let s1 = store
        .insert_comment(held("/other", "s1", Status::Spam))
        .unwrap()
        .0
        .id;
    assert_eq!(p1.held_for, vec!["moderation_all".to_owned()]);
    assert_eq!(p1.ip.as_deref(), Some("203.0.113.9"));
    let count = |key: &str| store.page("blog", key).unwrap().map_or(0, |p| p.count);
    assert_eq!((count("/post"), count("/other")), (1, 0));
    assert_eq!(listed(&*store, &queue()).0, ["s1", "p2", "p1"]);

    let before = store.last_change().unwrap();
    let (approved, seq) = store.set_status(p1.id, Status::Approved).unwrap();
    store.flush_through(seq).unwrap();
    assert_eq!(approved.status, Status::Approved);
    assert!(
        approved.held_for.is_empty(),
        "an approved comment is no longer held"
    );
    assert_eq!(count("/post"), 2);
    let thread = store
        .thread_page("blog", "/post", Order::OldestFirst, 10, None, 10)
        .unwrap();
    assert_eq!(authors(&thread).0, ["shown", "p1"]);
    assert_eq!(listed(&*store, &queue()).0, ["s1", "p2"]);
    assert_eq!(
        changes(&*store, before),
        [(
            before + 1,
            Some(p1.id),
            "/post".to_owned(),
            ChangeKind::StatusChanged {
                status: Status::Approved,
                was: Status::Pending
            }
        )]
    );

    // The same status again changes nothing and logs nothing.
    store.set_status(p1.id, Status::Approved).unwrap();
    assert_eq!(store.last_change().unwrap(), before + 1);

    // Approved → spam takes it off the page and into the spam view; spam → pending back.
    store.set_status(shown, Status::Spam).unwrap();
    assert_eq!(count("/post"), 1);
    let spam_only = CommentQuery {
        statuses: vec![Status::Spam],
        ..CommentQuery::default()
    };
    assert_eq!(listed(&*store, &spam_only).0, ["s1", "shown"]);
    store.set_status(s1, Status::Pending).unwrap();
    assert_eq!(listed(&*store, &spam_only).0, ["shown"]);
    assert_eq!(count("/other"), 0);

    // A hidden comment with replies stays in its thread's structure (the server shows a
    // placeholder), so its approved replies keep their place and their count.
    let answer = insert(&*store, "/post", Some(p1.id), "answer");
    store.set_status(p1.id, Status::Spam).unwrap();
    let thread = store
        .thread_page("blog", "/post", Order::OldestFirst, 10, None, 10)
        .unwrap();
    assert_eq!(authors(&thread), (vec!["p1"], vec!["answer"]));
    assert_eq!(thread.top_level[0].status, Status::Spam);
    assert_eq!(count("/post"), 1);
    store.delete_comment(answer).unwrap();
    store.set_status(p1.id, Status::Approved).unwrap();

    // Deleted comments leave the queue; whole pages too.
    store.delete_comment(p2).unwrap();
    assert_eq!(listed(&*store, &queue()).0, ["s1", "shown"]);
    store.delete_page("blog", "/other").unwrap();
    assert_eq!(listed(&*store, &queue()).0, ["shown"]);
    assert!(matches!(
        store.set_status(p2, Status::Approved),
        Err(Error::NotFound(Missing::Comment(id))) if id == p2
    ));
    assert!(store.set_status(p1.id, Status::Deleted).is_err());
    assert_eq!(store.counts("blog", &["/post"]).unwrap(), vec![1]);
}

pub fn listings_are_newest_first_filtered_and_keyset_paged(store: Arc<dyn Store>) {
    store.ensure_site("blog").unwrap();
    store.ensure_site("news").unwrap();
    for i in 0..7 {
        let mut new = new_comment(&format!("/p{}", i % 2), None, &format!("a{i}"));
        new.body_source = if i % 3 == 0 {
            format!("Cheap WATCHES number {i}")
        } else {
            format!("a thoughtful remark {i}")
        };
        new.created = 1_000 + i;
        store.insert_comment(new).unwrap();
    }
    let mut other = new_comment("/n", None, "n0");
    other.site = "news".into();
    other.body_source = "cheap watches elsewhere".into();
    store.insert_comment(other).unwrap();

    let all = CommentQuery::default();
    assert_eq!(
        listed(&*store, &all).0,
        ["n0", "a6", "a5", "a4", "a3", "a2", "a1", "a0"]
    );
    // Keyset paging: each page continues below the last id of the one before.
    let mut query = CommentQuery {
        limit: 3,
        sites: Some(vec!["blog".into()]),
        ..CommentQuery::default()
    };
    let mut pages = Vec::new();
    loop {
        let list = store.list_comments(&query).unwrap();
        pages.push(
            list.items
                .iter()
                .map(|l| l.comment.author.clone())
                .collect::<Vec<_>>(),
        );
        match list.next_before {
            Some(before) => query.before = Some(before),
            None => break,
        }
    }
    assert_eq!(pages.concat(), ["a6", "a5", "a4", "a3", "a2", "a1", "a0"]);
    assert!(pages.iter().all(|p| p.len() <= 3));

    // One page's comments only (a thread's feed), by its exact key.
    let one_page = CommentQuery {
        sites: Some(vec!["blog".into()]),
        page: Some("/p1".into()),
        ..CommentQuery::default()
    };
    assert_eq!(listed(&*store, &one_page).0, ["a5", "a3", "a1"]);

    // Words match case-insensitively, all of them, in the body, names or page key.
    let search = |text: &str, sites: Option<Vec<String>>| {
        listed(
            &*store,
            &CommentQuery {
                text: Some(text.into()),
                sites,
                ..CommentQuery::default()
            },
        )
        .0
    };
    assert_eq!(search("cheap watches", None), ["n0", "a6", "a3", "a0"]);
    assert_eq!(
        search("watches", Some(vec!["blog".into()])),
        ["a6", "a3", "a0"]
    );
    assert_eq!(search("A5", None), ["a5"]);
    assert_eq!(search("a5@EXAMPLE.com", None), ["a5"]);
    assert_eq!(search("/p1 remark", None), ["a5", "a1"]);
    assert!(search("nothing-like-this", None).is_empty());

    // Dates: from inclusive, to exclusive.
    let dated = CommentQuery {
        from: Some(1_002),
        to: Some(1_005),
        ..CommentQuery::default()
    };
    assert_eq!(listed(&*store, &dated).0, ["a4", "a3", "a2"]);

    // A scan budget answers with what it found and where to go on.
    let mut budget = CommentQuery {
        text: Some("watches".into()),
        scan_limit: 3,
        ..CommentQuery::default()
    };
    let mut runs = Vec::new();
    loop {
        let (found, next) = listed(&*store, &budget);
        runs.push(found);
        match next {
            Some(before) => budget.before = Some(before),
            None => break,
        }
    }
    assert_eq!(runs, [vec!["n0", "a6"], vec!["a3"], vec!["a0"]]);
}

pub fn accounts_sessions_and_the_audit_log_story<S: Accounts + ?Sized>(store: Arc<S>) {
    let admin = |name: &str, role: Role| AdminRecord {
        name: name.into(),
        role,
        sites: vec!["blog".into()],
        password_hash: format!("hash of {name}"),
        created: 1,
        changed: 1,
    };
    store.put_admin(admin("zoe", Role::Owner)).unwrap();
    store.put_admin(admin("mia", Role::Moderator)).unwrap();
    let names: Vec<String> = store
        .admins()
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["mia", "zoe"]);
    let mia = store.admin("mia").unwrap().unwrap();
    assert!(mia.may_see("blog") && !mia.may_see("news"));
    assert!(store.admin("zoe").unwrap().unwrap().may_see("news"));
    assert_eq!(store.admin("nobody").unwrap(), None);

    let session = |hash: &str, admin: &str, seen: i64| SessionRecord {
        id_hash: hash.into(),
        admin: admin.into(),
        csrf: format!("csrf-{hash}"),
        created: seen,
        seen,
    };
    store.put_session(session("s1", "mia", 10)).unwrap();
    store.put_session(session("s2", "zoe", 20)).unwrap();
    store.put_session(session("s3", "mia", 30)).unwrap();
    assert_eq!(store.session("s1").unwrap().unwrap().csrf, "csrf-s1");
    assert_eq!(store.prune_sessions(15).unwrap(), 1);
    assert_eq!(store.session("s1").unwrap(), None);
    store.remove_session("s2").unwrap();
    assert_eq!(store.session("s2").unwrap(), None);
    // Removing an account ends its sessions.
    assert!(store.remove_admin("mia").unwrap());
    assert!(!store.remove_admin("mia").unwrap());
    assert_eq!(store.session("s3").unwrap(), None);

    for (i, action) in ["sign_in", "approve", "spam"].iter().enumerate() {
        let seq = store
            .append_audit(AuditRecord {
                seq: 0,
                at: i as i64,
                actor: "zoe".into(),
                action: (*action).into(),
                site: Some("blog".into()),
                page_key: None,
                comment: Some(i as u64),
                before: Some(Status::Pending),
                after: Some(Status::Approved),
            })
            .unwrap();
        assert_eq!(seq, i as u64 + 1);
    }
    let actions = |before, limit| -> Vec<String> {
        store
            .audit_log(before, limit)
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect()
    };
    assert_eq!(actions(None, 10), ["spam", "approve", "sign_in"]);
    assert_eq!(actions(Some(3), 1), ["approve"]);
}

pub fn pinned_comments_open_the_first_page_and_follow_their_thread(store: Arc<dyn Store>) {
    store.ensure_site("blog").unwrap();
    let ids: Vec<u64> = (0..5)
        .map(|i| insert(&*store, "/post", None, &format!("c{i}")))
        .collect();
    let reply = insert(&*store, "/post", Some(ids[3]), "r");
    let before = store.last_change().unwrap();
    store.set_pinned(ids[3], true).unwrap();
    assert_eq!(
        changes(&*store, before)[0].3,
        ChangeKind::Pinned { pinned: true }
    );
    // Pinning again changes and logs nothing; replies cannot be pinned.
    store.set_pinned(ids[3], true).unwrap();
    assert_eq!(store.last_change().unwrap(), before + 1);
    assert!(store.set_pinned(reply, true).is_err());

    let page = |order, after| {
        store
            .thread_page("blog", "/post", order, 2, after, 10)
            .unwrap()
    };
    let first = page(Order::OldestFirst, None);
    assert_eq!(authors(&first), (vec!["c3", "c0", "c1"], vec!["r"]));
    let second = page(Order::OldestFirst, first.next_after);
    assert_eq!(
        authors(&second).0,
        ["c2", "c4"],
        "paging skips the pinned one"
    );
    assert_eq!(
        authors(&page(Order::NewestFirst, None)).0,
        ["c3", "c4", "c2"]
    );
    assert_eq!(store.counts("blog", &["/post"]).unwrap(), vec![6]);

    // A pin follows its thread to a new key, and goes with the comment.
    store.move_page("blog", "/post", "/moved").unwrap();
    let moved = store
        .thread_page("blog", "/moved", Order::OldestFirst, 10, None, 10)
        .unwrap();
    assert_eq!(moved.top_level[0].author, "c3");
    assert!(moved.top_level[0].pinned);
    store.set_pinned(ids[3], false).unwrap();
    let unpinned = store
        .thread_page("blog", "/moved", Order::OldestFirst, 10, None, 10)
        .unwrap();
    assert_eq!(authors(&unpinned).0, ["c0", "c1", "c2", "c3", "c4"]);
    store.set_pinned(ids[0], true).unwrap();
    store.delete_comment(ids[0]).unwrap();
    let after_delete = store
        .thread_page("blog", "/moved", Order::OldestFirst, 10, None, 10)
        .unwrap();
    assert_eq!(authors(&after_delete).0, ["c1", "c2", "c3", "c4"]);
}

pub fn locks_bans_settings_and_moderator_edits_are_kept(store: Arc<dyn Store>) {
    store.ensure_site("blog").unwrap();
    let id = insert(&*store, "/post", None, "ann");
    let (page, _) = store.set_locked("blog", "/post", true).unwrap();
    assert!(page.locked);
    assert!(store.page("blog", "/post").unwrap().unwrap().locked);
    // Locking keeps the title and counts; a reader's comment is refused, an import still lands.
    assert_eq!(page.count, 1);
    assert!(matches!(
        store.insert_comment(new_comment("/post", None, "late")),
        Err(Error::Locked)
    ));
    let imported = NewComment {
        source: Some("wp:9".into()),
        ..new_comment("/post", None, "imported")
    };
    store.insert_comment(imported).unwrap();
    assert!(!store.set_locked("blog", "/post", false).unwrap().0.locked);
    assert!(matches!(
        store.set_locked("blog", "/nothing", true),
        Err(Error::NotFound(Missing::Page { .. }))
    ));

    let ban = |kind, value: &str| BanRecord {
        id: 0,
        kind,
        value: value.into(),
        created: 1,
        until: Some(100),
        by: "zoe".into(),
        site: (kind == BanKind::Ip).then(|| "blog".to_owned()),
    };
    let a = store
        .put_ban(ban(BanKind::Email, "spam@example.com"))
        .unwrap();
    let b = store.put_ban(ban(BanKind::Ip, "2001:db8:1:2::")).unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(store.bans().unwrap(), vec![a.clone(), b.clone()]);
    assert!(store.remove_ban(a.id).unwrap());
    assert!(!store.remove_ban(a.id).unwrap());
    assert_eq!(store.bans().unwrap(), vec![b]);

    assert_eq!(store.site_settings("blog").unwrap(), None);
    let before = store.last_change().unwrap();
    store
        .put_site_settings("blog", r#"{"read_only":true}"#)
        .unwrap();
    assert_eq!(
        store.site_settings("blog").unwrap().as_deref(),
        Some(r#"{"read_only":true}"#)
    );
    let logged = store.changes_after(before, 10).unwrap();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(
        (logged[0].site.as_str(), logged[0].page_key.as_str()),
        ("blog", "")
    );
    assert_eq!(logged[0].kind, ChangeKind::SiteChanged);

    let mut by_moderator = edit("fixed by a moderator", "[]", 5, None);
    by_moderator.by_moderator = true;
    let (rec, _) = store.edit_comment(id, by_moderator).unwrap();
    assert!(rec.moderator_edit);
    let (rec, _) = store
        .edit_comment(id, edit("the author again", "[]", 6, None))
        .unwrap();
    assert!(!rec.moderator_edit);
}

pub fn approved_authors_are_counted_exactly_through_every_status_change(store: Arc<dyn Store>) {
    store.ensure_site("blog").unwrap();
    let count = || {
        store
            .approved_comments_by("blog", " ANN@example.com", "Ann ")
            .unwrap()
    };
    let by_ann = |page: &str, status| NewComment {
        status,
        email: Some("ann@example.com".into()),
        ..new_comment(page, None, "ann")
    };
    assert_eq!(count(), 0);
    let pending = store
        .insert_comment(by_ann("/a", Status::Pending))
        .unwrap()
        .0
        .id;
    assert_eq!(count(), 0, "pending comments do not count");
    let approved = store
        .insert_comment(by_ann("/a", Status::Approved))
        .unwrap()
        .0
        .id;
    assert_eq!(count(), 1);
    store.set_status(pending, Status::Approved).unwrap();
    assert_eq!(count(), 2);
    store.set_status(pending, Status::Spam).unwrap();
    assert_eq!(count(), 1);
    store
        .edit_comment(pending, edit("x", "[]", 2, Some(Status::Approved)))
        .unwrap();
    assert_eq!(count(), 2);
    store
        .insert_comment(by_ann("/b", Status::Approved))
        .unwrap();
    assert_eq!(count(), 3);
    // A tombstone no longer counts; a deleted page takes its comments' counts with it.
    insert(&*store, "/a", Some(approved), "bob");
    store.delete_comment(approved).unwrap();
    assert_eq!(count(), 2);
    store.delete_page("blog", "/b").unwrap();
    assert_eq!(count(), 1);
    // Another site, another name or no e-mail: counted apart.
    assert_eq!(
        store
            .approved_comments_by("news", "ann@example.com", "ann")
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .approved_comments_by("blog", "ann@example.com", "anna")
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .approved_comments_by("blog", "bob@example.com", "bob")
            .unwrap(),
        1
    );
    store.delete_comment(pending).unwrap();
    assert_eq!(count(), 0);
}

pub fn the_spam_filter_learns_each_decision_once_and_unlearns_reversals<S: SpamFilter + ?Sized>(
    store: Arc<S>,
) {
    let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let ask = words(&["cheap", "pills", "garden", "unseen"]);
    assert_eq!(store.training_cursor().unwrap(), 0);
    assert_eq!(
        store.token_counts(&ask).unwrap(),
        TokenCounts {
            tokens: vec![(0, 0); 4],
            spam_docs: 0,
            ham_docs: 0
        }
    );
    store
        .train(1, &words(&["cheap", "pills"]), Some(Label::Spam), 3)
        .unwrap();
    store
        .train(2, &words(&["garden", "cheap"]), Some(Label::Ham), 5)
        .unwrap();
    // The same decision seen again (a consumer resuming) teaches nothing more.
    store
        .train(1, &words(&["cheap", "pills"]), Some(Label::Spam), 6)
        .unwrap();
    let counts = store.token_counts(&ask).unwrap();
    assert_eq!(counts.tokens, vec![(1, 1), (1, 0), (0, 1), (0, 0)]);
    assert_eq!((counts.spam_docs, counts.ham_docs), (1, 1));
    assert_eq!(store.training_cursor().unwrap(), 6);

    // The blogger changes their mind: comment 1 was not spam after all.
    store
        .train(1, &words(&["cheap", "pills"]), Some(Label::Ham), 7)
        .unwrap();
    let counts = store.token_counts(&ask).unwrap();
    assert_eq!(counts.tokens, vec![(0, 2), (0, 1), (0, 1), (0, 0)]);
    assert_eq!((counts.spam_docs, counts.ham_docs), (0, 2));

    // Forgetting a comment removes what it taught; forgetting one never learned is a no-op.
    store.train(2, &[], None, 8).unwrap();
    store.train(99, &[], None, 9).unwrap();
    let counts = store.token_counts(&ask).unwrap();
    assert_eq!(counts.tokens, vec![(0, 1), (0, 1), (0, 0), (0, 0)]);
    assert_eq!((counts.spam_docs, counts.ham_docs), (0, 1));
    store.set_training_cursor(12).unwrap();
    assert_eq!(store.training_cursor().unwrap(), 12);
}

fn wish(page: &str, email: &str, scope: Scope, origin: u64) -> SubscriptionRecord {
    SubscriptionRecord {
        id: 0,
        site: "demo".into(),
        page_key: page.into(),
        email: email.into(),
        scope,
        lang: "de".into(),
        created: 1_000,
        origin,
        confirmed: false,
        asked: None,
    }
}

fn subscribers<S: Subscriptions + ?Sized>(store: &S, page: &str) -> Vec<(String, Scope, bool)> {
    store
        .page_subscriptions("demo", page, None, 100)
        .unwrap()
        .into_iter()
        .map(|s| (s.email, s.scope, s.confirmed))
        .collect()
}

pub fn subscriptions_are_confirmed_once_per_address_and_end_cleanly<S: Subscriptions + ?Sized>(
    store: Arc<S>,
) {
    let ann = store
        .subscribe(wish("/a", "ann@example.org", Scope::Replies, 1))
        .unwrap();
    assert!(ann.id > 0 && !ann.confirmed && ann.asked.is_none());
    store.set_asked(ann.id, 2_000).unwrap();
    // The same reader again on the same page: the same subscription, wider, still asked.
    let again = store
        .subscribe(wish("/a", "ann@example.org", Scope::Thread, 5))
        .unwrap();
    assert_eq!(
        (again.id, again.scope, again.asked),
        (ann.id, Scope::Thread, Some(2_000))
    );
    assert_eq!(
        again.origin, 5,
        "an unconfirmed one quotes the newest comment"
    );
    let narrower = store
        .subscribe(wish("/a", "ann@example.org", Scope::Replies, 6))
        .unwrap();
    assert_eq!(narrower.scope, Scope::Thread, "a scope never narrows");
    let elsewhere = store
        .subscribe(wish("/b", "ann@example.org", Scope::Replies, 7))
        .unwrap();
    let bob = store
        .subscribe(wish("/a", "bob@example.org", Scope::Replies, 8))
        .unwrap();
    let found = store
        .subscription_of("demo", "/a", "bob@example.org")
        .unwrap();
    assert_eq!(found.map(|s| s.id), Some(bob.id));
    assert!(
        store
            .subscription_of("demo", "/b", "bob@example.org")
            .unwrap()
            .is_none()
    );
    assert_ne!(elsewhere.id, ann.id);
    assert!(!store.address_confirmed("demo", "ann@example.org").unwrap());

    // Confirming the address confirms all of its subscriptions on the site, and only those.
    assert_eq!(
        store
            .confirm_address("demo", "ann@example.org", 3_000)
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .confirm_address("demo", "ann@example.org", 3_001)
            .unwrap(),
        0
    );
    assert!(store.address_confirmed("demo", "ann@example.org").unwrap());
    assert!(!store.address_confirmed("other", "ann@example.org").unwrap());
    assert_eq!(
        subscribers(&*store, "/a"),
        [
            ("ann@example.org".to_owned(), Scope::Thread, true),
            ("bob@example.org".to_owned(), Scope::Replies, false),
        ]
    );
    // A confirmed address is not asked again on another page.
    let later = store
        .subscribe(wish("/c", "ann@example.org", Scope::Replies, 9))
        .unwrap();
    assert!(later.confirmed);

    // Pages of subscribers are keyset-paged by address.
    let first = store.page_subscriptions("demo", "/a", None, 1).unwrap();
    assert_eq!(first.len(), 1);
    let rest = store
        .page_subscriptions("demo", "/a", Some(&first[0].email), 10)
        .unwrap();
    assert_eq!(rest.iter().map(|s| s.id).collect::<Vec<_>>(), [bob.id]);

    // What a subscriber was mailed is remembered until the subscription ends.
    assert!(!store.was_mailed(ann.id, 42).unwrap());
    store.set_mailed(ann.id, 42).unwrap();
    assert!(store.was_mailed(ann.id, 42).unwrap());
    assert!(!store.was_mailed(bob.id, 42).unwrap());
    assert!(store.unsubscribe(ann.id).unwrap());
    assert!(!store.unsubscribe(ann.id).unwrap(), "only once");
    assert!(store.subscription(ann.id).unwrap().is_none());
    assert!(!store.was_mailed(ann.id, 42).unwrap());
    assert_eq!(subscribers(&*store, "/a").len(), 1);

    // Forgetting an address ends everything it had on the site and its confirmation.
    assert_eq!(store.forget_address("demo", "ann@example.org").unwrap(), 2);
    assert!(!store.address_confirmed("demo", "ann@example.org").unwrap());
    assert!(subscribers(&*store, "/b").is_empty() && subscribers(&*store, "/c").is_empty());
    let fresh = store
        .subscribe(wish("/a", "ann@example.org", Scope::Replies, 10))
        .unwrap();
    assert!(!fresh.confirmed, "a forgotten address is asked again");
}

pub fn subscriptions_move_with_their_page_and_keep_the_wider_scope<S: Subscriptions + ?Sized>(
    store: Arc<S>,
) {
    let ann = store
        .subscribe(wish("/old", "ann@example.org", Scope::Thread, 1))
        .unwrap();
    let bob = store
        .subscribe(wish("/old", "bob@example.org", Scope::Replies, 2))
        .unwrap();
    store.set_mailed(ann.id, 1).unwrap();
    let bob_there = store
        .subscribe(wish("/new", "bob@example.org", Scope::Thread, 3))
        .unwrap();
    let cy = store
        .subscribe(wish("/new", "cy@example.org", Scope::Replies, 4))
        .unwrap();
    assert_eq!(store.move_subscriptions("demo", "/old", "/new").unwrap(), 2);
    assert!(subscribers(&*store, "/old").is_empty());
    let moved = store.page_subscriptions("demo", "/new", None, 10).unwrap();
    assert_eq!(
        moved.iter().map(|s| (s.id, s.scope)).collect::<Vec<_>>(),
        [
            (ann.id, Scope::Thread),
            (bob_there.id, Scope::Thread),
            (cy.id, Scope::Replies)
        ]
    );
    assert!(store.subscription(bob.id).unwrap().is_none());
    assert!(
        store.was_mailed(ann.id, 1).unwrap(),
        "a moved subscription keeps its history"
    );
    assert_eq!(
        store
            .move_subscriptions("demo", "/nowhere", "/new")
            .unwrap(),
        0
    );
}

/// Hardening round two, item 11: `migrate-store` renumbered subscriptions while keeping the
/// tokens' secret, so links already mailed acted on other readers' subscriptions.
pub fn restored_subscriptions_keep_their_ids<S: Subscriptions + ?Sized>(store: Arc<S>) {
    let mut moved = wish("/r", "ann@example.org", Scope::Thread, 3);
    moved.id = 7_000;
    moved.asked = Some(1_500);
    store.restore_subscription(moved.clone()).unwrap();
    let stored = store.subscription(7_000).unwrap().unwrap();
    assert_eq!(
        (stored.email.as_str(), stored.asked),
        ("ann@example.org", Some(1_500))
    );
    assert_eq!(
        store
            .subscription_of("demo", "/r", "ann@example.org")
            .unwrap()
            .map(|s| s.id),
        Some(7_000)
    );
    let later = store
        .subscribe(wish("/r", "bob@example.org", Scope::Replies, 4))
        .unwrap();
    assert!(
        later.id > 7_000,
        "later ids stay above restored ones: {}",
        later.id
    );
    let mut same_id = wish("/other", "cid@example.org", Scope::Replies, 5);
    same_id.id = 7_000;
    assert!(matches!(
        store.restore_subscription(same_id),
        Err(Error::Conflict)
    ));
    let mut same_wish = wish("/r", "ann@example.org", Scope::Replies, 6);
    same_wish.id = 9_000;
    assert!(matches!(
        store.restore_subscription(same_wish),
        Err(Error::Conflict)
    ));
}

pub fn a_one_time_token_is_spent_once<S: Maintenance + ?Sized>(store: Arc<S>) {
    let (now, later) = (1_000_000, 1_000_000 + 3_600_000);
    assert!(store.spend_once(b"salt-a", later, now).unwrap());
    assert!(!store.spend_once(b"salt-a", later, now).unwrap(), "spent");
    assert!(
        !store.spend_once(b"salt-a", later, now + 1_000).unwrap(),
        "still spent"
    );
    assert!(
        store.spend_once(b"salt-b", later, now).unwrap(),
        "another token"
    );
    // Many callers at once: exactly one is first.
    let firsts: usize = std::thread::scope(|scope| {
        let spends: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| store.spend_once(b"salt-c", later, now).unwrap()))
            .collect();
        spends
            .into_iter()
            .map(|s| usize::from(s.join().unwrap()))
            .sum()
    });
    assert_eq!(firsts, 1);
    // Past their expiry tokens may be forgotten; those not yet expired never are.
    for i in 0..300u32 {
        store.spend_once(&i.to_be_bytes(), now + 10, now).unwrap();
    }
    assert!(
        !store.spend_once(b"salt-a", later, later - 1).unwrap(),
        "unexpired, kept"
    );
    assert!(
        !store.spend_once(b"salt-b", later, later - 1).unwrap(),
        "unexpired, kept"
    );
}

pub fn uses_are_counted_per_window_of_any_length<S: Maintenance + ?Sized>(store: Arc<S>) {
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    let counts = |key: &str, window: i64, length: i64, n: usize| -> Vec<u32> {
        (0..n)
            .map(|_| store.count_use(key, window, length).unwrap())
            .collect()
    };
    assert_eq!(counts("mail:a", 0, DAY, 3), [1, 2, 3]);
    assert_eq!(counts("mail:b", 0, DAY, 1), [1], "each key its own");
    assert_eq!(counts("mail:a", 0, DAY, 1), [4]);
    // Other keys starting windows much later sweep ended ones, never this day's.
    for i in 0..50 {
        store
            .count_use(&format!("w:{i}"), 10 * HOUR, 60_000)
            .unwrap();
    }
    assert_eq!(
        counts("mail:a", 0, DAY, 1),
        [5],
        "a window not ended is kept"
    );
    assert_eq!(
        counts("mail:a", DAY, DAY, 2),
        [1, 2],
        "the next window counts afresh"
    );
}

/// A thread's feed lists that page's comments however many others the site has: the page is
/// read by an index, so a small `scan_limit` still reaches its oldest comment.
pub fn one_pages_listing_reads_that_page_alone(store: Arc<dyn Store>) {
    store.ensure_site("blog").unwrap();
    let mut quiet = Vec::new();
    for i in 0..3 {
        let (rec, _) = store
            .insert_comment(new_comment("/quiet", None, &format!("q{i}")))
            .unwrap();
        quiet.push(rec.id);
    }
    let (held, _) = store
        .insert_comment(new_comment("/quiet", None, "waiting"))
        .unwrap();
    store.set_status(held.id, Status::Pending).unwrap();
    for i in 0..40 {
        store
            .insert_comment(new_comment("/busy", None, &format!("b{i}")))
            .unwrap();
    }
    let page = |key: &str, before: Option<u64>| CommentQuery {
        sites: Some(vec!["blog".into()]),
        statuses: vec![Status::Approved],
        page: Some(key.into()),
        before,
        limit: 2,
        scan_limit: 8,
        ..CommentQuery::default()
    };
    let (first, next) = listed(&*store, &page("/quiet", None));
    assert_eq!(first, ["q2", "q1"]);
    let (rest, _) = listed(&*store, &page("/quiet", next));
    assert_eq!(rest, ["q0"]);
    assert_eq!(
        listed(&*store, &page("/nowhere", None)).0,
        Vec::<String>::new()
    );
    // A site's approved comments likewise, however many the other sites have since, and
    // without those waiting for a moderator.
    store.ensure_site("news").unwrap();
    for i in 0..40 {
        let mut other = new_comment("/elsewhere", None, &format!("n{i}"));
        other.site = "news".into();
        store.insert_comment(other).unwrap();
    }
    let (latest, _) = store
        .insert_comment(new_comment("/busy", None, "spammy"))
        .unwrap();
    store.set_status(latest.id, Status::Spam).unwrap();
    let site = CommentQuery {
        sites: Some(vec!["blog".into()]),
        statuses: vec![Status::Approved],
        limit: 2,
        scan_limit: 8,
        ..CommentQuery::default()
    };
    assert_eq!(listed(&*store, &site).0, ["b39", "b38"]);
    // A comment approved later is listed under its own id; one sent back to the queue is not.
    store.set_status(held.id, Status::Approved).unwrap();
    store.set_status(quiet[2], Status::Pending).unwrap();
    let (all, _) = listed(
        &*store,
        &CommentQuery {
            limit: 100,
            scan_limit: 100,
            ..site
        },
    );
    assert!(
        all.contains(&"waiting".to_owned()) && !all.contains(&"q2".to_owned()),
        "{all:?}"
    );
    assert_eq!(all.len(), 43, "{all:?}");
}
