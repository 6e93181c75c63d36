//! `cargo xtask bench --postgres`: Talkback on PostgreSQL beside sled, on this machine. The
//! database shares the two cores with the servers and the load generator, so the figures are
//! what one small machine does, not what a database host would.
//!
//! 1. The API's scenarios on sled (one server), and on PostgreSQL with one server and with
//!    three (wrk against each of the three at once, requests added up): req/s and p99.
//! 2. A scale run on both backends: `scale` comments (default 1,000,000, 100 per page, so
//!    10,000 pages) imported from WordPress exports: import time, size on disk, the server's
//!    RSS, and the first-page p99 of random threads read with the thread cache off, beside
//!    the same on a 1,000-comment store.
//!
//! Prints figures; asserts nothing; leaves nothing running (the cluster stops with it).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::json;

use crate::bench::{
    Figure, Proc, SPAM_OFF, agent, build_release_server, lua_post, rss_kib, rss_sampler,
    serve_release_on, synthetic_wxr, wrk,
};

/// Where a server keeps its records.
#[derive(Clone)]
enum Backend {
    Sled(std::path::PathBuf),
    Postgres(String),
}

impl Backend {
    fn database(&self) -> String {
        match self {
            Backend::Sled(dir) => dir.display().to_string(),
            Backend::Postgres(url) => url.clone(),
        }
    }

    /// Bytes on disk.
    fn size(&self) -> anyhow::Result<u64> {
        match self {
            Backend::Sled(dir) => {
                let out = Command::new("du").arg("-sb").arg(dir).output()?;
                Ok(String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0))
            }
            Backend::Postgres(url) => Ok(psql(url, "SELECT pg_database_size(current_database())")?
                .trim()
                .parse()
                .unwrap_or(0)),
        }
    }
}

fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .context("psql")?;
    if !out.status.success() {
        bail!("psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A fresh database on the cluster.
fn database(cluster: &str, name: &str) -> anyhow::Result<Backend> {
    psql(
        cluster,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )?;
    psql(cluster, &format!("CREATE DATABASE {name}"))?;
    let (server, _) = cluster.rsplit_once('/').context("a database URL")?;
    Ok(Backend::Postgres(format!("{server}/{name}")))
}

/// What every server here is told besides `bind` and `database`.
fn settings(extra: &str) -> String {
    format!(
        "examples_dir = \"\"\nrate_limit_per_minute = 0\nread_rate_limit_per_minute = 0\n{extra}\n\
         [[sites]]\nid = \"demo\"\norigins = [\"https://blog.example\"]\n{SPAM_OFF}"
    )
}

/// The configuration of an offline command (an import) on `backend`.
fn config(dir: &Path, name: &str, backend: &Backend) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!("database = {:?}\n{}", backend.database(), settings("")),
    )?;
    Ok(path)
}

/// The release server on `backend`; returns it once it answers.
fn serve(
    root: &Path,
    dir: &Path,
    name: &str,
    backend: &Backend,
    extra: &str,
) -> anyhow::Result<(Proc, String)> {
    serve_release_on(
        root,
        &dir.join(format!("{name}.toml")),
        &backend.database(),
        &settings(extra),
    )
}

pub(crate) fn bench_postgres(root: &Path, seconds: u32, scale: u64) -> anyhow::Result<()> {
    build_release_server()?;
    let cluster = crate::pg::Cluster::start(root)?;
    let dir = tempfile::tempdir()?;
    throughput(root, dir.path(), &cluster.url, seconds)?;
    let stores = [
        (
            "sled",
            Backend::Sled(dir.path().join("scale-sled")),
            Backend::Sled(dir.path().join("small-sled")),
        ),
        (
            "PostgreSQL",
            database(&cluster.url, "tb_scale")?,
            database(&cluster.url, "tb_small")?,
        ),
    ];
    scale_run(root, dir.path(), &stores, scale, seconds)?;
    Ok(())
}

/// One scenario's figures with `servers` servers: wrk against each at once (32 connections
/// in all), requests per second added up, the worst p99.
fn load(
    bases: &[String],
    path: &str,
    script: Option<&Path>,
    seconds: u32,
) -> anyhow::Result<Figure> {
    let connections = (32 / bases.len() as u32).max(1);
    let runs: Vec<_> = bases
        .iter()
        .map(|base| {
            let (url, script) = (format!("{base}{path}"), script.map(Path::to_path_buf));
            std::thread::spawn(move || wrk(&url, script.as_deref(), connections, seconds))
        })
        .collect();
    let mut total = Figure::default();
    for run in runs {
        let f = run.join().map_err(|_| anyhow::anyhow!("wrk thread"))??;
        total.rps += f.rps;
        total.p50_ms = total.p50_ms.max(f.p50_ms);
        total.p99_ms = total.p99_ms.max(f.p99_ms);
        total.errors += f.errors;
    }
    Ok(total)
}

