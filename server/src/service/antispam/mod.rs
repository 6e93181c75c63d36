//! Keeping spam out without a third party. Each layer is a module of its own that looks at a
//! comment about to be written and returns a [`Verdict`]: the proof of work (`pow`), the signed
//! form token (`form`, both carried by one `challenge`), the honeypot (`honeypot`), the site's
//! content rules and blocklists (`rules`), and the learning filter (`filter`). [`Antispam::judge`]
//! is the one place that runs them and combines their verdicts; the write path stores the
//! comment with the combined status and reasons (nothing is dropped: refused and spam comments
//! land in the spam view) and [`Antispam::record`] logs and counts every outcome by reason.
//!
//! What must hold for every server and across restarts is in the store ([`Memory`]: what the
//! filter learned, and each form token's single use). Per-process state (recent bodies,
//! clients' recent spam, the site's write load, page bursts) is bounded: every map is swept
//! when it grows, and what it holds expires.

mod challenge;
mod filter;
mod form;
mod honeypot;
mod pow;
mod rules;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use talkback_api::{Block, ErrorCode};

use crate::config::SpamRules;
use crate::error::Error;

pub use challenge::Challenges;
use challenge::Opened;
pub use filter::{Filter, Seed, evaluate};
pub use rules::parse_network;

/// What the layers need the store to remember (every store is such a memory; tests have their
/// own).
pub trait Memory {
    /// What the store learned of `tokens` (the filter's counts).
    fn token_counts(&self, tokens: &[String]) -> Result<talkback_store::TokenCounts, Error>;
    /// True the first time the form token with this salt is used (`spend_once`).
    fn first_use(&self, salt: [u8; 16], expires: i64, now: i64) -> Result<bool, Error>;
}

impl<S: talkback_store::Store + ?Sized> Memory for S {
    fn token_counts(&self, tokens: &[String]) -> Result<talkback_store::TokenCounts, Error> {
        Ok(talkback_store::SpamFilter::token_counts(self, tokens)?)
    }

    fn first_use(&self, salt: [u8; 16], expires: i64, now: i64) -> Result<bool, Error> {
        Ok(self.spend_once(&salt, expires, now)?)
    }
}

/// What one layer, or all of them together, decided about a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Stored, but not shown until a moderator approves it; `spam`: into the spam view rather
    /// than the queue.
    Hold {
        reasons: Vec<String>,
        spam: bool,
    },
    /// Refused with an error code the reader sees; the comment is still kept as spam with the
    /// reason, so nothing vanishes without a trace.
    Reject {
        code: ErrorCode,
        reasons: Vec<String>,
    },
}

impl Verdict {
    pub fn hold(reason: &str) -> Self {
        Verdict::Hold {
            reasons: vec![reason.to_owned()],
            spam: false,
        }
    }

    pub fn spam(reason: &str) -> Self {
        Verdict::Hold {
            reasons: vec![reason.to_owned()],
            spam: true,
        }
    }

    /// Refused with `code` for `reason`.
    pub fn reject(code: ErrorCode, reason: &str) -> Self {
        Verdict::Reject {
            code,
            reasons: vec![reason.to_owned()],
        }
    }

    /// The stricter of two verdicts, with the reasons of both (this one's first): a refusal
    /// wins, then spam, then a hold.
    pub fn and(self, other: Verdict) -> Verdict {
        use Verdict::*;
        let reasons = merge(self.reasons(), other.reasons());
        match (self, other) {
            (Accept, Accept) => Accept,
            (Reject { code, .. }, _) | (_, Reject { code, .. }) => Reject { code, reasons },
            (a, b) => Hold {
                reasons,
                spam: a.is_spam() || b.is_spam(),
            },
        }
    }

    fn is_spam(&self) -> bool {
        matches!(
            self,
            Verdict::Hold { spam: true, .. } | Verdict::Reject { .. }
        )
    }

    /// The reasons kept with the comment.
    pub fn reasons(&self) -> Vec<String> {
        match self {
            Verdict::Accept => Vec::new(),
            Verdict::Hold { reasons, .. } | Verdict::Reject { reasons, .. } => reasons.clone(),
        }
    }
}

fn merge(mut first: Vec<String>, second: Vec<String>) -> Vec<String> {
    for r in second {
        if !first.contains(&r) {
            first.push(r);
        }
    }
    first
}

