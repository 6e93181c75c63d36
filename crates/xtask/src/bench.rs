//! `cargo xtask bench`: the release server against Isso 0.14 on the same data, driven by wrk
//! on loopback. It prints figures and ratios; it asserts nothing about speed.
//!
//! Both servers are seeded through their public APIs (Isso's 10,000-comment thread goes
//! straight into its SQLite file: at Isso's ~50 writes/s the API would take minutes).

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::run;

/// The demo site's anti-spam layers off, for benchmarks of something else that seed and load
/// the server through its API as a script would (`cargo xtask bench --spam` keeps them on).
pub(crate) const SPAM_OFF: &str = "spam = { proof_of_work = false, min_fill_secs = 0, \
    page_burst_per_minute = 0, duplicate_minutes = 0, filter_threshold_percent = 0, max_links = 1000 }\n";

/// One load scenario's result.
#[derive(Clone, Debug, Default)]
pub(crate) struct Figure {
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) errors: u64,
}

/// A server process that is killed when dropped, so nothing is left running.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// How long a server sits without requests before its idle RSS is read (both sides alike):
/// long enough for a server to settle after the seeding burst.
const IDLE_SETTLE: Duration = Duration::from_secs(3);

pub(crate) fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// Polls until `url` answers 200; returns the time since `since`.
pub(crate) fn wait_ready(url: &str, since: Instant, limit: Duration) -> anyhow::Result<Duration> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_millis(500))
        .build();
    while since.elapsed() < limit {
        if agent.get(url).call().is_ok_and(|r| r.status() == 200) {
            return Ok(since.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    bail!("{url} not ready after {limit:?}")
}

/// The data both servers get: (page, author, body, parent index within the page's list).
struct Seed {
    page: String,
    comments: Vec<(String, Option<usize>)>,
}

fn seed_plan() -> Vec<Seed> {
    let mut plan = Vec::new();
    // 200 comments: 120 top-level, 80 replies spread over them, some two deep.
    let mut t200 = Vec::new();
    for i in 0..200usize {
        let parent = if i >= 120 {
            Some(if i % 3 == 0 && i > 125 {
                i - 5
            } else {
                (i * 7) % 120
            })
        } else {
            None
        };
        t200.push((format!("Comment {i}: a realistic paragraph of **Markdown** with a [link](https://example.org/{i}) and some more words to read."), parent));
    }
    plan.push(Seed {
        page: "/t200".into(),
        comments: t200,
    });
    plan.push(Seed {
        page: "/t5".into(),
        comments: (0..5)
            .map(|i| (format!("small thread comment {i}"), None))
            .collect(),
    });
    for p in 0..20 {
        plan.push(Seed {
            page: format!("/p{p}"),
            comments: (0..2)
                .map(|i| (format!("page {p} comment {i}"), None))
                .collect(),
        });
    }
    plan
}

const BIG_PAGE: &str = "/t10k";
const BIG_COUNT: usize = 10_000;

/// Posts to Talkback with `threads` concurrent writers.
fn seed_talkback(base: &str) -> anyhow::Result<()> {
    for seed in seed_plan() {
        let mut ids: Vec<u64> = Vec::new();
        for (body, parent) in &seed.comments {
            let parent = parent.map(|p| ids[p]);
            let v: Value = agent()
                .post(&format!("{base}/api/v1/comments"))
                .send_json(json!({"site": "demo", "page": seed.page, "author": "Seeder", "body": body, "parent": parent}))?
                .into_json()?;
            ids.push(v["comment"]["id"].as_u64().context("id")?);
        }
    }
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (base, next) = (base.to_owned(), Arc::clone(&next));
            std::thread::spawn(move || -> anyhow::Result<()> {
                let agent = agent();
                while next.fetch_add(1, Ordering::Relaxed) < BIG_COUNT as u64 {
                    agent.post(&format!("{base}/api/v1/comments")).send_json(
                        json!({"site": "demo", "page": BIG_PAGE, "author": "Seeder", "body": "one of ten thousand"}),
                    )?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| anyhow::anyhow!("seeder panicked"))??;
    }
    Ok(())
}

/// The cursor of the last page (20 comments) of the big thread, oldest first.
fn talkback_last_cursor(base: &str) -> anyhow::Result<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let v: Value = agent()
            .get(&format!(
                "{base}/api/v1/threads?site=demo&page={BIG_PAGE}&limit=100&cursor={cursor}"
            ))
            .call()?
            .into_json()?;
        ids.extend(
            v["comments"]
                .as_array()
                .context("comments")?
                .iter()
                .filter_map(|c| c["id"].as_u64()),
        );
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    Ok(ids[ids.len() - 21].to_string())
}

/// Runs wrk and parses requests/s and latency percentiles.
pub(crate) fn wrk(
    url: &str,
    script: Option<&Path>,
    connections: u32,
    seconds: u32,
) -> anyhow::Result<Figure> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        "--timeout",
        "5s",
    ]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd.arg(url).output().context("wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = Figure::default();
    let ms = |v: &str| -> f64 {
        let (num, unit): (String, String) =
            v.chars().partition(|c| c.is_ascii_digit() || *c == '.');
        let n: f64 = num.parse().unwrap_or(f64::NAN);
        match unit.as_str() {
            "us" => n / 1000.0,
            "s" => n * 1000.0,
            "m" => n * 60_000.0,
            _ => n,
        }
    };
    for line in text.lines().map(str::trim) {
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("Requests/sec:") => {
                f.rps = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0)
            }
            Some("50%") => f.p50_ms = ms(parts.next().unwrap_or_default()),
            Some("99%") => f.p99_ms = ms(parts.next().unwrap_or_default()),
            Some("Non-2xx") => f.errors += parts.last().and_then(|v| v.parse().ok()).unwrap_or(0),
            Some("Socket") => {
                f.errors += line
                    .split([',', ' '])
                    .filter_map(|w| w.parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    Ok(f)
}

pub(crate) fn lua_post(dir: &Path, name: &str, body: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{name}.lua"));
    let mut f = std::fs::File::create(&path)?;
    writeln!(f, "wrk.method = \"POST\"")?;
    writeln!(f, "wrk.headers[\"Content-Type\"] = \"application/json\"")?;
    writeln!(f, "wrk.body = {}", serde_json::to_string(body)?)?;
    Ok(path)
}

/// Samples a process's RSS until stopped; returns the peak.
pub(crate) fn rss_sampler(pid: u32) -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        let mut peak = 0;
        while !flag.load(Ordering::Relaxed) {
            peak = peak.max(rss_kib(pid));
            std::thread::sleep(Duration::from_millis(50));
        }
        peak
    });
    (stop, handle)
}

