//! Layer 5, the learning filter: naive Bayes over a comment's tokens (words of the text, of the
//! author's name, and the hosts of its website and links), in Graham's and Robinson's way:
//! each token's spam probability is smoothed towards ½ by how often it was seen, and the
//! fifteen most telling tokens decide. It starts from a built-in corpus (`corpus/`, four
//! fifths of it; the fifth held back measures it, see [`evaluate`]) and learns from the
//! blogger's Approve and Spam decisions, which a consumer of the change log
//! ([`Service::train_spam_filter`]) teaches the store exactly once each.

use std::collections::HashMap;

use talkback_store::{ChangeKind, Label, Status, TokenCounts};

use super::{Verdict, rules};
use crate::error::Error;
use crate::service::Service;

/// Tokens one comment contributes at most.
const MAX_TOKENS: usize = 400;
/// Tokens that decide at most: the most telling ones.
const TELLING: usize = 150;
/// How many telling tokens it takes to trust the verdict fully.
const CONFIDENT_AT: f64 = 6.0;
/// A token whose probability is closer to ½ than this says nothing.
const MIN_STRENGTH: f64 = 0.1;
/// How much of its evidence a token of the author's name or website keeps. Whoever posts
/// chooses them freely: a spammer borrowing a regular reader's name or a well-known website
/// must not teach the filter to hold that reader or everyone linking there, and a spammer
/// posing as a regular must not pass on the name. They still tip a close call.
const CHOSEN_WEIGHT: f64 = 0.4;

/// Tokens of what the author chose to be called and linked to (`n:` name, `w:` website).
fn chosen(token: &str) -> bool {
    token.starts_with("n:") || token.starts_with("w:")
}

/// The chance that a chi-square variable with `freedom` (even) degrees is at least `x2`.
fn chi2_q(x2: f64, freedom: usize) -> f64 {
    let m = x2 / 2.0;
    let mut term = (-m).exp();
    let mut sum = term;
    for i in 1..freedom / 2 {
        term *= m / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

/// A comment's distinct tokens: words (2 to 30 letters or digits) of the text, `n:` words of
/// the name, `h:` hosts (and their last two labels) of the links, `w:` those of the website,
/// and `links:` how many links it has (0, 1, 2, many).
pub(crate) fn tokens(author: &str, website: Option<&str>, body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: String| {
        if out.len() < MAX_TOKENS && !out.contains(&t) {
            out.push(t);
        }
    };
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric() && c != '$' && c != '\'')
            .map(|w| w.trim_matches('\'').to_lowercase())
            .filter(|w| (2..=30).contains(&w.chars().count()))
            .collect()
    };
    for w in words(body) {
        push(w);
    }
    for w in words(author) {
        push(format!("n:{w}"));
    }
    let links = rules::web_hosts(body);
    let count = links.len();
    let website = website.map(rules::web_hosts).unwrap_or_default();
    for (prefix, hosts) in [("h", links), ("w", website)] {
        for host in hosts {
            let labels: Vec<&str> = host.rsplit('.').take(2).collect();
            let tail = labels.into_iter().rev().collect::<Vec<_>>().join(".");
            push(format!("{prefix}:{host}"));
            push(format!("{prefix}:{tail}"));
        }
    }
    push(format!("links:{}", count.min(3)));
    out
}

/// Token counts from the built-in corpus.
#[derive(Debug, Clone, Default)]
pub struct Seed {
    tokens: HashMap<String, (u32, u32)>,
    spam_docs: u32,
    ham_docs: u32,
}

/// One corpus line: name, website and body (with `\n` for line breaks).
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) author: String,
    pub(crate) website: Option<String>,
    pub(crate) body: String,
}

const HAM: &str = include_str!("corpus/ham.tsv");
const SPAM: &str = include_str!("corpus/spam.tsv");

