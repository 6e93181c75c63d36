//! A full disk under sled: the database on a small tmpfs of its own, filled by another file.
//! Writes are refused with 503 `store_unavailable` before anything is written (sled poisons
//! itself for good after a failed write), reads go on, `/readyz` says so, and once space is
//! freed writes are accepted again without a restart. Needs root (to mount the tmpfs), so it
//! runs with the power-cut tests (`TB_POWERCUT`).

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::support::*;

/// A tmpfs of `mib` MiB at `dir`, unmounted when dropped.
struct SmallDisk<'a>(&'a Path);

impl<'a> SmallDisk<'a> {
    fn mount(dir: &'a Path, mib: u64) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(mounted.success(), "mounting a tmpfs needs root");
        Self(dir)
    }
}

impl Drop for SmallDisk<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}

fn fill(path: &Path, mib: usize) {
    std::fs::write(path, vec![7u8; mib * 1024 * 1024]).unwrap();
}

fn comment_on(base: &str, author: &str) -> Reply {
    post(
        base,
        "/api/v1/comments",
        &json!({"site": "demo", "page": "/full", "author": author, "body": "hello"}),
    )
}

#[test]
fn a_full_disk_refuses_writes_without_damage_and_recovers_without_a_restart() {
    if !crate::powercut::prepared("a full disk") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk_dir = dir.path().join("disk");
    let disk = SmallDisk::mount(&disk_dir, 96);
    let config = dir.path().join("demo.toml");
    std::fs::write(
        &config,
        format!("[[sites]]\nid = \"demo\"\norigins = [\"https://blog.example\"]\n{SPAM_OFF_TOML}"),
    )
    .unwrap();
    let server = ServerProcess::spawn_with(&disk.0.join("db"), Some(&config));
    let first = comment_on(&server.base, "ann");
    assert_eq!(first.status, 201, "{first:?}");

    // Something else fills the disk past the reserve kept for the database.
    let filler = disk.0.join("filler");
    fill(&filler, 48);
    let refused = comment_on(&server.base, "bob");
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.body["error"], "store_unavailable");
    assert!(refused.header("retry-after").is_some());
    let thread = get(&server.base, "/api/v1/threads?site=demo&page=/full");
    assert_eq!(thread.status, 200, "reads go on: {thread:?}");
    assert_eq!(thread.body["comments"].as_array().unwrap().len(), 1);
    let ready = get(&server.base, "/readyz");
    assert_eq!(ready.status, 503, "{ready:?}");
    assert!(ready.body["disk"]["full_since"].is_i64(), "{ready:?}");
    assert!(ready.body["disk"]["refused_writes"].as_u64().unwrap() >= 1);
    assert!(
        ready.body["message"].as_str().unwrap().contains("full"),
        "{ready:?}"
    );

    std::fs::remove_file(&filler).unwrap();
    let again = comment_on(&server.base, "bob");
    assert_eq!(
        again.status, 201,
        "writes resume once there is room: {again:?}"
    );
    let ready = get(&server.base, "/readyz");
    assert_eq!(ready.status, 200, "{ready:?}");
    assert!(
        ready.body["disk"]["last_full"].is_array(),
        "readyz tells what happened meanwhile: {ready:?}"
    );
    let thread = get(&server.base, "/api/v1/threads?site=demo&page=/full");
    let authors: Vec<_> = thread.body["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["author"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        authors,
        ["ann", "bob"],
        "the refused write left nothing behind"
    );

    // And the database reopens with both, nothing half-written.
    drop(server);
    let server = ServerProcess::spawn_with(&disk.0.join("db"), Some(&config));
    let thread = get(&server.base, "/api/v1/threads?site=demo&page=/full");
    assert_eq!(thread.body["comments"].as_array().unwrap().len(), 2);
    assert_eq!(thread.body["total"], 2, "{thread:?}");
}

#[test]
fn a_full_disk_under_postgres_refuses_writes_and_recovers_without_a_restart() {
    if !crate::powercut::prepared("a full disk under PostgreSQL") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let opened = Command::new("chmod")
        .arg("755")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(opened.success());
    let disk_dir = dir.path().join("disk");
    let disk = SmallDisk::mount(&disk_dir, 96);
    let cluster = crate::powercut::Cluster::create_in(dir.path(), disk.0);
    cluster.start("");
    cluster.create_database();
    let config = dir.path().join("blog.toml");
    std::fs::write(
        &config,
        format!("[[sites]]\nid = \"blog\"\norigins = [\"https://blog.example\"]\n{SPAM_OFF_TOML}"),
    )
    .unwrap();
    let server = ServerProcess::spawn_with(Path::new(&cluster.url()), Some(&config));
    let on = |author: &str| {
        post(
            &server.base,
            "/api/v1/comments",
            &json!({"site": "blog", "page": "/full", "author": author,
                "body": "x".repeat(8000)}),
        )
    };
    assert_eq!(on("ann").status, 201);

    // Fill the disk to the last few KiB (the filler takes what it can).
    let filler = disk.0.join("filler");
    let _ = std::fs::write(&filler, vec![7u8; 200 * 1024 * 1024]);
    let mut accepted = 1;
    let refused = loop {
        let reply = on(&format!("w{accepted}"));
        match reply.status {
            201 => accepted += 1,
            _ => break reply,
        }
        assert!(accepted < 2000, "PostgreSQL never ran out of space");
    };
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.body["error"], "store_unavailable");
    let thread = get(
        &server.base,
        "/api/v1/threads?site=blog&page=/full&limit=100",
    );
    let log = std::fs::read_to_string(dir.path().join("sockets/pg.log")).unwrap_or_default();
    assert_eq!(thread.status, 200, "reads go on: {thread:?}\n{log}");
    assert_eq!(thread.body["total"], accepted, "nothing half-written");
    let ready = get(&server.base, "/readyz");
    assert_eq!(ready.status, 503, "{ready:?}");
    assert!(ready.body["disk"]["refused_writes"].as_u64().unwrap() >= 1);

    std::fs::remove_file(&filler).unwrap();
    let again = (0..100)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            on("bob")
        })
        .find(|r| r.status == 201);
    assert!(again.is_some(), "writes resume once there is room");
    let thread = get(
        &server.base,
        "/api/v1/threads?site=blog&page=/full&limit=100",
    );
    assert_eq!(thread.body["total"], accepted + 1);
    let ready = get(&server.base, "/readyz");
    assert_eq!(ready.status, 200, "{ready:?}");
    assert!(ready.body["disk"]["last_full"].is_array(), "{ready:?}");
    drop(server);
    cluster.stop();
}