struct Scenario {
    name: &'static str,
    url: String,
    script: Option<PathBuf>,
}

struct Side {
    base: String,
    _proc: Proc,
    figures: Vec<Figure>,
    idle_rss_kib: u64,
    /// After a restart on the seeded database and one read of each page.
    idle_restarted_rss_kib: Option<u64>,
    load_rss_kib: u64,
    cold_start: Duration,
}

fn measure(pid: u32, scenarios: &[Scenario], seconds: u32) -> anyhow::Result<(Vec<Figure>, u64)> {
    let (stop, sampler) = rss_sampler(pid);
    let mut figures = Vec::new();
    for s in scenarios {
        let f = wrk(&s.url, s.script.as_deref(), 32, seconds)?;
        eprintln!(
            "  {:<34} {:>10.1} req/s  p50 {:>8.2} ms  p99 {:>8.2} ms  errors {}",
            s.name, f.rps, f.p50_ms, f.p99_ms, f.errors
        );
        figures.push(f);
    }
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(0);
    Ok((figures, peak))
}

fn talkback_side(root: &Path, dir: &Path, seconds: u32, blog: &str) -> anyhow::Result<Side> {
    let port = free_port()?;
    let config = dir.join("talkback.toml");
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:{port}\"\ndatabase = {:?}\nexamples_dir = \"\"\nrate_limit_per_minute = 0\nread_rate_limit_per_minute = 0\nassets_dir = {:?}\n[[sites]]\nid = \"demo\"\norigins = [\"{blog}\"]\n{SPAM_OFF}",
            dir.join("db"),
            root.join(crate::widget::OUT_DIR)
        ),
    )?;
    let base = format!("http://127.0.0.1:{port}");
    let spawn = || -> anyhow::Result<(Proc, Duration)> {
        let started = Instant::now();
        let child = Command::new(root.join("target/release/talkback"))
            .args(["--config"])
            .arg(&config)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let proc = Proc(child);
        let ready = wait_ready(
            &format!("{base}/api/v1/threads?site=demo&page=/x"),
            started,
            Duration::from_secs(10),
        )?;
        Ok((proc, ready))
    };
    let (proc, cold_start) = spawn()?;
    std::thread::sleep(Duration::from_millis(300));
    let idle_empty = rss_kib(proc.0.id());
    eprintln!(
        "talkback: cold start to first 200 {:.1} ms, idle RSS {} KiB (empty)",
        cold_start.as_secs_f64() * 1e3,
        idle_empty
    );
    let t = Instant::now();
    seed_talkback(&base)?;
    eprintln!(
        "talkback: seeded {} comments through the API in {:.1} s",
        200 + 5 + 40 + BIG_COUNT,
        t.elapsed().as_secs_f64()
    );
    let last = talkback_last_cursor(&base)?;
    let pages: Vec<String> = (0..20).map(|p| format!("/p{p}")).collect();
    let scenarios = vec![
        Scenario { name: "200-comment thread, first page", url: format!("{base}/api/v1/threads?site=demo&page=/t200"), script: None },
        Scenario { name: "5-comment thread", url: format!("{base}/api/v1/threads?site=demo&page=/t5"), script: None },
        Scenario {
            name: "counts for 20 pages",
            url: format!("{base}/api/v1/counts"),
            script: Some(lua_post(dir, "counts", &json!({"site": "demo", "pages": pages}).to_string())?),
        },
        Scenario { name: "10k thread, first page", url: format!("{base}/api/v1/threads?site=demo&page={BIG_PAGE}"), script: None },
        Scenario { name: "10k thread, last page", url: format!("{base}/api/v1/threads?site=demo&page={BIG_PAGE}&cursor={last}"), script: None },
        Scenario {
            name: "durable comment creation (32 conn)",
            url: format!("{base}/api/v1/comments"),
            script: Some(lua_post(dir, "create", &json!({"site": "demo", "page": "/writes", "author": "wrk", "body": "a benchmark comment"}).to_string())?),
        },
        // The ceiling for any answer from memory: the loader script, a static file.
        Scenario { name: "static file (embed.js)", url: format!("{base}/embed.js"), script: None },
    ];
    std::thread::sleep(IDLE_SETTLE);
    let idle_rss_kib = rss_kib(proc.0.id());
    // The usual state of a blog's server: started on an existing database, serving reads.
    // (Right after the seeding burst sled still holds the pages it wrote.) The load runs
    // against this restarted server, which also shows every seeded comment survived.
    drop(proc);
    let (proc, _) = spawn()?;
    for s in scenarios.iter().filter(|s| s.script.is_none()) {
        agent().get(&s.url).call()?;
    }
    std::thread::sleep(IDLE_SETTLE);
    let idle_restarted_rss_kib = Some(rss_kib(proc.0.id()));
    let (figures, load_rss_kib) = measure(proc.0.id(), &scenarios, seconds)?;
    Ok(Side {
        base,
        _proc: proc,
        figures,
        idle_rss_kib,
        idle_restarted_rss_kib,
        load_rss_kib,
        cold_start,
    })
}