fn samples(text: &str) -> impl Iterator<Item = (usize, Sample)> + '_ {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let mut fields = line.splitn(3, '\t');
            let author = fields.next().unwrap_or_default().to_owned();
            let website = fields.next().filter(|w| !w.is_empty()).map(str::to_owned);
            let body = fields.next().unwrap_or_default().replace("\\n", "\n");
            (
                i,
                Sample {
                    author,
                    website,
                    body,
                },
            )
        })
}

/// Every fifth sample is held back from the seed, to measure the filter on comments it never saw.
fn held_back(i: usize) -> bool {
    i.is_multiple_of(5)
}

impl Seed {
    /// The built-in corpus, less the part held back.
    pub fn builtin() -> Self {
        let mut seed = Seed::default();
        for (text, label) in [(HAM, Label::Ham), (SPAM, Label::Spam)] {
            for (_, s) in samples(text).filter(|(i, _)| !held_back(*i)) {
                seed.learn(&tokens(&s.author, s.website.as_deref(), &s.body), label);
            }
        }
        seed
    }

    fn learn(&mut self, tokens: &[String], label: Label) {
        match label {
            Label::Spam => self.spam_docs += 1,
            Label::Ham => self.ham_docs += 1,
        }
        for t in tokens {
            let entry = self.tokens.entry(t.clone()).or_default();
            match label {
                Label::Spam => entry.0 += 1,
                Label::Ham => entry.1 += 1,
            }
        }
    }
}

/// The filter: the seed plus what the store learned.
pub struct Filter {
    seed: Seed,
}

impl Filter {
    pub fn new(seed: Seed) -> Self {
        Self { seed }
    }

    /// How likely `tokens` are spam (0 to 1), given what the store learned of them.
    pub fn probability(&self, tokens: &[String], learned: &TokenCounts) -> f64 {
        let spam_docs = f64::from((self.seed.spam_docs + learned.spam_docs).max(1));
        let ham_docs = f64::from((self.seed.ham_docs + learned.ham_docs).max(1));
        let mut telling: Vec<f64> = tokens
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let (ss, sh) = self.seed.tokens.get(t).copied().unwrap_or_default();
                let (ls, lh) = learned.tokens.get(i).copied().unwrap_or_default();
                let (s, h) = (f64::from(ss + ls), f64::from(sh + lh));
                let seen = s + h;
                if seen == 0.0 {
                    return None;
                }
                let (ps, ph) = (s / spam_docs, h / ham_docs);
                let p = ps / (ps + ph);
                // Robinson: a token seen once says little; lean it towards ½.
                let f = ((0.5 + seen * p) / (1.0 + seen)).clamp(0.01, 0.99);
                Some(if chosen(t) {
                    0.5 + (f - 0.5) * CHOSEN_WEIGHT
                } else {
                    f
                })
            })
            .collect();
        telling.retain(|f| (f - 0.5).abs() >= MIN_STRENGTH);
        telling.sort_by(|a, b| (b - 0.5).abs().total_cmp(&(a - 0.5).abs()));
        telling.truncate(TELLING);
        if telling.is_empty() {
            return 0.5;
        }
        // Fisher's method (as SpamBayes): how unlikely the tokens' spam and ham evidence is
        // by chance, each; a few tokens leave the answer near ½ rather than at an extreme.
        let n = telling.len();
        let (ln_spam, ln_ham) = telling
            .iter()
            .fold((0.0, 0.0), |(s, h), f| (s + (1.0 - f).ln(), h + f.ln()));
        let spam = 1.0 - chi2_q(-2.0 * ln_spam, 2 * n);
        let ham = 1.0 - chi2_q(-2.0 * ln_ham, 2 * n);
        // A comment of a few words says little either way: lean it towards unsure.
        let confidence = (n as f64 / CONFIDENT_AT).min(1.0);
        0.5 + (spam - ham) / 2.0 * confidence
    }

    /// Holds a comment at least `threshold_percent` likely spam, with its score as the reason.
    pub fn check(
        &self,
        tokens: &[String],
        learned: &TokenCounts,
        threshold_percent: u8,
    ) -> Verdict {
        let p = self.probability(tokens, learned);
        let percent = (p * 100.0).round();
        if threshold_percent > 0 && percent >= f64::from(threshold_percent) {
            Verdict::hold(&format!("filter:{percent:.0}"))
        } else {
            Verdict::Accept
        }
    }
}