/// How the comment reached the server: the widget solves a proof of work; a plain HTML form
/// (readers without JavaScript) cannot, so it skips that layer and is held more readily.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Path {
    #[default]
    Widget,
    PlainForm,
}

/// A comment about to be written, as the layers see it.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub site: &'a str,
    pub page_key: &'a str,
    pub path: Path,
    pub proof: Option<&'a str>,
    pub trap: Option<&'a str>,
    pub author: &'a str,
    pub email: Option<&'a str>,
    pub website: Option<&'a str>,
    pub body_source: &'a str,
    pub tree: &'a [Block],
    pub client: Option<IpAddr>,
    pub now_ms: i64,
}

/// Forget entries of a per-process map once it holds this many, keeping what has not expired.
const SWEEP_ABOVE: usize = 20_000;
/// How long a client's spam verdicts make its proofs of work harder.
const HISTORY_MS: i64 = 60 * 60 * 1000;
/// The window in which the site's write load is counted.
const LOAD_WINDOW_MS: i64 = 60 * 1000;

/// The anti-spam layers' shared state.
pub struct Antispam {
    pub challenges: Challenges,
    pub filter: Filter,
    /// Recent bodies per site (normalised, hashed), with when they were posted.
    recent: Mutex<HashMap<(String, [u8; 16]), i64>>,
    /// Clients (IPv6 by /64) whose recent comments were spam or refused: when, and how many.
    history: Mutex<HashMap<IpAddr, (i64, u32)>>,
    /// Comments written per site in the current minute: (window start, count).
    load: Mutex<HashMap<String, (i64, u32)>>,
    /// New comments per page and minute, by everybody together.
    bursts: Mutex<HashMap<(String, u32), DefaultKeyedRateLimiter<String>>>,
    /// Outcomes so far per site, by outcome (`accepted`, `held`, `spam`, `refused`) and by
    /// outcome and reason (`spam.honeypot`).
    counts: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    /// The same, as a metric family for `/metrics` (reason `all` for the outcome itself).
    metric: SpamMetric,
}

/// Labels of the anti-spam outcomes metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct SpamLabels {
    pub site: String,
    pub outcome: String,
    pub reason: String,
}

/// Comments judged, by site, outcome and reason.
pub type SpamMetric = prometheus_client::metrics::family::Family<
    SpamLabels,
    prometheus_client::metrics::counter::Counter,
>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these maps leaves nothing half-done worth refusing over.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Drops expired entries when `map` has grown past [`SWEEP_ABOVE`].
fn sweep<K: Eq + std::hash::Hash, V>(map: &mut HashMap<K, V>, alive: impl Fn(&V) -> bool) {
    if map.len() > SWEEP_ABOVE {
        map.retain(|_, v| alive(v));
    }
}

impl Antispam {
    pub fn new(secret: &[u8], seed: Seed) -> Result<Self, talkback_store::Error> {
        Ok(Self {
            challenges: Challenges::new(secret)?,
            filter: Filter::new(seed),
            recent: Mutex::default(),
            history: Mutex::default(),
            load: Mutex::default(),
            bursts: Mutex::default(),
            counts: Mutex::default(),
            metric: SpamMetric::default(),
        })
    }

    /// The proof-of-work difficulty for a client of `site` now: the site's own, doubled for
    /// each ten comments the site took in the last minute and for each spam verdict its
    /// client had in the last hour (each at most three times: at most 64 times harder).
    pub fn difficulty(
        &self,
        site: &str,
        rules: &SpamRules,
        client: Option<IpAddr>,
        now: i64,
    ) -> u32 {
        let busy = lock(&self.load)
            .get(site)
            .filter(|(start, _)| now - start < LOAD_WINDOW_MS)
            .map_or(0, |(_, n)| (n / 10).min(3));
        let suspect = client
            .and_then(|ip| {
                lock(&self.history)
                    .get(&crate::http::limit::bucket(ip))
                    .filter(|(at, _)| now - at < HISTORY_MS)
                    .map(|(_, n)| (*n).min(3))
            })
            .unwrap_or(0);
        rules
            .pow_max_number
            .max(1)
            .saturating_mul(1 << (busy + suspect))
    }