/// Isso 0.14 from PyPI in a cached virtualenv.
fn isso_venv(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target/bench/isso-venv");
    if !venv.join("bin/isso").exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin/pip")).args(["install", "-q", "isso==0.14.0"]))?;
    }
    Ok(venv)
}

fn isso_side(root: &Path, dir: &Path, seconds: u32, blog: &str) -> anyhow::Result<Side> {
    let venv = isso_venv(root)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let db = dir.join("isso.db");
    let config = dir.join("isso.cfg");
    std::fs::write(
        &config,
        format!(
            "[general]\ndbpath = {}\nhost =\n    {base}/\n    {blog}/\n[server]\nlisten = {base}/\n[guard]\nenabled = false\nratelimit = 100000\ndirect-reply = 100000\n[moderation]\nenabled = false\n",
            db.display()
        ),
    )?;
    let start = |since: Instant| -> anyhow::Result<(Proc, Duration)> {
        let child = Command::new(venv.join("bin/isso"))
            .args(["-c"])
            .arg(&config)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let proc = Proc(child);
        let ready = wait_ready(&format!("{base}/info"), since, Duration::from_secs(30))?;
        Ok((proc, ready))
    };
    let (proc, cold_start) = start(Instant::now())?;
    let post = |page: &str, body: &str, parent: Option<u64>| -> anyhow::Result<u64> {
        let v: Value = agent()
            .post(&format!("{base}/new?uri={}", page.replace('/', "%2F")))
            .set("Origin", &base)
            .send_json(json!({"text": body, "author": "Seeder", "parent": parent, "title": page}))?
            .into_json()?;
        v["id"].as_u64().context("isso id")
    };
    let t = Instant::now();
    for seed in seed_plan() {
        let mut ids: Vec<u64> = Vec::new();
        for (body, parent) in &seed.comments {
            ids.push(post(&seed.page, body, parent.map(|p| ids[p]))?);
        }
    }
    // Isso writes ~50/s; the big thread goes into its SQLite file directly, shaped like its own rows.
    post(BIG_PAGE, "one of ten thousand", None)?;
    drop(proc);
    let script = format!(
        "import sqlite3,time\nc=sqlite3.connect({:?})\ntid=c.execute(\"select id from threads where uri=?\",({BIG_PAGE:?},)).fetchone()[0]\n\
         now=time.time()\nc.executemany(\"insert into comments (tid,parent,created,modified,mode,remote_addr,text,author,email,website,likes,dislikes,voters,notification) values (?,NULL,?,NULL,1,'127.0.0.0','one of ten thousand','Seeder',NULL,NULL,0,0,?,0)\",[(tid,now+i*0.001,bytes(256)) for i in range({})])\nc.commit()\n",
        db.display().to_string(),
        BIG_COUNT - 1
    );
    run(Command::new("python3").args(["-c", &script]))?;
    let (proc, _) = start(Instant::now())?;
    eprintln!(
        "isso: cold start to first 200 {:.1} ms; seeded in {:.1} s",
        cold_start.as_secs_f64() * 1e3,
        t.elapsed().as_secs_f64()
    );
    // Isso pages by creation time: the last page of 20 starts after the 21st newest comment.
    let all: Value = agent()
        .get(&format!(
            "{base}/?uri={}&nested_limit=0",
            BIG_PAGE.replace('/', "%2F")
        ))
        .call()?
        .into_json()?;
    let replies = all["replies"].as_array().context("isso replies")?;
    let after = replies[replies.len() - 21]["created"]
        .as_f64()
        .context("created")?;
    let pages: Vec<String> = (0..20).map(|p| format!("/p{p}")).collect();
    let scenarios = vec![
        Scenario {
            name: "200-comment thread, first page",
            url: format!("{base}/?uri=%2Ft200&limit=20"),
            script: None,
        },
        Scenario {
            name: "5-comment thread",
            url: format!("{base}/?uri=%2Ft5"),
            script: None,
        },
        Scenario {
            name: "counts for 20 pages",
            url: format!("{base}/count"),
            script: Some(lua_post(dir, "isso-counts", &json!(pages).to_string())?),
        },
        Scenario {
            name: "10k thread, first page",
            url: format!("{base}/?uri=%2Ft10k&limit=20"),
            script: None,
        },
        Scenario {
            name: "10k thread, last page",
            url: format!("{base}/?uri=%2Ft10k&limit=20&after={after}"),
            script: None,
        },
        Scenario {
            name: "durable comment creation (32 conn)",
            url: format!("{base}/new?uri=%2Fwrites"),
            script: Some(lua_post(
                dir,
                "isso-create",
                &json!({"text": "a benchmark comment", "author": "wrk", "title": "writes"})
                    .to_string(),
            )?),
        },
    ];
    std::thread::sleep(IDLE_SETTLE);
    let idle_rss_kib = rss_kib(proc.0.id());
    let (figures, load_rss_kib) = measure(proc.0.id(), &scenarios, seconds)?;
    Ok(Side {
        base,
        _proc: proc,
        figures,
        idle_rss_kib,
        idle_restarted_rss_kib: None,
        load_rss_kib,
        cold_start,
    })
}