/// The filter's precision and recall on the held-back fifth of the built-in corpus, at
/// `threshold_percent`: (spam caught, spam missed, ham held, ham passed).
pub fn evaluate(threshold_percent: u8) -> (u32, u32, u32, u32) {
    let filter = Filter::new(Seed::builtin());
    let none = |n: usize| TokenCounts {
        tokens: vec![(0, 0); n],
        ..TokenCounts::default()
    };
    let mut figures = (0, 0, 0, 0);
    for (text, spam) in [(SPAM, true), (HAM, false)] {
        for (_, s) in samples(text).filter(|(i, _)| held_back(*i)) {
            let t = tokens(&s.author, s.website.as_deref(), &s.body);
            let held = filter.check(&t, &none(t.len()), threshold_percent) != Verdict::Accept;
            match (spam, held) {
                (true, true) => figures.0 += 1,
                (true, false) => figures.1 += 1,
                (false, true) => figures.2 += 1,
                (false, false) => figures.3 += 1,
            }
        }
    }
    figures
}

/// What a moderator's decision teaches: approving is ham, spam is spam, sending a comment
/// back to the queue forgets what it taught.
fn lesson(kind: &ChangeKind) -> Option<Option<Label>> {
    match kind {
        ChangeKind::StatusChanged { status, .. } => match status {
            Status::Approved => Some(Some(Label::Ham)),
            Status::Spam => Some(Some(Label::Spam)),
            Status::Pending => Some(None),
            Status::Deleted | Status::Pingback => None,
        },
        _ => None,
    }
}

impl Service {
    /// Teaches the filter the decisions logged since its cursor, up to `limit` changes;
    /// returns how many changes it read (0: it is up to date). Each lesson and the cursor move
    /// in one store transaction, so a restart neither repeats nor skips one.
    pub fn train_spam_filter(&self, limit: usize) -> Result<usize, Error> {
        let cursor = self.store.training_cursor()?;
        let changes = match self.store.changes_after(cursor, limit) {
            Ok(changes) => changes,
            Err(talkback_store::Error::Pruned { .. }) => {
                let last = self.store.last_change()?;
                tracing::warn!(
                    from = cursor,
                    to = last,
                    "spam filter skipped pruned changes"
                );
                self.store.set_training_cursor(last)?;
                return Ok(0);
            }
            Err(e) => return Err(e.into()),
        };
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(0);
        };
        for change in &changes {
            let (Some(label), Some(id)) = (lesson(&change.kind), change.comment) else {
                continue;
            };
            let lesson = self.store.comment(id).and_then(|comment| {
                let tokens = match comment {
                    Some(c) => tokens(&c.author, c.website.as_deref(), &c.body_source),
                    // Gone since: forget what it taught, if anything.
                    None => Vec::new(),
                };
                let label = if tokens.is_empty() { None } else { label };
                self.store.train(id, &tokens, label, change.seq)
            });
            match lesson {
                Ok(()) => {}
                // The store cannot work now: stop here and come back to this lesson.
                Err(
                    e @ (talkback_store::Error::Unavailable(_) | talkback_store::Error::Full(_)),
                ) => return Err(e.into()),
                // This comment alone cannot be learned (a record that no longer decodes):
                // skip it rather than stop learning for every later decision.
                Err(e) => tracing::warn!(
                    comment = id,
                    change = change.seq,
                    error = %e,
                    "the spam filter skipped a decision it cannot learn"
                ),
            }
        }
        self.store.set_training_cursor(last)?;
        Ok(changes.len())
    }
}
