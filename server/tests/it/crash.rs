//! Durability: SIGKILL the real server during a concurrent write load, restart it, and check
//! that every comment it acknowledged with 201 is there.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::support::*;

/// Every top-level comment id on `site`'s page /load.
pub fn all_ids(base: &str, site: &str) -> BTreeSet<u64> {
    let mut ids = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let page = get(
            base,
            &format!("/api/v1/threads?site={site}&page=/load&limit=100&cursor={cursor}"),
        );
        assert_eq!(page.status, 200, "{page:?}");
        for c in page.body["comments"].as_array().unwrap() {
            ids.insert(c["id"].as_u64().unwrap());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return ids,
        }
    }
}

#[test]
fn acknowledged_comments_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("db");
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let mut attempted = 0usize;
    for round in 0..3 {
        let server = ServerProcess::spawn(&database);
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..16)
            .map(|w| {
                let (base, stop, acked) = (server.base.clone(), Arc::clone(&stop), Arc::clone(&acknowledged));
                std::thread::spawn(move || {
                    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(5)).build();
                    let mut tries = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        tries += 1;
                        let body = json!({"site": "demo", "page": "/load", "author": format!("w{w}"), "body": format!("round {round} try {tries}")});
                        match agent.post(&format!("{base}/api/v1/comments")).send_json(body) {
                            Ok(r) if r.status() == 201 => {
                                let v: serde_json::Value = r.into_json().unwrap();
                                acked.lock().unwrap().insert(v["comment"]["id"].as_u64().unwrap());
                            }
                            _ => break,
                        }
                    }
                    tries
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        let mut server = server;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        attempted += writers
            .into_iter()
            .map(|w| w.join().unwrap())
            .sum::<usize>();
    }
    let server = ServerProcess::spawn(&database);
    let stored = all_ids(&server.base, "demo");
    let acknowledged = acknowledged.lock().unwrap();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    eprintln!(
        "crash test: {attempted} attempted, {} acknowledged, {} stored, {} lost",
        acknowledged.len(),
        stored.len(),
        lost.len()
    );
    assert!(acknowledged.len() > 100, "the load actually ran");
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let counts = post(
        &server.base,
        "/api/v1/counts",
        &json!({"site": "demo", "pages": ["/load"]}),
    );
    assert_eq!(
        counts.body["counts"]["/load"].as_u64().unwrap() as usize,
        stored.len(),
        "counts match the stored comments"
    );
}
