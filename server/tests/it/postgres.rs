//! Several server processes on one PostgreSQL database (`TB_TEST_PG` names the cluster the
//! test command starts): writes spread across them are visible on every server within the
//! bound, counts stay exact, live followers on one server hear of comments posted on another,
//! a server killed mid-write loses nothing it acknowledged, and a database that goes away
//! gives 503s quickly while cached pages are still served, until it returns.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

/// A database of its own on the test cluster, dropped afterwards.
struct Database {
    admin: postgres::Client,
    name: String,
    url: String,
}

impl Database {
    fn new(test: &str) -> Self {
        let base = std::env::var("TB_TEST_PG").expect(
            "TB_TEST_PG names a PostgreSQL cluster where tests may create databases \
             (cargo xtask test starts a private one)",
        );
        let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        let name = format!("tb_it_{test}_{}", std::process::id());
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let (server, _) = base.rsplit_once('/').unwrap();
        Self {
            url: format!("{server}/{name}"),
            admin,
            name,
        }
    }

    /// The URL with another host and port (to reach it through a [`Gate`]).
    fn via(&self, port: u16) -> String {
        let (scheme, rest) = self.url.split_once("://").unwrap();
        let (authority, path) = rest.split_once('/').unwrap();
        let user = authority
            .rsplit_once('@')
            .map(|(u, _)| format!("{u}@"))
            .unwrap_or_default();
        format!("{scheme}://{user}127.0.0.1:{port}/{path}")
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// One server process on `url`, with the `blog` site (anti-spam off: these writers are
/// scripts) and no rate limit.
fn server_on(url: &str, dir: &std::path::Path, n: usize) -> ServerProcess {
    let config = dir.join(format!("server{n}.toml"));
    std::fs::write(
        &config,
        format!("[[sites]]\nid = \"blog\"\norigins = [\"https://blog.example\"]\n{SPAM_OFF_TOML}"),
    )
    .unwrap();
    ServerProcess::spawn_with(std::path::Path::new(url), Some(&config))
}

fn post_to(base: &str, page: &str, author: &str, parent: Option<u64>) -> Option<u64> {
    let body = json!({"site": "blog", "page": page, "author": author,
        "body": format!("{author} on {page}"), "parent": parent});
    let reply = post(base, "/api/v1/comments", &body);
    (reply.status == 201).then(|| reply.body["comment"]["id"].as_u64().unwrap())
}

/// Every comment id a server shows on a page: all pages of the thread, every reply (those a
/// page leaves out read with their cursor).
fn shown(base: &str, page: &str) -> BTreeSet<u64> {
    fn collect(base: &str, page: &str, comments: &serde_json::Value, ids: &mut BTreeSet<u64>) {
        for c in comments.as_array().unwrap() {
            let id = c["id"].as_u64().unwrap();
            ids.insert(id);
            collect(base, page, &c["replies"], ids);
            let mut cursor = c["replies_cursor"].as_str().map(str::to_owned);
            while let Some(next) = cursor {
                let more = get(
                    base,
                    &format!("/api/v1/replies?site=blog&page={page}&root={id}&cursor={next}"),
                );
                assert_eq!(more.status, 200, "{more:?}");
                collect(base, page, &more.body["replies"], ids);
                cursor = more.body["next_cursor"].as_str().map(str::to_owned);
            }
        }
    }
    let mut ids = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let reply = get(
            base,
            &format!("/api/v1/threads?site=blog&page={page}&limit=100&cursor={cursor}"),
        );
        assert_eq!(reply.status, 200, "{reply:?}");
        collect(base, page, &reply.body["comments"], &mut ids);
        match reply.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return ids,
        }
    }
}