/// Starts the release server on a free loopback port with its database in `dir` and the
/// configuration `settings` (TOML after `bind` and `database`); returns it once it answers,
/// with its base URL.
pub(crate) fn serve_release(
    root: &Path,
    dir: &Path,
    settings: &str,
) -> anyhow::Result<(Proc, String)> {
    serve_release_on(
        root,
        &dir.join("talkback.toml"),
        &dir.join("db").display().to_string(),
        settings,
    )
}

/// [`serve_release`] with its configuration written to `config` and its records in `database`
/// (a directory or a PostgreSQL URL).
pub(crate) fn serve_release_on(
    root: &Path,
    config: &Path,
    database: &str,
    settings: &str,
) -> anyhow::Result<(Proc, String)> {
    serve_binary_on(
        &root.join("target/release/talkback"),
        config,
        database,
        settings,
    )
}

/// [`serve_release_on`] with another build of the server.
pub(crate) fn serve_binary_on(
    binary: &Path,
    config: &Path,
    database: &str,
    settings: &str,
) -> anyhow::Result<(Proc, String)> {
    let port = free_port()?;
    std::fs::write(
        config,
        format!("bind = \"127.0.0.1:{port}\"\ndatabase = {database:?}\n{settings}"),
    )?;
    let base = format!("http://127.0.0.1:{port}");
    let proc = Proc(
        Command::new(binary)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    wait_ready(
        &format!("{base}/api/v1/threads?site=demo&page=/x"),
        Instant::now(),
        Duration::from_secs(30),
    )?;
    Ok((proc, base))
}

pub(crate) fn build_release_server() -> anyhow::Result<()> {
    crate::build_server(true, false)
}

pub(crate) fn bench(
    root: &Path,
    seconds: u32,
    with_isso: bool,
    browser: bool,
) -> anyhow::Result<()> {
    if browser {
        crate::widget::build(root)?;
    }
    let started = Instant::now();
    if Command::new("wrk").arg("--version").output().is_err() {
        crate::apt_install(&["wrk"])?;
    }
    build_release_server()?;
    let dir = tempfile::tempdir()?;
    eprintln!(
        "talkback (release), wrk -t2 -c32 -d{seconds}s on loopback, 2 cores shared with wrk:"
    );
    let blog_port = free_port()?;
    let blog = format!("http://localhost:{blog_port}");
    let tb = talkback_side(root, dir.path(), seconds, &blog)?;
    let isso = if with_isso {
        eprintln!("isso 0.14.0 (isso run), same data, same wrk settings:");
        Some(isso_side(root, dir.path(), seconds, &blog)?)
    } else {
        None
    };
    let names = [
        "200-comment thread, first page",
        "5-comment thread",
        "counts for 20 pages",
        "10k thread, first page",
        "10k thread, last page",
        "durable comment creation (32 conn)",
    ];
    let mut out = String::new();
    out.push_str(&format!(
        "\n{:<36} {:>11} {:>9} {:>9} | {:>9} {:>9} | {:>9}\n",
        "scenario", "talkback/s", "p50 ms", "p99 ms", "isso/s", "isso p99", "ratio"
    ));
    for (i, name) in names.iter().enumerate() {
        let t = &tb.figures[i];
        let (irps, ip99, ratio) = match &isso {
            Some(s) => {
                let f = &s.figures[i];
                (
                    format!("{:.1}", f.rps),
                    format!("{:.1}", f.p99_ms),
                    if f.rps > 0.0 {
                        format!("{:.0}x", t.rps / f.rps)
                    } else {
                        "n/a".into()
                    },
                )
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        out.push_str(&format!(
            "{:<36} {:>11.0} {:>9.2} {:>9.2} | {:>9} {:>9} | {:>9}\n",
            name, t.rps, t.p50_ms, t.p99_ms, irps, ip99, ratio
        ));
    }
    if let Some(static_file) = tb.figures.get(6) {
        out.push_str(&format!(
            "counts for 20 pages at {:.2}x the static file's throughput ({:.0} req/s for /embed.js) and {:.2}x a cached 200-comment thread's\n",
            tb.figures[2].rps / static_file.rps.max(1.0),
            static_file.rps,
            tb.figures[2].rps / tb.figures[0].rps.max(1.0),
        ));
    }
    let last_vs_first = tb.figures[4].rps / tb.figures[3].rps.max(1.0);
    out.push_str(&format!(
        "10k thread: last page at {:.2}x the first page's throughput\n",
        last_vs_first
    ));
    out.push_str(&format!(
        "talkback: idle RSS {:.1} MiB right after seeding, {:.1} MiB restarted on the seeded database; peak RSS under load {:.1} MiB, cold start {:.1} ms\n",
        tb.idle_rss_kib as f64 / 1024.0,
        tb.idle_restarted_rss_kib.unwrap_or_default() as f64 / 1024.0,
        tb.load_rss_kib as f64 / 1024.0,
        tb.cold_start.as_secs_f64() * 1e3
    ));
    if let Some(s) = &isso {
        out.push_str(&format!(
            "isso:     idle RSS {:.1} MiB (seeded), peak RSS under load {:.1} MiB, cold start {:.1} ms\n",
            s.idle_rss_kib as f64 / 1024.0,
            s.load_rss_kib as f64 / 1024.0,
            s.cold_start.as_secs_f64() * 1e3
        ));
    }
    std::io::stderr().write_all(out.as_bytes())?;
    if let (Some(isso), true) = (&isso, browser) {
        crate::ensure_npm_packages(root)?;
        run(Command::new("node")
            .arg(root.join("widget/e2e/bench/browser.mjs"))
            .args([&tb.base, &isso.base, "/t200", &blog_port.to_string()]))?;
    }
    eprintln!("bench finished in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `cargo xtask bench --import`: a synthetic 50,000-comment WordPress export (500 posts,
/// threads three levels deep, HTML bodies with entities) imported by the release binary.
pub(crate) fn bench_import(root: &Path) -> anyhow::Result<()> {
    build_release_server()?;
    let dir = tempfile::tempdir()?;
    let wxr = dir.path().join("wxr-50k.xml");
    let id = synthetic_wxr(&wxr, 0, 500, false)?;
    let size = std::fs::metadata(&wxr)?.len();
    let config = dir.path().join("talkback.toml");
    std::fs::write(
        &config,
        format!(
            "database = {:?}\n[[sites]]\nid = \"demo\"\n",
            dir.path().join("db")
        ),
    )?;
    eprintln!(
        "synthetic WXR: {id} comments in 500 posts, {:.1} MiB",
        size as f64 / 1048576.0
    );
    for label in ["first import", "second import (idempotent)"] {
        let started = Instant::now();
        let output = Command::new(root.join("target/release/talkback"))
            .args(["--config"])
            .arg(&config)
            .args(["import", "--format", "wordpress"])
            .arg(&wxr)
            .args(["--site", "demo"])
            .env("RUST_LOG", "info")
            .output()?;
        let elapsed = started.elapsed();
        let log = String::from_utf8_lossy(&output.stderr);
        let peak = log
            .split("peak_rss_mib=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next()?.parse::<f64>().ok())
            .map_or_else(|| "?".to_owned(), |mib| format!("{mib:.0}"));
        eprintln!(
            "{label}: {} in {:.2} s ({:.0} comments/s), peak RSS {peak} MiB",
            String::from_utf8_lossy(&output.stdout).trim(),
            elapsed.as_secs_f64(),
            id as f64 / elapsed.as_secs_f64()
        );
        if !output.status.success() {
            bail!("import failed: {log}");
        }
    }
    if let Ok(baseline) = std::env::var("TB_BENCH_BASELINE") {
        compare_imports(root, Path::new(&baseline), &wxr, dir.path(), id)?;
    }
    Ok(())
}

/// With `TB_BENCH_BASELINE` naming another build of `talkback`: the first import by it and by
/// this build, alternating three times into fresh databases, and the ratio of their medians
/// (this build over the baseline), so a change's cost is measured in one run.
fn compare_imports(
    root: &Path,
    baseline: &Path,
    wxr: &Path,
    dir: &Path,
    comments: u64,
) -> anyhow::Result<()> {
    let current = root.join("target/release/talkback");
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..3 {
        for (which, binary) in [baseline, current.as_path()].into_iter().enumerate() {
            let db = dir.join(format!("db-{round}-{which}"));
            let config = dir.join(format!("talkback-{round}-{which}.toml"));
            std::fs::write(
                &config,
                format!("database = {db:?}\n[[sites]]\nid = \"demo\"\n"),
            )?;
            let started = Instant::now();
            let output = Command::new(binary)
                .arg("--config")
                .arg(&config)
                .args(["import", "--format", "wordpress"])
                .arg(wxr)
                .args(["--site", "demo"])
                .output()?;
            if !output.status.success() {
                bail!("import by {} failed", binary.display());
            }
            rates[which].push(comments as f64 / started.elapsed().as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (before, after) = (median(&mut rates[0]), median(&mut rates[1]));
    eprintln!(
        "first import, alternating x3: baseline {before:.0} comments/s, this build {after:.0} comments/s, ratio {:.2}x",
        after / before
    );
    Ok(())
}

/// Writes a WordPress export of `posts` posts (numbered from `first_post`, so several files
/// make one blog) with 100 comments each (40 top-level, then replies two and three levels
/// deep; HTML bodies with entities); returns how many comments. With `held`, every 50th
/// comment is pending and every 200th spam, and one comment holds the rare word "zebra".
pub(crate) fn synthetic_wxr(
    path: &Path,
    first_post: u64,
    posts: u64,
    held: bool,
) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/"><channel><title>Bench</title>"#
    )?;
    let mut id = first_post * 100;
    for post in first_post..first_post + posts {
        writeln!(
            out,
            "<item><title>Post {post} &amp; friends</title><link>https://bench.example/{post}/</link><wp:post_id>{post}</wp:post_id>"
        )?;
        let first = id + 1;
        for n in 0..100u64 {
            id += 1;
            // 40 top-level comments, then replies to earlier ones (two and three levels deep).
            let parent = match n {
                0..=39 => 0,
                40..=79 => first + (n - 40),
                _ => first + 40 + (n - 80),
            };
            let (day, minute) = (1 + n / 60, n % 60);
            let approved = match (held, id % 200, id % 50) {
                (true, 0, _) => "spam",
                (true, _, 0) => "0",
                _ => "1",
            };
            let rare = if held && id == (first_post + posts) * 50 {
                " zebra"
            } else {
                ""
            };
            writeln!(
                out,
                "<wp:comment><wp:comment_id>{id}</wp:comment_id><wp:comment_author><![CDATA[Reader {n} Ünïcode]]></wp:comment_author>\
                 <wp:comment_author_email>r{n}@example.com</wp:comment_author_email><wp:comment_author_url>https://r{n}.example</wp:comment_author_url>\
                 <wp:comment_date_gmt>2024-03-{day:02} 10:{minute:02}:00</wp:comment_date_gmt>\
                 <wp:comment_content><![CDATA[<p>Comment {n} on post {post} with <strong>bold</strong> &amp; a <a href=\"https://example.org/{n}\">link</a>{rare}.</p>\n\nA second paragraph.]]></wp:comment_content>\
                 <wp:comment_approved>{approved}</wp:comment_approved><wp:comment_type>comment</wp:comment_type><wp:comment_parent>{parent}</wp:comment_parent></wp:comment>"
            )?;
        }
        writeln!(out, "</item>")?;
    }
    writeln!(out, "</channel></rss>")?;
    out.flush()?;
    Ok(id - first_post * 100)
}

/// `cargo xtask bench --moderation`: the moderation API over 100,000 imported comments
/// (2,500 of them held), signed in as an owner: the queue's first page and a deep one, the
/// last page of every comment by keyset, and searches (one rare word, one in every comment),
/// beside the reader's cached thread read in the same run. Prints figures; asserts nothing.
pub(crate) fn bench_moderation(root: &Path, seconds: u32) -> anyhow::Result<()> {
    build_release_server()?;
    let dir = tempfile::tempdir()?;
    let wxr = dir.path().join("wxr-100k.xml");
    let count = synthetic_wxr(&wxr, 0, 1000, true)?;
    let port = free_port()?;
    let config = dir.path().join("talkback.toml");
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:{port}\"\ndatabase = {:?}\nexamples_dir = \"\"\nrate_limit_per_minute = 0\nread_rate_limit_per_minute = 0\n[[sites]]\nid = \"demo\"\n{SPAM_OFF}",
            dir.path().join("db")
        ),
    )?;
    let bin = root.join("target/release/talkback");
    let started = Instant::now();
    let imported = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .args(["import", "--format", "wordpress"])
        .arg(&wxr)
        .args(["--site", "demo"])
        .env("RUST_LOG", "warn")
        .output()?;
    if !imported.status.success() {
        bail!(
            "import failed: {}",
            String::from_utf8_lossy(&imported.stderr)
        );
    }
    eprintln!(
        "imported {count} comments in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&imported.stdout).trim()
    );
    let password = "bench password 123";
    let mut add = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .args([
            "admin",
            "add",
            "owner",
            "--role",
            "owner",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    add.stdin
        .take()
        .context("stdin")?
        .write_all(password.as_bytes())?;
    if !add.wait()?.success() {
        bail!("admin add failed");
    }
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let proc = Proc(child);
    wait_ready(
        &format!("{base}/api/v1/threads?site=demo&page=/500"),
        Instant::now(),
        Duration::from_secs(20),
    )?;
    let signed = agent()
        .post(&format!("{base}/admin/api/session"))
        .set("Origin", &base)
        .send_json(json!({"name": "owner", "password": password}))?;
    let cookie = signed
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .context("no session cookie")?
        .to_owned();
    let list = |query: &str| -> anyhow::Result<Value> {
        Ok(agent()
            .get(&format!("{base}/admin/api/comments?{query}"))
            .set("Cookie", &cookie)
            .call()?
            .into_json()?)
    };
    // The deepest keyset cursors: follow `next` to the end of the queue and of everything.
    let last_cursor = |query: &str| -> anyhow::Result<(String, usize)> {
        let mut cursor = String::new();
        let mut pages = 0;
        loop {
            let page = list(&format!("{query}&limit=100&before={cursor}"))?;
            pages += 1;
            match page["next"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => return Ok((cursor, pages)),
            }
        }
    };
    let (queue_last, queue_pages) = last_cursor("status=queue")?;
    let (all_last, all_pages) = last_cursor("status=all")?;
    eprintln!(
        "queue: {queue_pages} pages of 100; every comment: {all_pages} pages of 100 (keyset)"
    );
    let script = |name: &str| -> anyhow::Result<PathBuf> {
        let path = dir.path().join(format!("{name}.lua"));
        std::fs::write(&path, format!("wrk.headers[\"Cookie\"] = \"{cookie}\"\n"))?;
        Ok(path)
    };
    let cookie_script = script("cookie")?;
    let scenarios: Vec<(&str, String, Option<&Path>)> = vec![
        (
            "reader: cached thread (100 comments)",
            format!("{base}/api/v1/threads?site=demo&page=/500"),
            None,
        ),
        (
            "queue, first page of 50",
            format!("{base}/admin/api/comments?status=queue&limit=50"),
            Some(&cookie_script),
        ),
        (
            "queue, last page (keyset)",
            format!("{base}/admin/api/comments?status=queue&limit=100&before={queue_last}"),
            Some(&cookie_script),
        ),
        (
            "all 100k, last page (keyset)",
            format!("{base}/admin/api/comments?status=all&limit=100&before={all_last}"),
            Some(&cookie_script),
        ),
        (
            "search a word in every comment",
            format!("{base}/admin/api/comments?status=all&q=bold&limit=50"),
            Some(&cookie_script),
        ),
        (
            "search a rare word (scans 20k)",
            format!("{base}/admin/api/comments?status=all&q=zebra&limit=50"),
            Some(&cookie_script),
        ),
    ];
    let rare = list("status=all&q=zebra&limit=50")?;
    eprintln!(
        "rare word: {} found in the first 20,000 looked at; continue with before={}",
        rare["comments"].as_array().map_or(0, Vec::len),
        rare["next"].as_str().unwrap_or("-")
    );
    eprintln!(
        "\n{:<38} {:>9} {:>9} {:>9}",
        "scenario (4 connections)", "req/s", "p50 ms", "p99 ms"
    );
    for (name, url, script) in scenarios {
        let f = wrk(&url, script, 4, seconds)?;
        eprintln!(
            "{name:<38} {:>9.0} {:>9.2} {:>9.2}{}",
            f.rps,
            f.p50_ms,
            f.p99_ms,
            if f.errors > 0 {
                format!("  ({} errors)", f.errors)
            } else {
                String::new()
            }
        );
    }
    eprintln!(
        "server RSS after the run: {:.1} MiB",
        rss_kib(proc.0.id()) as f64 / 1024.0
    );
    Ok(())
}

/// `len` bytes of lowercase letters and spaces that compress about as badly as prose can.
fn noise(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 27 {
                0 => ' ',
                n => char::from(b'a' + (n - 1) as u8),
            }
        })
        .collect()
}

/// A hostile reader against the release server's memory: one top-level comment with 1,000
/// replies of 7 KB, then every cache-busting variant of its thread (`limit=1…199`, 300 titles,
/// cursor spellings) with `Accept-Encoding: br`, then 4,200 pages that do not exist. Rate
/// limits are off, so only the server's own bounds (reply paging, the cache's byte budget, no
/// entries for missing pages) hold memory down. Prints RSS; asserts nothing.
pub(crate) fn bench_attack(root: &Path) -> anyhow::Result<()> {
    build_release_server()?;
    let dir = tempfile::tempdir()?;
    let (proc, base) = serve_release(
        root,
        dir.path(),
        &format!(
            "examples_dir = \"\"\nrate_limit_per_minute = 0\nread_rate_limit_per_minute = 0\n\
             live_streams_per_client = 100000\n[[sites]]\nid = \"demo\"\n{SPAM_OFF}"
        ),
    )?;
    let pid = proc.0.id();
    let (stop, sampler) = rss_sampler(pid);
    let started = Instant::now();
    let top: Value = agent()
        .post(&format!("{base}/api/v1/comments"))
        .send_json(
            json!({"site": "demo", "page": "/attack", "author": "Bait", "body": "reply to me"}),
        )?
        .into_json()?;
    let top = top["comment"]["id"].as_u64().context("id")?;
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (base, next) = (base.clone(), Arc::clone(&next));
            std::thread::spawn(move || -> anyhow::Result<()> {
                let agent = agent();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= 1_000 {
                        break;
                    }
                    let body = noise(n, 7_000);
                    agent.post(&format!("{base}/api/v1/comments")).send_json(
                        json!({"site": "demo", "page": "/attack", "author": "Flood", "body": body, "parent": top}),
                    )?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| anyhow::anyhow!("writer panicked"))??;
    }
    let seeded = started.elapsed();
    let after_seed = rss_kib(pid);
    let get = |path: String| -> anyhow::Result<usize> {
        let response = agent()
            .get(&format!("{base}{path}"))
            .set("Accept-Encoding", "br")
            .call();
        let response = match response {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(e.into()),
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes)?;
        Ok(bytes.len())
    };
    let mut requests = 0;
    let mut largest = 0;
    for limit in 1..=199 {
        largest = largest.max(get(format!(
            "/api/v1/threads?site=demo&page=/attack&limit={limit}"
        ))?);
        get(format!(
            "/api/v1/threads?site=demo&page=/attack&limit={limit}&cursor=0{limit}"
        ))?;
        requests += 2;
    }
    for t in 0..300 {
        get(format!(
            "/api/v1/threads/html?site=demo&page=/attack&title=Title%20{t}"
        ))?;
        requests += 1;
    }
    let after_variants = rss_kib(pid);
    for j in 0..4_200 {
        get(format!("/api/v1/threads?site=demo&page=/junk-{j}"))?;
        requests += 1;
    }
    std::thread::sleep(Duration::from_millis(500));
    let after_junk = rss_kib(pid);
    // Live streams opened for new page keys and dropped at once (each page's channel must go
    // with its last follower: a stream learns its reader left at its next heartbeat, 20 s).
    let addr = base.trim_start_matches("http://").to_owned();
    for j in 0..3_000 {
        let mut stream = std::net::TcpStream::connect(&addr)?;
        write!(
            stream,
            "GET /api/v1/live?site=demo&page=/stream-{j} HTTP/1.1\r\nHost: {addr}\r\n\r\n"
        )?;
        let mut first = [0u8; 64];
        std::io::Read::read(&mut stream, &mut first)?;
    }
    let after_streams = rss_kib(pid);
    std::thread::sleep(Duration::from_secs(25));
    let streams_settled = rss_kib(pid);
    // 200 sign-ins at once with wrong passwords (each hashed one is argon2id's 19 MiB).
    let sign_ins: Vec<_> = (0..200)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let reply = agent()
                    .post(&format!("{base}/admin/api/session"))
                    .set("Origin", &base)
                    .send_json(json!({"name": "owner", "password": format!("guess {i} wrong")}));
                match reply {
                    Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
                    Err(_) => 0,
                }
            })
        })
        .collect();
    let statuses: Vec<u16> = sign_ins
        .into_iter()
        .map(|h| h.join().unwrap_or(0))
        .collect();
    let tried = statuses.iter().filter(|&&s| s == 401).count();
    let after_sign_ins = rss_kib(pid);
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(0);
    let mib = |kib: u64| kib as f64 / 1024.0;
    eprintln!(
        "  3,000 live streams on new pages, dropped: RSS {:.1} MiB at once, {:.1} MiB 25 s later\n  \
         200 concurrent sign-ins with wrong passwords: {tried} hashed, {} held back; RSS {:.1} MiB",
        mib(after_streams),
        mib(streams_settled),
        statuses.len() - tried,
        mib(after_sign_ins),
    );
    eprintln!(
        "attack (release server, thread cache 16 MiB, rate limits off):\n  \
         1,000 replies of 7 KB under one comment: {:.1} s, RSS {:.1} MiB\n  \
         {requests} cache-busting and junk reads (largest thread response {largest} B, br): \
         RSS {:.1} MiB after the variants, {:.1} MiB after 4,200 junk pages\n  \
         peak RSS {:.1} MiB (target <= 150 MiB: {:.2}x of it)",
        seeded.as_secs_f64(),
        mib(after_seed),
        mib(after_variants),
        mib(after_junk),
        mib(peak),
        mib(peak) / 150.0
    );
    Ok(())
}