fn throughput(root: &Path, dir: &Path, cluster: &str, seconds: u32) -> anyhow::Result<()> {
    let setups = [
        ("sled, 1 server", Backend::Sled(dir.join("sled-db")), 1),
        (
            "PostgreSQL, 1 server",
            database(cluster, "tb_bench_one")?,
            1,
        ),
        (
            "PostgreSQL, 3 servers",
            database(cluster, "tb_bench_three")?,
            3,
        ),
    ];
    let pages: Vec<String> = (0..20).map(|p| format!("/p{p}")).collect();
    let counts = lua_post(
        dir,
        "counts",
        &json!({"site": "demo", "pages": pages}).to_string(),
    )?;
    let create = lua_post(
        dir,
        "create",
        &json!({"site": "demo", "page": "/writes", "author": "wrk", "body": "a benchmark comment"})
            .to_string(),
    )?;
    let scenarios: [(&str, &str, Option<&Path>); 3] = [
        (
            "200-comment thread, first page",
            "/api/v1/threads?site=demo&page=/t200",
            None,
        ),
        ("counts for 20 pages", "/api/v1/counts", Some(&counts)),
        (
            "durable comment creation",
            "/api/v1/comments",
            Some(&create),
        ),
    ];
    let mut table: Vec<Vec<Figure>> = vec![Vec::new(); scenarios.len()];
    for (label, backend, servers) in &setups {
        let running: Vec<(Proc, String)> = (0..*servers)
            .map(|n| serve(root, dir, &format!("tp-{n}"), backend, ""))
            .collect::<anyhow::Result<_>>()?;
        let bases: Vec<String> = running.iter().map(|(_, b)| b.clone()).collect();
        let seeding = Instant::now();
        let agent = agent();
        for i in 0..200 {
            agent.post(&format!("{}/api/v1/comments", bases[i % bases.len()])).send_json(
                json!({"site": "demo", "page": "/t200", "author": format!("r{i}"), "body": format!("comment {i} of two hundred")}),
            )?;
        }
        for page in &pages {
            agent
                .post(&format!("{}/api/v1/comments", bases[0]))
                .send_json(json!({"site": "demo", "page": page, "author": "r", "body": "one"}))?;
        }
        eprintln!(
            "{label}: seeded 220 comments through the API in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        for (n, (name, path, script)) in scenarios.iter().enumerate() {
            let f = load(&bases, path, *script, seconds)?;
            eprintln!(
                "  {name:<34} {:>10.1} req/s  p50 {:>8.2} ms  p99 {:>8.2} ms  errors {}",
                f.rps, f.p50_ms, f.p99_ms, f.errors
            );
            table[n].push(f);
        }
        let rss: Vec<u64> = running
            .iter()
            .map(|(p, _)| rss_kib(p.0.id()) / 1024)
            .collect();
        eprintln!("  server RSS after the load: {rss:?} MiB");
    }
    eprintln!("\nside by side (req/s, p99 ms; ratio to sled):");
    for ((name, _, _), figures) in scenarios.iter().zip(&table) {
        let sled = figures[0].rps.max(1.0);
        let cells: Vec<String> = figures
            .iter()
            .map(|f| format!("{:>9.0} {:>7.2} ms ({:.2}x)", f.rps, f.p99_ms, f.rps / sled))
            .collect();
        eprintln!("  {name:<32} {}", cells.join(" | "));
    }
    eprintln!(
        "  (columns: {})",
        setups.iter().map(|s| s.0).collect::<Vec<_>>().join(" | ")
    );
    Ok(())
}

/// Posts per WordPress file: 100 comments each, so 100,000 comments a file.
const POSTS_PER_FILE: u64 = 1_000;

/// `cargo xtask bench --scale N [--keep DIR]`: the scale run alone, on sled only. With `keep`,
/// the stores stay in `DIR` and a later run reads them again instead of importing anew (the
/// import figures are then those of the run that made them).
pub(crate) fn bench_scale(
    root: &Path,
    seconds: u32,
    scale: u64,
    keep: Option<&Path>,
) -> anyhow::Result<()> {
    build_release_server()?;
    let temporary = tempfile::tempdir()?;
    let dir = match keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir
        }
        None => temporary.path(),
    };
    let stores = [(
        "sled",
        Backend::Sled(dir.join(format!("scale-sled-{scale}"))),
        Backend::Sled(dir.join("small-sled")),
    )];
    scale_run(root, dir, &stores, scale, seconds)
}

