//! Migrations against a real PostgreSQL: `TB_TEST_PG` names a database on a cluster the
//! tests may create databases on (`cargo xtask test` starts a private one). Each test works in
//! a database of its own, dropped afterwards.

use super::*;

/// A fresh database for one test, dropped when the value goes.
struct Scratch {
    admin: Client,
    name: String,
    url: String,
}

impl Scratch {
    fn new(test: &str) -> Self {
        let base = std::env::var("TB_TEST_PG").expect(
            "TB_TEST_PG names a database on a cluster where tests may create databases \
             (cargo xtask test-pg starts a private one)",
        );
        let mut admin = connect(&base).expect("the test cluster answers");
        // PostgreSQL keeps 63 bytes of a name: the test's first 40 and the process id fit.
        let test: String = test.chars().take(40).collect();
        let name = format!("tb_{test}_{}", std::process::id());
        // One statement each: neither may run inside a transaction block.
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let (server, _) = base.rsplit_once('/').unwrap();
        Self {
            admin,
            url: format!("{server}/{name}"),
            name,
        }
    }

    fn client(&self) -> Client {
        connect(&self.url).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn tables(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn a_fresh_database_gets_every_migration_once_and_a_second_run_changes_nothing() {
    let db = Scratch::new("fresh");
    let mut client = db.client();
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(migrate(&mut client).unwrap(), all);
    let schema = tables(&mut client);
    for table in [
        "tb_changes",
        "tb_comments",
        "tb_counters",
        "tb_migrations",
        "tb_pages",
        "tb_sites",
        "tb_subscriptions",
    ] {
        assert!(schema.iter().any(|t| t == table), "{table} in {schema:?}");
    }
    assert_eq!(migrate(&mut client).unwrap(), Vec::<i32>::new());
    assert_eq!(applied(&mut client).unwrap(), all);
    assert_eq!(tables(&mut client), schema, "nothing created twice");
}

#[test]
fn servers_starting_at_once_apply_each_migration_exactly_once() {
    // Several rounds: the racers collide on creating the version table only now and then.
    for round in 0..6 {
        servers_race_to_migrate(&format!("racing{round}"));
    }
}

fn servers_race_to_migrate(name: &str) {
    let db = Scratch::new(name);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let (url, barrier) = (db.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut client = connect(&url).unwrap();
                barrier.wait();
                migrate(&mut client)
            })
        })
        .collect();
    let mut applied_by_someone = Vec::new();
    for run in runs {
        applied_by_someone.extend(run.join().unwrap().expect("every server starts"));
    }
    applied_by_someone.sort();
    let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied_by_someone, all, "each step by exactly one server");
    assert_eq!(applied(&mut db.client()).unwrap(), all);
}