    /// Runs every layer over a comment about to be written and combines their verdicts.
    /// `memory` is what the store remembers: the filter's counts, the form tokens used.
    pub fn judge(
        &self,
        c: &Candidate<'_>,
        rules: &SpamRules,
        memory: &(impl Memory + ?Sized),
    ) -> Result<Verdict, Error> {
        let opened = self.challenges.open(c.proof);
        let spent = |salt, expires| memory.first_use(salt, expires, c.now_ms);
        let proof = match c.path {
            Path::Widget if rules.proof_of_work => {
                pow::check(&opened).and(form::check(&opened, c, rules, spent)?)
            }
            // Without a script there is no proof of work, but the page's signed form token
            // must come back, and a comment with any link (its website's included) waits for a
            // moderator.
            Path::PlainForm => match &opened {
                Opened::Missing => Verdict::spam("proof_missing"),
                Opened::Forged => Verdict::spam("proof_invalid"),
                Opened::Signed { .. } => rules::links(c.tree, c.body_source, 0)
                    .and(if c.website.is_some() {
                        Verdict::hold("website_without_script")
                    } else {
                        Verdict::Accept
                    })
                    .and(form::check(&opened, c, rules, spent)?),
            },
            Path::Widget => Verdict::Accept,
        };
        let verdict = proof
            .and(honeypot::check(c.trap, &opened))
            .and(rules::check(c, rules))
            .and(self.duplicate(c, rules));
        if matches!(verdict, Verdict::Reject { .. }) {
            return Ok(verdict);
        }
        let threshold = match c.path {
            Path::Widget => rules.filter_threshold_percent,
            // Readers without a script proved nothing: the filter holds sooner.
            Path::PlainForm => rules.filter_threshold_percent.saturating_sub(10),
        };
        let verdict = self.filtered(verdict, c, rules, threshold, memory)?;
        // Only a comment about to be shown or queued counts towards the page's burst: junk
        // (no proof, spam) goes to the spam view and must not close a thread to everyone.
        if counts_as_written(&verdict) {
            self.page_burst(c, rules)?;
        }
        Ok(verdict)
    }

    /// Judges a reader's new text for a comment already written: the content rules and the
    /// filter (the form's layers judged the comment when it was posted). A spammer's classic,
    /// posting something harmless and editing links in, meets the same rules.
    pub fn judge_edit(
        &self,
        c: &Candidate<'_>,
        rules: &SpamRules,
        memory: &(impl Memory + ?Sized),
    ) -> Result<Verdict, Error> {
        let threshold = rules.filter_threshold_percent;
        self.filtered(rules::check(c, rules), c, rules, threshold, memory)
    }

    /// `verdict` and the learning filter's at `threshold` percent (none when the site turned
    /// the filter off).
    fn filtered(
        &self,
        verdict: Verdict,
        c: &Candidate<'_>,
        rules: &SpamRules,
        threshold: u8,
        memory: &(impl Memory + ?Sized),
    ) -> Result<Verdict, Error> {
        if rules.filter_threshold_percent == 0 {
            return Ok(verdict);
        }
        let tokens = filter::tokens(c.author, c.website, c.body_source);
        let counts = memory.token_counts(&tokens)?;
        Ok(verdict.and(self.filter.check(&tokens, &counts, threshold)))
    }

    /// Refuses a burst of new comments on one page (whoever sends them), counting only those
    /// about to be accepted or held.
    fn page_burst(&self, c: &Candidate<'_>, rules: &SpamRules) -> Result<(), Error> {
        let Some(per_minute) = NonZeroU32::new(rules.page_burst_per_minute) else {
            return Ok(());
        };
        let checked = {
            let mut bursts = lock(&self.bursts);
            let limiter = bursts
                .entry((c.site.to_owned(), per_minute.get()))
                .or_insert_with(|| RateLimiter::keyed(Quota::per_minute(per_minute)));
            if limiter.len() > SWEEP_ABOVE {
                limiter.retain_recent();
            }
            limiter.check_key(&c.page_key.to_owned())
        };
        checked.map_err(|not_until| {
            self.count(c.site, "refused", &["page_burst".to_owned()]);
            Error::RateLimited {
                retry_after_secs: not_until
                    .wait_time_from(DefaultClock::default().now())
                    .as_secs()
                    + 1,
                writes: true,
            }
        })
    }