/// The scale run's stores: a label, the big store, the 1,000-comment one.
type ScaleStores = [(&'static str, Backend, Backend)];

fn scale_run(
    root: &Path,
    dir: &Path,
    stores: &ScaleStores,
    scale: u64,
    seconds: u32,
) -> anyhow::Result<()> {
    let posts = (scale / 100).max(10);
    let small = dir.join("wxr-small.xml");
    let mut files = Vec::new();
    let imported = |store: &Backend| match store {
        Backend::Sled(path) => path.join("imported").exists(),
        Backend::Postgres(_) => false,
    };
    if stores.iter().any(|(_, big, _)| !imported(big)) {
        let started = Instant::now();
        let mut first = 0;
        while first < posts {
            let n = POSTS_PER_FILE.min(posts - first);
            let path = dir.join(format!("wxr-{first}.xml"));
            synthetic_wxr(&path, first, n, false)?;
            files.push(path);
            first += n;
        }
        synthetic_wxr(&small, 0, 10, false)?;
        eprintln!(
            "\nscale run: {} comments over {posts} pages in {} WordPress files (written in {:.1} s)",
            posts * 100,
            files.len(),
            started.elapsed().as_secs_f64()
        );
    }
    for (label, big, little) in stores {
        if imported(big) {
            eprintln!(
                "{label}: {} comments imported earlier, {:.1} MiB on disk",
                posts * 100,
                big.size()? as f64 / 1048576.0
            );
        } else {
            let importing = config(dir, &format!("import-{label}"), big)?;
            let started = Instant::now();
            for file in &files {
                import(root, &importing, file)?;
            }
            let took = started.elapsed();
            eprintln!(
                "{label}: imported {} comments in {:.1} s ({:.0} comments/s), {:.1} MiB on disk",
                posts * 100,
                took.as_secs_f64(),
                (posts * 100) as f64 / took.as_secs_f64(),
                big.size()? as f64 / 1048576.0
            );
            import(
                root,
                &config(dir, &format!("small-{label}"), little)?,
                &small,
            )?;
            if let Backend::Sled(path) = big {
                std::fs::write(path.join("imported"), b"")?;
            }
        }
        let mut p99 = Vec::new();
        for (store, pages) in [(big, posts), (little, 10)] {
            // The thread cache off: every read goes to the store.
            let extra = format!(
                "thread_cache_mb = 0\n{}",
                std::env::var("TB_BENCH_SETTINGS").unwrap_or_default()
            );
            let (proc, base) = serve(root, dir, &format!("read-{label}"), store, &extra)?;
            let script = dir.join("random.lua");
            std::fs::write(
                &script,
                format!(
                    "math.randomseed(7)\nrequest = function()\n  return wrk.format(\"GET\", \"/api/v1/threads?site=demo&page=/\" .. math.random(0, {}) .. \"/\")\nend\n",
                    pages - 1
                ),
            )?;
            let idle = rss_kib(proc.0.id());
            let (stop, sampler) = rss_sampler(proc.0.id());
            let f = wrk(&format!("{base}/"), Some(&script), 32, seconds)?;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let peak = sampler.join().unwrap_or(0);
            eprintln!(
                "  {label}, {} comments: random thread's first page {:>8.1} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}, server RSS {} MiB after start, peak {} MiB",
                pages * 100,
                f.rps,
                f.p50_ms,
                f.p99_ms,
                f.errors,
                idle / 1024,
                peak / 1024
            );
            p99.push(f.p99_ms);
        }
        eprintln!(
            "  {label}: p99 at {} comments is {:.2}x the p99 at 1,000 (target within 1.5x)",
            posts * 100,
            p99[0] / p99[1].max(0.001)
        );
    }
    Ok(())
}

fn import(root: &Path, config: &Path, file: &Path) -> anyhow::Result<()> {
    let output = Command::new(root.join("target/release/talkback"))
        .arg("--config")
        .arg(config)
        .args(["import", "--format", "wordpress"])
        .arg(file)
        .args(["--site", "demo"])
        .env("RUST_LOG", "warn")
        .output()?;
    if !output.status.success() {
        bail!("import failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}
