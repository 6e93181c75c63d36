//! `cargo xtask bench --spam`: a spam bot that knows the API against the release server with
//! the default anti-spam rules, real-looking readers posting through the widget in Chromium,
//! the proof of work's solve time in Chromium, and the filter's precision and recall on the
//! held-back part of its corpus. It prints figures; it asserts nothing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::bench::{agent, build_release_server, serve_release};
use crate::run;

/// Comments each strategy sends, each on a page of its own, so that the per-page burst
/// limit (which alone would refuse most of a flood) leaves the other layers to be measured.
const EACH: usize = 60;
/// Strategies the bot tries.
const STRATEGIES: usize = 6;

/// One bot strategy's outcome: what the server answered.
#[derive(Default)]
struct Tally {
    sent: u32,
    /// 201: stored (shown, held or kept as spam: the bot cannot tell which).
    acknowledged: u32,
    /// 409 (a duplicate) or 429 (a burst): refused outright.
    refused: u32,
    /// Anything else (a bug in the bot or the server).
    other: u32,
}

struct Bot {
    base: String,
    agent: ureq::Agent,
    /// A new client address for every request, through the trusted proxy.
    next_ip: u32,
}

impl Bot {
    fn send(&mut self, body: &Value) -> u16 {
        self.next_ip += 1;
        let ip = format!(
            "10.{}.{}.{}",
            (self.next_ip >> 16) & 255,
            (self.next_ip >> 8) & 255,
            self.next_ip & 255
        );
        let result = self
            .agent
            .post(&format!("{}/api/v1/comments", self.base))
            .set("X-Forwarded-For", &ip)
            .set("Content-Type", "application/json")
            .send_string(&body.to_string());
        match result {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(_) => 0,
        }
    }

    /// A challenge for `page`, solved as the widget would (`None`: it could not get one).
    fn solve(&mut self, page: &str) -> Option<String> {
        let c: Value = self
            .agent
            .get(&format!(
                "{}/api/v1/challenge?site=demo&page={page}",
                self.base
            ))
            .call()
            .ok()?
            .into_json()
            .ok()?;
        let (salt, target) = (c["salt"].as_str()?, c["challenge"].as_str()?);
        let n = (0..=c["max"].as_u64()?)
            .find(|n| hex(&Sha256::digest(format!("{salt}{n}"))) == target)?;
        Some(format!("{}.{n}", c["token"].as_str()?))
    }