fn count(base: &str, page: &str) -> u64 {
    let reply = post(
        base,
        "/api/v1/counts",
        &json!({"site": "blog", "pages": [page]}),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body["counts"][page].as_u64().unwrap_or(0)
}

/// How long until `check` holds, polling; panics after `bound`.
fn within(bound: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if check() {
            return start.elapsed();
        }
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The documented bound on a cached page's staleness across servers (one poll of the change
/// log, `FOLLOW_POLL`), with room for a loaded two-core machine.
const BOUND: Duration = Duration::from_secs(3);

#[test]
fn three_servers_share_one_database_and_every_write_shows_everywhere() {
    let db = Database::new("three");
    let dir = tempfile::tempdir().unwrap();
    let servers: Vec<ServerProcess> = (0..3).map(|n| server_on(&db.url, dir.path(), n)).collect();
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let pages = ["/a", "/b"];
    // Every server caches both threads (empty) first, so staleness would show.
    for base in &bases {
        for page in pages {
            assert!(shown(base, page).is_empty());
        }
    }
    // A live follower on the third server.
    let mut follower = crate::live::Follower::open(&bases[2], "/a", Some(0));
    // Six writers, two per server, replying to what others posted on other servers.
    let acknowledged: Arc<Mutex<BTreeMap<u64, &str>>> = Arc::default();
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (bases, acked) = (bases.clone(), Arc::clone(&acknowledged));
            std::thread::spawn(move || {
                for i in 0..15 {
                    let page = pages[(w + i) % 2];
                    let parent = (i % 3 == 2)
                        .then(|| {
                            acked
                                .lock()
                                .unwrap()
                                .iter()
                                .rev()
                                .find(|(_, p)| **p == page)
                                .map(|(id, _)| *id)
                        })
                        .flatten();
                    let base = &bases[(w + i) % 3];
                    if let Some(id) = post_to(base, page, &format!("w{w}"), parent) {
                        acked.lock().unwrap().insert(id, page);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), 90, "every write acknowledged");
    let mut slowest = Duration::ZERO;
    for base in &bases {
        for page in pages {
            let expected: BTreeSet<u64> = acknowledged
                .iter()
                .filter(|(_, p)| **p == page)
                .map(|(id, _)| *id)
                .collect();
            let took = within(BOUND, &format!("{page} on {base}"), || {
                shown(base, page) == expected && count(base, page) == expected.len() as u64
            });
            slowest = slowest.max(took);
        }
    }
    eprintln!("three servers: every write visible on every server after at most {slowest:?}");
    // The follower on the third server heard of the first comment on /a, wherever it was posted.
    let (_, event) = follower.update();
    let first_on_a = acknowledged
        .iter()
        .find(|(_, p)| **p == "/a")
        .map(|(id, _)| *id);
    assert!(
        event.to_string().contains(&first_on_a.unwrap().to_string()),
        "{event}"
    );
}

#[test]
fn a_server_killed_mid_write_loses_nothing_it_acknowledged() {
    let db = Database::new("kill");
    let dir = tempfile::tempdir().unwrap();
    let mut servers: Vec<ServerProcess> =
        (0..3).map(|n| server_on(&db.url, dir.path(), n)).collect();
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let acknowledged: Arc<Mutex<BTreeSet<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (base, acked, stop) = (bases[w % 2].clone(), Arc::clone(&acknowledged), Arc::clone(&stop));
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body = json!({"site": "blog", "page": "/load", "author": format!("w{w}"), "body": format!("try {n}")});
                    match agent.post(&format!("{base}/api/v1/comments")).send_json(body) {
                        Ok(r) if r.status() == 201 => {
                            let v: serde_json::Value = r.into_json().unwrap();
                            acked.lock().unwrap().insert(v["comment"]["id"].as_u64().unwrap());
                        }
                        // The killed server: its writers stop.
                        Err(ureq::Error::Transport(_)) => break,
                        Ok(r) => panic!("{}", r.status()),
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    servers[0].child.kill().unwrap(); // SIGKILL, mid-write
    servers[0].child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "the load ran: {}",
        acknowledged.len()
    );
    for base in &bases[1..] {
        within(BOUND, "every acknowledged comment", || {
            acknowledged.is_subset(&shown(base, "/load"))
        });
        assert_eq!(count(base, "/load"), shown(base, "/load").len() as u64);
    }
    eprintln!("kill test: {} acknowledged, none lost", acknowledged.len());
}

/// A TCP gate in front of PostgreSQL: open, it forwards; closed, it cuts every connection and
/// refuses new ones (what a server sees when its database stops).
struct Gate {
    port: u16,
    open: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Gate {
    fn new(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (gate_open, gate_streams) = (Arc::clone(&open), Arc::clone(&streams));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !gate_open.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut kept = gate_streams.lock().unwrap();
                kept.push(client.try_clone().unwrap());
                kept.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Self {
            port,
            open,
            streams,
        }
    }

    fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn reopen(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[test]
fn without_its_database_a_server_answers_503_quickly_serves_cached_pages_and_recovers() {
    let db = Database::new("outage");
    let upstream = {
        let base = std::env::var("TB_TEST_PG").unwrap();
        let rest = base.split_once("://").unwrap().1;
        let authority = rest.split_once('/').unwrap().0;
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, h)| h)
            .to_owned()
    };
    let gate = Gate::new(upstream);
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(&db.via(gate.port), dir.path(), 0);
    let first = post_to(&server.base, "/p", "ada", None).expect("posted");
    assert_eq!(
        shown(&server.base, "/p"),
        BTreeSet::from([first]),
        "read, so cached"
    );

    gate.close();
    let started = Instant::now();
    let reply = post(
        &server.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/p", "author": "bob", "body": "while the database is down"}),
    );
    let took = started.elapsed();
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.body["error"], "store_unavailable", "{reply:?}");
    assert!(reply.header("retry-after").is_some(), "{reply:?}");
    assert!(took < Duration::from_secs(5), "answered in {took:?}");
    eprintln!("outage: a write answered 503 after {took:?}");
    // The cached thread is still served; an uncached one is a 503, not a hang.
    assert_eq!(shown(&server.base, "/p"), BTreeSet::from([first]));
    let started = Instant::now();
    let uncached = get(&server.base, "/api/v1/threads?site=blog&page=/never-read");
    assert_eq!(uncached.status, 503, "{uncached:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let ready = get(&server.base, "/readyz");
    assert_eq!(ready.status, 503, "{ready:?}");

    gate.reopen();
    let second = within(Duration::from_secs(10), "writes resume", || {
        post_to(&server.base, "/p", "bob", Some(first)).is_some()
    });
    eprintln!("outage: writes resumed {second:?} after the database returned");
    assert_eq!(shown(&server.base, "/p").len(), 2);
    assert_eq!(count(&server.base, "/p"), 2);
    assert_eq!(get(&server.base, "/readyz").status, 200);
}

#[test]
fn sessions_bans_and_site_settings_hold_on_every_server() {
    let db = Database::new("shared_state");
    let url = db.url.clone();
    let a = TestServer::start_with(|c| c.database = url.clone().into());
    let b = TestServer::start_with(|c| c.database = url.into());
    with_accounts(&a);
    // Signed in on one server, signed in on all (no sticky sessions needed).
    let zoe_a = sign_in(&a.base, "zoe");
    let zoe_b = Browser {
        base: b.base.clone(),
        cookie: zoe_a.cookie.clone(),
        csrf: zoe_a.csrf.clone(),
    };
    assert_eq!(zoe_b.get("/admin/api/bans").status, 200);

    // A ban made on one server holds on the other at once.
    let ban = zoe_a.send(
        "POST",
        "/admin/api/bans",
        Some(json!({"by": "email", "value": "spam@example.com"})),
    );
    assert_eq!(ban.status, 201, "{ban:?}");
    let banned = post(
        &b.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/post", "author": "x", "email": "spam@example.com", "body": "hi"}),
    );
    assert_eq!(banned.body["comment"]["pending"], true, "{banned:?}");

    // The site made read-only on one server: the other's cached thread says so too.
    let read = |base: &str| get(base, "/api/v1/threads?site=blog&page=/post").body;
    assert!(read(&b.base).get("closed").is_none(), "cached open");
    let reply = zoe_a.send(
        "PUT",
        "/admin/api/sites/blog",
        Some(json!({"read_only": true})),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    let took = within(BOUND, "the other server closes the thread", || {
        read(&b.base)["closed"] == true
    });
    eprintln!("settings changed on one server showed on the other after {took:?}");
    let refused = post(
        &b.base,
        "/api/v1/comments",
        &json!({"site": "blog", "page": "/post", "author": "y", "body": "x"}),
    );
    assert_eq!(refused.body["error"], "comments_closed", "{refused:?}");
}

#[test]
fn a_client_spreading_writes_over_servers_gets_one_budget() {
    let db = Database::new("budget");
    let url = db.url.clone();
    let a = TestServer::start_with(|c| {
        c.database = url.clone().into();
        c.rate_limit_per_minute = 3;
    });
    let b = TestServer::start_with(|c| {
        c.database = url.into();
        c.rate_limit_per_minute = 3;
    });
    let mut statuses = Vec::new();
    for (n, base) in [&a.base, &b.base, &a.base, &b.base].into_iter().enumerate() {
        let reply = post(
            base,
            "/api/v1/comments",
            &json!({"site": "blog", "page": "/post", "author": "eve", "body": format!("try {n}")}),
        );
        statuses.push(reply.status);
        if reply.status == 429 {
            assert_eq!(reply.body["error"], "rate_limited", "{reply:?}");
            assert!(reply.header("retry-after").is_some());
        }
    }
    // Each server alone would have taken a fourth (two each, within its own budget of three).
    assert_eq!(statuses, [201, 201, 201, 429]);
}

#[test]
fn a_sled_database_moves_to_postgres_with_every_id_and_link_intact() {
    let db = Database::new("moving");
    let dir = tempfile::tempdir().unwrap();
    let sled_dir = dir.path().join("db");
    let sled = server_on(sled_dir.to_str().unwrap(), dir.path(), 0);
    let first = post_to(&sled.base, "/post", "ada", None).unwrap();
    let reply = post_to(&sled.base, "/post", "bob", Some(first)).unwrap();
    post_to(&sled.base, "/post", "cy", Some(reply)).unwrap();
    post_to(&sled.base, "/other", "dee", None).unwrap();
    let thread =
        |base: &str, page: &str| get(base, &format!("/api/v1/threads?site=blog&page={page}")).body;
    let before = [thread(&sled.base, "/post"), thread(&sled.base, "/other")];
    drop(sled); // stopped (killed: what it acknowledged is on disk)

    let config = dir.path().join("server0.toml");
    let migrate = |to: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_talkback"))
            .arg("--config")
            .arg(&config)
            .args(["migrate-store", "--from"])
            .arg(&sled_dir)
            .args(["--to", to])
            .env("TALKBACK_ASSETS_DIR", dir.path().join("none"))
            .output()
            .unwrap()
    };
    let moved = migrate(&db.url);
    let log = String::from_utf8_lossy(&moved.stderr).to_string();
    assert!(moved.status.success(), "{log}");
    assert!(log.contains("comments=4"), "{log}");

    let pg = server_on(&db.url, dir.path(), 1);
    // The same threads, ids and all (links to comments keep working).
    assert_eq!(
        [thread(&pg.base, "/post"), thread(&pg.base, "/other")],
        before
    );
    let next = post_to(&pg.base, "/post", "eve", Some(first)).unwrap();
    assert!(next > reply, "new ids follow the moved ones");
    assert_eq!(count(&pg.base, "/post"), 4);

    // Talkback's export from sled, imported into another PostgreSQL database, exports the
    // same bytes again.
    let cli = |database: &str, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_talkback"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("TALKBACK_DATABASE", database)
            .env("TALKBACK_ASSETS_DIR", dir.path().join("none"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let exported = cli(sled_dir.to_str().unwrap(), &["export", "--site", "blog"]);
    let file = dir.path().join("blog.json");
    std::fs::write(&file, &exported).unwrap();
    let other = Database::new("imported");
    cli(
        &other.url,
        &[
            "import",
            "--format",
            "talkback",
            file.to_str().unwrap(),
            "--site",
            "blog",
        ],
    );
    assert_eq!(
        String::from_utf8(cli(&other.url, &["export", "--site", "blog"])).unwrap(),
        String::from_utf8(exported).unwrap(),
        "export → import into PostgreSQL → export is byte-identical"
    );

    // Into a database that is no longer empty: refused, nothing changed.
    let again = migrate(&db.url);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds data"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(count(&pg.base, "/post"), 4);
}

#[test]
fn a_decision_the_spam_filter_cannot_learn_is_skipped_not_a_stop_for_every_later_one() {
    use talkback_store::Status;
    let db = Database::new("trainer");
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.database = db.url.clone().into();
    let service = open_service(&config);
    let store = open_store(&config);
    let learnt_from = |author: &str| {
        let (record, _) = store
            .insert_comment(written(
                "/lessons",
                author,
                &format!("zucchini{author} recipes"),
                Status::Pending,
            ))
            .unwrap();
        record.id
    };
    let (broken, fine) = (learnt_from("Ann"), learnt_from("Bea"));
    for id in [broken, fine] {
        store.set_status(id, Status::Approved).unwrap();
    }
    // The first decision's record no longer decodes (damaged, or written by a newer server).
    let mut sql = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    sql.execute(
        "UPDATE tb_comments SET record = '{\"junk\": true}' WHERE id = $1",
        &[&(broken as i64)],
    )
    .unwrap();
    let read = service.train_spam_filter(500).expect("training goes on");
    assert!(read >= 2, "{read}");
    assert_eq!(
        store.training_cursor().unwrap(),
        store.last_change().unwrap(),
        "the cursor moved past both decisions"
    );
    let counts = store.token_counts(&["zucchinibea".to_owned()]).unwrap();
    assert_eq!(
        counts.tokens,
        [(0, 1)],
        "the later decision was learned as ham"
    );
}

#[test]
fn an_unreadable_comment_holds_up_no_mail_or_webhook_after_it() {
    use std::net::TcpListener;
    use talkback_store::Status;
    let db = Database::new("unreadable");
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = crate::mail::sink(listener);
    let (hook, received) = crate::webhooks::receiver(0);
    let config_file = dir.path().join("talkback.toml");
    std::fs::write(
        &config_file,
        format!(
            "public_url = \"https://comments.blog.example\"\n\
             [mail]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nfrom = \"talkback@blog.example\"\n\
             [[sites]]\nid = \"blog\"\norigins = [\"https://blog.example\"]\n\
             owner_email = \"owner@blog.example\"\nnotify = \"each\"\n{SPAM_OFF_TOML}\
             [[sites.webhooks]]\nurl = \"{hook}\"\nsecret = \"0123456789abcdef\"\n"
        ),
    )
    .unwrap();
    let url = std::path::PathBuf::from(&db.url);
    // A first start places every consumer's cursor; then, with no server running, two
    // comments are written and the first one's record is damaged.
    drop(ServerProcess::spawn_with(&url, Some(&config_file)));
    let mut config = test_config(dir.path());
    config.database = url.clone();
    {
        let store = open_store(&config);
        for author in ["Ann", "Bea"] {
            store
                .insert_comment(written(
                    "/damaged",
                    author,
                    &format!("Written by {author}."),
                    Status::Approved,
                ))
                .unwrap();
        }
    }
    let mut sql = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    sql.execute(
        "UPDATE tb_comments SET record = '{\"junk\": true}' WHERE record->>'author' = 'Ann'",
        &[],
    )
    .unwrap();
    let _server = ServerProcess::spawn_with(&url, Some(&config_file));
    let mails = inbox.wait_for(1, Duration::from_secs(15));
    assert_eq!(mails.len(), 1, "the owner hears of Bea's comment");
    assert!(mails[0].contains("Written by Bea."), "{}", mails[0]);
    let events = crate::webhooks::wait_for(&received, 1, Duration::from_secs(15));
    assert_eq!(events.len(), 1, "the webhook hears of Bea's comment");
    assert!(
        events[0].body.contains("Written by Bea."),
        "{}",
        events[0].body
    );
}

#[test]
fn a_turn_longer_than_the_lease_keeps_renewing_it() {
    let db = Database::new("lease");
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.database = db.url.clone().into();
    let service = open_service(&config);
    let url = db.url.clone();
    // Off the async runtime's thread: the PostgreSQL client blocks.
    let until = move || -> i64 {
        let url = url.clone();
        std::thread::spawn(move || {
            postgres::Client::connect(&url, postgres::NoTls)
                .unwrap()
                .query_one("SELECT until FROM tb_leases WHERE name = 'long-turn'", &[])
                .unwrap()
                .get(0)
        })
        .join()
        .unwrap()
    };
    actix_web::rt::System::new().block_on(async move {
        let mut turns = service.turns("long-turn");
        assert!(turns.next().await, "the only server takes the lease");
        let claimed = until();
        let held = turns.hold();
        // A turn outlasting a third of the lease (a relay retried with back-off): renewed.
        actix_web::rt::time::sleep(talkback_server::service::LEASE / 3 + Duration::from_secs(1))
            .await;
        let renewed = until();
        assert!(
            renewed >= claimed + 9_000,
            "claimed until {claimed}, now until {renewed}"
        );
        drop(held);
    });
}

/// A comment on `blog` as the store takes it, written straight into a database.
fn written(
    page: &str,
    author: &str,
    text: &str,
    status: talkback_store::Status,
) -> talkback_store::NewComment {
    talkback_store::NewComment {
        site: "blog".into(),
        page_key: page.into(),
        page_title: None,
        page_url: None,
        parent: None,
        max_depth: 32,
        author: author.into(),
        email: None,
        website: None,
        body_source: text.into(),
        body_tree: "[{\"paragraph\":[{\"text\":\"x\"}]}]".into(),
        created: 1_700_000_000_000,
        status,
        edit_key_hash: None,
        edited: None,
        source: None,
        ip: None,
        held_for: Vec::new(),
        pinned: false,
        moderator_edit: false,
    }
}