#[test]
fn a_database_a_newer_server_migrated_is_refused_untouched() {
    let db = Scratch::new("newer");
    let mut client = db.client();
    migrate(&mut client).unwrap();
    client
        .execute(
            "INSERT INTO tb_migrations (version, name, applied) VALUES (999, 'from the future', 0)",
            &[],
        )
        .unwrap();
    let before = tables(&mut client);
    match migrate(&mut client) {
        Err(Error::TooNew { database, known }) => {
            assert_eq!(database, 999);
            assert_eq!(known, MIGRATIONS.last().unwrap().version);
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    assert_eq!(tables(&mut client), before);
}

#[test]
fn an_unreachable_database_is_a_clear_error() {
    let Err(error) = connect("postgres://talkback@127.0.0.1:1/talkback?connect_timeout=2") else {
        panic!("nothing listens on port 1");
    };
    assert!(matches!(error, Error::Connect(_)), "{error}");
    assert!(
        error.to_string().starts_with("cannot reach PostgreSQL"),
        "{error}"
    );
}

/// A store on a fresh database of its own (kept with the store, dropped after the test).
fn store(test: &str) -> (std::sync::Arc<PgStore>, Scratch) {
    let db = Scratch::new(test);
    (std::sync::Arc::new(PgStore::open(&db.url, 4).unwrap()), db)
}

/// A store for one conformance story, on a database of its own (dropped with the guard).
fn story_store(story: &str) -> (std::sync::Arc<dyn talkback_store::Store>, Scratch) {
    let (store, db) = store(story);
    (store, db)
}

talkback_store::conformance_suite!(named story_store);

#[test]
fn the_change_log_reads_in_order_and_reports_what_was_pruned() {
    use talkback_store::{Change, ChangeKind, ChangeLog};
    let (store, db) = store("changes");
    // Until comments are written here, the log's rows are put in as a write would.
    let mut client = db.client();
    for (seq, at) in [(1_i64, 100_i64), (2, 200), (3, 300), (4, 400)] {
        let change = Change {
            seq: seq as u64,
            at,
            site: "blog".into(),
            page_key: "/p".into(),
            comment: Some(seq as u64),
            kind: ChangeKind::PageUpdated,
        };
        client
            .execute(
                "INSERT INTO tb_changes (seq, at, record) VALUES ($1, $2, $3)",
                &[&seq, &at, &postgres::types::Json(&change)],
            )
            .unwrap();
    }
    client
        .execute(
            "UPDATE tb_counters SET value = 4 WHERE name = 'change'",
            &[],
        )
        .unwrap();
    let seqs = |after, limit| {
        store
            .changes_after(after, limit)
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect::<Vec<_>>()
    };
    assert_eq!(store.last_change().unwrap(), 4);
    assert_eq!(seqs(0, 10), [1, 2, 3, 4]);
    assert_eq!(seqs(1, 2), [2, 3]);
    assert_eq!(seqs(4, 10), Vec::<u64>::new());
    // Pruning stops at the first change recent enough; a reader behind it hears so.
    assert_eq!(store.prune_changes(250).unwrap(), 2);
    assert!(matches!(
        store.changes_after(1, 10),
        Err(talkback_store::Error::Pruned { through: 2 })
    ));
    assert_eq!(seqs(2, 10), [3, 4]);
    assert_eq!(
        store.prune_changes(250).unwrap(),
        0,
        "nothing more to prune"
    );
    assert_eq!(store.prune_changes(1_000).unwrap(), 2);
    assert!(matches!(
        store.changes_after(3, 10),
        Err(talkback_store::Error::Pruned { through: 4 })
    ));
    assert_eq!(seqs(4, 10), Vec::<u64>::new());
}

/// Three stores on one database stand for three servers: their writers collide on the same
/// thread (replies to comments another server is deleting, status flips, a lock) and every
/// total kept on records must still equal what a recount of the comments finds.
#[test]
fn conflicting_writes_from_three_servers_keep_every_total_exact() {
    use talkback_store::conformance::new_comment;
    use talkback_store::{
        ChangeLog, Error as StoreError, Moderation, Reads, Status, Transfer, Writes,
    };
    let db = Scratch::new("conflicts");
    let servers: Vec<_> = (0..3)
        .map(|_| std::sync::Arc::new(PgStore::open(&db.url, 3).unwrap()))
        .collect();
    let first = servers[0]
        .insert_comment(new_comment("/hot", None, "opener"))
        .unwrap()
        .0
        .id;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
    let writers: Vec<_> = (0..6)
        .map(|t| {
            let (store, barrier) = (servers[t % 3].clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut mine = vec![first];
                let mut refused = 0;
                for i in 0..40u64 {
                    let parent = (i % 3 != 0).then(|| mine[(i as usize * 7 + t) % mine.len()]);
                    let mut new = new_comment("/hot", parent, &format!("w{t}"));
                    new.email = Some(format!("W{t}@example.org"));
                    new.status = if i % 4 == 0 {
                        Status::Pending
                    } else {
                        Status::Approved
                    };
                    match store.insert_comment(new) {
                        Ok((rec, _)) => mine.push(rec.id),
                        // The parent went meanwhile (another writer deleted it).
                        Err(StoreError::Parent(_)) => refused += 1,
                        Err(e) => panic!("{e}"),
                    }
                    let target = mine[(i as usize * 5 + t) % mine.len()];
                    let outcome = match i % 5 {
                        0 | 3 => store.delete_comment(target).map(drop),
                        1 => store.set_status(target, Status::Spam).map(drop),
                        _ => store.set_status(target, Status::Approved).map(drop),
                    };
                    match outcome {
                        Ok(()) | Err(StoreError::NotFound(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                refused
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let store = &servers[1];
    let exported = store.export_site("blog").unwrap();
    let Some((page, comments)) = exported.first() else {
        // Every comment deleted: then no page either.
        assert!(store.page("blog", "/hot").unwrap().is_none());
        return;
    };
    let approved = comments
        .iter()
        .filter(|c| c.status == Status::Approved)
        .count();
    assert_eq!(page.count as usize, approved, "the page's count");
    assert_eq!(page.comments as usize, comments.len(), "the page's total");
    for c in comments {
        let children = comments.iter().filter(|r| r.parent == Some(c.id)).count();
        assert_eq!(c.children as usize, children, "children of {}", c.id);
        if c.parent.is_none() {
            let below = comments.iter().filter(|r| r.root == Some(c.id)).count();
            assert_eq!(c.descendants as usize, below, "descendants of {}", c.id);
        }
        // A tombstone stays only while it has replies.
        assert!(c.status != Status::Deleted || c.children > 0, "{c:?}");
    }
    for t in 0..6 {
        let by_author = comments
            .iter()
            .filter(|c| c.status == Status::Approved && c.author == format!("w{t}"))
            .count();
        let counted = store
            .approved_comments_by("blog", &format!("w{t}@example.org"), &format!("W{t}"))
            .unwrap();
        assert_eq!(counted as usize, by_author, "approved comments of w{t}");
    }
    let changes = store.changes_after(0, 100_000).unwrap();
    let seqs: Vec<u64> = changes.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "gapless");
    assert_eq!(store.last_change().unwrap(), seqs.len() as u64);
}

#[test]
fn a_consumer_is_worked_by_one_server_until_its_claim_runs_out() {
    use talkback_store::ChangeLog;
    let (store, _db) = store("leases");
    assert!(
        store.claim("mail", "a", 1_000, 31_000).unwrap(),
        "free: a takes it"
    );
    assert!(
        !store.claim("mail", "b", 2_000, 32_000).unwrap(),
        "a holds it"
    );
    assert!(
        store.claim("webhook:1", "b", 2_000, 32_000).unwrap(),
        "another consumer is free"
    );
    assert!(
        store.claim("mail", "a", 20_000, 50_000).unwrap(),
        "a renews"
    );
    assert!(
        !store.claim("mail", "b", 40_000, 70_000).unwrap(),
        "renewed: still a's"
    );
    assert!(
        store.claim("mail", "b", 50_001, 80_000).unwrap(),
        "run out: b takes over"
    );
    assert!(
        !store.claim("mail", "a", 50_002, 80_002).unwrap(),
        "now b's"
    );
}

/// The test cluster's authorities (`cargo xtask` makes them: `ca.pem` signed the server's
/// certificate for `localhost`, `other-ca.pem` signed nothing) and a URL on it with `query`.
fn tls_url(query: &str, host: &str) -> (String, std::path::PathBuf) {
    let ca: std::path::PathBuf = std::env::var_os("TB_TEST_PG_CA")
        .expect("TB_TEST_PG_CA names the test cluster's authorities (cargo xtask test-pg)")
        .into();
    let base = std::env::var("TB_TEST_PG").unwrap();
    let url = base.replacen("127.0.0.1", host, 1);
    (format!("{url}?{query}"), ca)
}

#[test]
fn sslmode_decides_whether_and_to_whom_the_store_speaks_in_tls() {
    let (_, ca) = tls_url("", "");
    let ca_pem = ca.join("ca.pem").display().to_string();
    let other = ca.join("other-ca.pem").display().to_string();
    // (sslmode and roots, host, encrypted, or the words of the refusal)
    let cases: &[(String, &str, Result<bool, &str>)] = &[
        ("sslmode=disable".into(), "127.0.0.1", Ok(false)),
        // libpq's default: encrypted when offered, the certificate taken as it comes.
        ("application_name=tb".into(), "127.0.0.1", Ok(true)),
        ("sslmode=require".into(), "127.0.0.1", Ok(true)),
        (
            format!("sslmode=verify-full&sslrootcert={ca_pem}"),
            "localhost",
            Ok(true),
        ),
        // The certificate names localhost, not 127.0.0.1: verify-ca does not compare names.
        (
            format!("sslmode=verify-ca&sslrootcert={ca_pem}"),
            "127.0.0.1",
            Ok(true),
        ),
        (
            format!("sslmode=verify-full&sslrootcert={ca_pem}"),
            "127.0.0.1",
            Err("Certificate"),
        ),
        (
            format!("sslmode=verify-full&sslrootcert={other}"),
            "localhost",
            Err("Certificate"),
        ),
        (
            format!("sslmode=require&sslrootcert={other}"),
            "localhost",
            Err("Certificate"),
        ),
        (
            format!("sslmode=verify-ca&sslrootcert={other}"),
            "127.0.0.1",
            Err("Certificate"),
        ),
    ];
    for (query, host, expected) in cases {
        let (url, _) = tls_url(query, host);
        match (connect(&url), expected) {
            (Ok(mut client), Ok(tls)) => {
                assert_eq!(connect::encrypted(&mut client).unwrap(), *tls, "{url}");
            }
            (Err(error), Err(words)) => {
                let said = format!("{error}: {:?}", std::error::Error::source(&error));
                assert!(said.contains(words), "{url}: {said}");
            }
            (Ok(_), Err(_)) => panic!("{url}: connected where it must be refused"),
            (Err(error), Ok(_)) => {
                panic!("{url}: {error}: {:?}", std::error::Error::source(&error))
            }
        }
    }
}

#[test]
fn a_store_over_verified_tls_works_and_says_how_it_is_reached() {
    let db = Scratch::new("verified_tls");
    let (_, ca) = tls_url("", "");
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        db.url.replacen("127.0.0.1", "localhost", 1),
        ca.join("ca.pem").display()
    );
    let store = PgStore::open(&url, 2).unwrap();
    let transport = store.transport().clone();
    assert!(
        transport.tls && transport.verified && transport.local,
        "{transport:?}"
    );
    assert_eq!(transport.warning(), None);
    // The pool's connections and the follower's own one speak TLS too.
    use talkback_store::{ChangeLog, Writes};
    store.flush_through(talkback_store::WriteSeq(0)).unwrap();
    store
        .wait_for_changes(std::time::Duration::from_millis(50))
        .unwrap();
    let mut conn = store.conn().unwrap();
    assert!(connect::encrypted(&mut conn).unwrap());
    // Every session of the store runs under its timeouts.
    for (setting, value) in [
        ("statement_timeout", "1min"),
        ("lock_timeout", "10s"),
        ("idle_in_transaction_session_timeout", "1min"),
    ] {
        let shown: String = conn
            .query_one(&format!("SHOW {setting}"), &[])
            .unwrap()
            .get(0);
        assert_eq!(shown, value, "{setting}");
    }
    let listeners: i64 = conn
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE ssl AND datname = current_database()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        listeners >= 2,
        "the listener and a pooled connection: {listeners}"
    );
}