    fn tally(&mut self, tally: &mut Tally, body: &Value) {
        tally.sent += 1;
        match self.send(body) {
            201 => tally.acknowledged += 1,
            409 | 429 => tally.refused += 1,
            _ => tally.other += 1,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn page(i: usize) -> String {
    format!("/post-{i}")
}

fn spam_body(i: usize) -> String {
    const LINES: [&str; 6] = [
        "Best cheap essays online, buy now with discount",
        "Great post! I will bookmark your blog. Look at my site for casino bonus",
        "Earn $500 a day from home with crypto trading, contact on telegram",
        "Cheap replica watches and handbags, free shipping worldwide",
        "Buy viagra online without prescription, lowest price",
        "SEO backlinks service, rank first on google in one week",
    ];
    format!("{} #{i}", LINES[i % LINES.len()])
}

fn links(i: usize) -> String {
    (0..5)
        .map(|k| format!("https://spam-{i}-{k}.example/buy"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn comment(page: &str, author: &str, body: &str, proof: Option<&str>) -> Value {
    json!({"site": "demo", "page": page, "author": author, "email": format!("{}@spam.example", author.replace(' ', "")),
           "website": "https://cheap-pills-online.example", "body": body, "proof": proof})
}

/// Every strategy of the bot, each `n` times, strategy `k` on pages `k * n ..`.
fn attack(base: &str, n: usize) -> Vec<(&'static str, Tally)> {
    let page = |k: usize, i: usize| page(k * n + i);
    let mut bot = Bot {
        base: base.to_owned(),
        agent: agent(),
        next_ip: 0,
    };
    let mut out = Vec::new();
    let mut t = Tally::default();
    for i in 0..n {
        bot.tally(
            &mut t,
            &comment(&page(0, i), "Cheap Essays", &spam_body(i), None),
        );
    }
    out.push(("JSON straight to the API, no challenge", t));

    let mut t = Tally::default();
    for i in 0..n {
        let proof = format!("{}.{}", "eyJzIjoiZGVtbyJ9.c2lnbmF0dXJl", i);
        bot.tally(
            &mut t,
            &comment(&page(1, i), "Casino Bonus", &spam_body(n + i), Some(&proof)),
        );
    }
    out.push(("forged proof", t));

    // A challenge fetched but not solved: a guessed number.
    let mut t = Tally::default();
    for i in 0..n {
        let c: Option<Value> = bot
            .agent
            .get(&format!(
                "{base}/api/v1/challenge?site=demo&page={}",
                page(2, i)
            ))
            .call()
            .ok()
            .and_then(|r| r.into_json().ok());
        let token = c
            .as_ref()
            .and_then(|c| c["token"].as_str())
            .unwrap_or_default();
        let proof = format!("{token}.{}", i * 7);
        bot.tally(
            &mut t,
            &comment(
                &page(2, i),
                "Forex Pro",
                &spam_body(2 * n + i),
                Some(&proof),
            ),
        );
    }
    out.push(("challenge fetched, nothing solved", t));

    // A valid request captured once (solved, sent after the fill time) and replayed.
    let captured_page = page(3, 0);
    let proof = bot.solve(&captured_page);
    std::thread::sleep(Duration::from_millis(3100));
    let captured = comment(
        &captured_page,
        "Nice Reader",
        "Great article, I will bookmark your site and come back!",
        proof.as_deref(),
    );
    let mut t = Tally::default();
    for _ in 0..n {
        bot.tally(&mut t, &captured);
    }
    out.push(("one solved request captured and replayed", t));

    // One solved token reused for new texts.
    let proof = bot.solve(&page(4, 0));
    std::thread::sleep(Duration::from_millis(3100));
    let mut t = Tally::default();
    for i in 0..n {
        bot.tally(
            &mut t,
            &comment(
                &page(4, i),
                "Loan Offer",
                &format!("Fast loans today {i}"),
                proof.as_deref(),
            ),
        );
    }
    out.push(("one solved token reused", t));

    // The expensive bot: solves every challenge and waits out the fill time, then posts
    // link-heavy, duplicate and spammy texts.
    let mut proofs = Vec::new();
    for i in 0..n {
        proofs.push((page(5, i), bot.solve(&page(5, i))));
    }
    std::thread::sleep(Duration::from_millis(3100));
    let mut t = Tally::default();
    for (i, (p, proof)) in proofs.iter().enumerate() {
        let body = match i % 3 {
            0 => format!("Check these {}", links(i)),
            1 => "Thanks for sharing, very informative post, visit my site".to_owned(),
            _ => spam_body(5 * n + i),
        };
        bot.tally(
            &mut t,
            &comment(p, "Best SEO Service", &body, proof.as_deref()),
        );
    }
    out.push(("solves every challenge; links, duplicates, spam words", t));
    out
}

/// Comments the public sees on the bot's pages (counts answer 100 pages at a time).
fn visible(base: &str) -> anyhow::Result<u64> {
    let pages: Vec<String> = (0..EACH * STRATEGIES).map(page).collect();
    let mut shown = 0;
    for chunk in pages.chunks(100) {
        let counts: Value = agent()
            .post(&format!("{base}/api/v1/counts"))
            .send_json(json!({"site": "demo", "pages": chunk}))?
            .into_json()?;
        shown += counts["counts"]
            .as_object()
            .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
    }
    Ok(shown)
}

/// What the server decided, by outcome and reason, as its owner sees it (through the command
/// line's token, from loopback).
fn decisions(base: &str, database: &Path) -> anyhow::Result<String> {
    let access: Value = serde_json::from_str(&std::fs::read_to_string(
        database.join("talkback-cli.json"),
    )?)?;
    let token = access["token"].as_str().unwrap_or_default();
    let counts: Value = agent()
        .get(&format!("{base}/admin/api/spam"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()?
        .into_json()?;
    Ok(counts["counts"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default())
}

pub(crate) fn bench_spam(root: &Path) -> anyhow::Result<()> {
    crate::ensure_chromium()?;
    crate::widget::build(root)?;
    build_release_server()?;
    crate::ensure_npm_packages(root)?;
    let dir = tempfile::tempdir()?;
    // Default anti-spam rules and rate limits; the bot's rotating addresses come through a
    // trusted proxy, as they would behind a misused forwarding proxy.
    let (_server, base) = serve_release(
        root,
        dir.path(),
        &format!(
            "assets_dir = {:?}\nexamples_dir = {:?}\ntrusted_proxies = [\"127.0.0.1\"]\n[[sites]]\nid = \"demo\"\n",
            root.join(crate::widget::OUT_DIR),
            root.join("examples"),
        ),
    )?;

    let started = Instant::now();
    let results = attack(&base, EACH);
    let mut out = String::from(
        "spam bot against the default rules (release server, addresses rotated per request):\n",
    );
    let (mut sent, mut acknowledged) = (0, 0);
    for (name, t) in &results {
        sent += t.sent;
        acknowledged += t.acknowledged;
        out.push_str(&format!(
            "  {name:<55} sent {:>3}: 201 {:>3}, refused {:>3}, other {:>3}\n",
            t.sent, t.acknowledged, t.refused, t.other
        ));
    }
    let shown = visible(&base)?;
    out.push_str(&format!(
        "  publicly visible: {shown} of {sent} ({:.2} %; target ≤ 1 %); bot time {:.1} s\n",
        100.0 * shown as f64 / f64::from(sent.max(1)),
        started.elapsed().as_secs_f64()
    ));
    let _ = acknowledged;
    out.push_str(&format!(
        "  the server's decisions: {}\n",
        decisions(&base, &dir.path().join("db"))?
    ));
    std::io::Write::write_all(&mut std::io::stderr(), out.as_bytes())?;

    let filter = Command::new(root.join("target/release/talkback"))
        .arg("spam-filter")
        .output()?;
    eprintln!(
        "learning filter, built-in corpus:\n{}",
        String::from_utf8_lossy(&filter.stdout)
    );

    run(Command::new("node")
        .arg(root.join("widget/e2e/bench/spam.mjs"))
        .arg(&base)
        .arg(root.join("server/src/service/antispam/corpus/ham.tsv")))?;
    Ok(())
}
