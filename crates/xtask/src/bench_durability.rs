//! `cargo xtask bench --durability`: what the real sync costs. The same release server twice,
//! one built with sled's own flush only (`bench-unsynced-flush`, the durability before power
//! cuts were tested; never a production build), one as shipped (blobs, `fdatasync` of the log,
//! directories), each on a fresh database, alternating A B A B, wrk posting comments at 32
//! connections. Prints requests/s, p50 and p99, and the ratio; asserts nothing.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::bench::{Figure, SPAM_OFF, lua_post, serve_binary_on, wrk};
use crate::{cargo, run};

pub(crate) fn bench_durability(root: &Path, seconds: u32) -> anyhow::Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        crate::apt_install(&["wrk"])?;
    }
    // The unsynced build first, copied aside, then the shipped one where every bench finds it.
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "talkback-server",
        "--bin",
        "talkback",
        "--features",
        "bench-unsynced-flush",
    ]))?;
    let unsynced = root.join("target/bench/talkback-unsynced-flush");
    std::fs::create_dir_all(root.join("target/bench"))?;
    std::fs::copy(root.join("target/release/talkback"), &unsynced)?;
    crate::bench::build_release_server()?;
    let synced = root.join("target/release/talkback");
    let dir = tempfile::tempdir_in(root.join("target/bench"))?;
    eprintln!(
        "durable comment creation, wrk -t2 -c32 -d{seconds}s, a fresh sled database each run, \
         on {}:",
        dir.path().display()
    );
    let mut figures: Vec<(&str, Figure)> = Vec::new();
    for round in 0..2 {
        for (label, binary) in [
            ("sled flush only (before)", &unsynced),
            ("fsync'd (now)", &synced),
        ] {
            let run_dir = dir.path().join(format!("{round}-{}", figures.len()));
            std::fs::create_dir_all(&run_dir)?;
            let f = creation(binary, &run_dir, seconds)?;
            eprintln!(
                "  {label:<26} {:>9.1} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
                f.rps, f.p50_ms, f.p99_ms, f.errors
            );
            figures.push((label, f));
        }
    }
    let mean = |which: usize| {
        let picked: Vec<&Figure> = figures
            .iter()
            .skip(which)
            .step_by(2)
            .map(|(_, f)| f)
            .collect();
        let n = picked.len() as f64;
        (
            picked.iter().map(|f| f.rps).sum::<f64>() / n,
            picked.iter().map(|f| f.p99_ms).sum::<f64>() / n,
        )
    };
    let (before_rps, before_p99) = mean(0);
    let (after_rps, after_p99) = mean(1);
    eprintln!(
        "fsync'd at {:.2}x the unsynced throughput ({after_rps:.0} vs {before_rps:.0} req/s), \
         p99 {after_p99:.2} vs {before_p99:.2} ms ({:.2}x)",
        after_rps / before_rps.max(1.0),
        after_p99 / before_p99.max(0.001)
    );
    Ok(())
}

/// One server from `binary` on a new database in `dir`, under wrk's posts.
fn creation(binary: &Path, dir: &Path, seconds: u32) -> anyhow::Result<Figure> {
    let (_server, base) = serve_binary_on(
        binary,
        &dir.join("talkback.toml"),
        &dir.join("db").display().to_string(),
        &format!(
            "examples_dir = \"\"\nrate_limit_per_minute = 0\nread_rate_limit_per_minute = 0\n\
             [[sites]]\nid = \"demo\"\n{SPAM_OFF}"
        ),
    )?;
    let body =
        json!({"site": "demo", "page": "/writes", "author": "wrk", "body": "a benchmark comment"});
    let script = lua_post(dir, "create", &body.to_string())?;
    wrk(
        &format!("{base}/api/v1/comments"),
        Some(&script),
        32,
        seconds,
    )
}