    /// Refuses a body the site took recently (the duplicate itself is then kept as spam).
    fn duplicate(&self, c: &Candidate<'_>, rules: &SpamRules) -> Verdict {
        if rules.duplicate_minutes == 0 {
            return Verdict::Accept;
        }
        let window = rules.duplicate_window_ms();
        let key = (c.site.to_owned(), rules::body_fingerprint(c.body_source));
        let recent = lock(&self.recent);
        match recent.get(&key) {
            Some(at) if c.now_ms - at < window => {
                Verdict::reject(ErrorCode::DuplicateComment, "duplicate")
            }
            _ => Verdict::Accept,
        }
    }

    /// Remembers a body the site took (after the comment is written), for the duplicate rule.
    pub fn remember_body(&self, site: &str, body_source: &str, at: i64, rules: &SpamRules) {
        if rules.duplicate_minutes == 0 {
            return;
        }
        let window = rules.duplicate_window_ms();
        let mut recent = lock(&self.recent);
        sweep(&mut recent, |t| at - *t < window);
        let key = (site.to_owned(), rules::body_fingerprint(body_source));
        let newest = recent.get(&key).map_or(at, |t| (*t).max(at));
        recent.insert(key, newest);
    }

    /// Logs and counts a combined verdict, and remembers a spam one against its client and
    /// every one to be shown or queued against the site's load.
    pub fn record(&self, site: &str, verdict: &Verdict, client: Option<IpAddr>, now: i64) {
        let outcome = match verdict {
            Verdict::Accept => "accepted",
            Verdict::Hold { spam: false, .. } => "held",
            Verdict::Hold { spam: true, .. } => "spam",
            Verdict::Reject { .. } => "refused",
        };
        let reasons = verdict.reasons();
        tracing::info!(target: "talkback::spam", site, outcome, reasons = ?reasons, "comment judged");
        self.count(site, outcome, &reasons);
        // A site's load raises every reader's proof of work: spam must not (a spammer would
        // make the blog slower for everyone but himself, who sends no proof anyway).
        if counts_as_written(verdict) {
            let mut load = lock(&self.load);
            let entry = load.entry(site.to_owned()).or_insert((now, 0));
            if now - entry.0 >= LOAD_WINDOW_MS {
                *entry = (now, 0);
            }
            entry.1 += 1;
        }
        let suspicious = matches!(
            verdict,
            Verdict::Reject { .. } | Verdict::Hold { spam: true, .. }
        );
        if let (true, Some(ip)) = (suspicious, client) {
            let mut history = lock(&self.history);
            sweep(&mut history, |(at, _)| now - at < HISTORY_MS);
            let entry = history
                .entry(crate::http::limit::bucket(ip))
                .or_insert((now, 0));
            if now - entry.0 >= HISTORY_MS {
                entry.1 = 0;
            }
            *entry = (now, entry.1.saturating_add(1));
        }
    }

    /// Counts one outcome on `site`, and each of its reasons (a score stripped: `filter`).
    fn count(&self, site: &str, outcome: &str, reasons: &[String]) {
        let labels = |reason: &str| SpamLabels {
            site: site.to_owned(),
            outcome: outcome.to_owned(),
            reason: reason.to_owned(),
        };
        let mut all = lock(&self.counts);
        let counts = all.entry(site.to_owned()).or_default();
        *counts.entry(outcome.to_owned()).or_default() += 1;
        self.metric.get_or_create(&labels("all")).inc();
        for reason in reasons {
            let code = reason.split(':').next().unwrap_or(reason);
            *counts.entry(format!("{outcome}.{code}")).or_default() += 1;
            self.metric.get_or_create(&labels(code)).inc();
        }
    }

    pub fn metric(&self) -> &SpamMetric {
        &self.metric
    }

    /// Outcomes and reasons counted since the server started, per site.
    pub fn counts(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        lock(&self.counts).clone()
    }
}

#[cfg(test)]
mod tests;

/// A verdict that puts a comment where readers or moderators will see it: accepted, or held
/// for the queue (not spam, not refused).
fn counts_as_written(verdict: &Verdict) -> bool {
    matches!(verdict, Verdict::Accept | Verdict::Hold { spam: false, .. })
}
