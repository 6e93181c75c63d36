//! Each layer on its own, then all of them through [`Antispam::judge`].

use std::net::IpAddr;

use talkback_api::ErrorCode;
use talkback_store::TokenCounts;

use super::challenge::{Opened, puzzle_hash};
use super::*;
use crate::config::SpamRules;

const NOW: i64 = 1_800_000_000_000;

fn reasons(v: &Verdict) -> String {
    match v {
        Verdict::Accept => "accept".into(),
        Verdict::Hold { reasons, spam } => {
            format!(
                "{} {}",
                if *spam { "spam" } else { "hold" },
                reasons.join(",")
            )
        }
        Verdict::Reject { code, reasons } => format!("reject {code:?} {}", reasons.join(",")),
    }
}

#[test]
fn verdicts_combine_to_the_strictest_with_every_reason() {
    let dup = || Verdict::reject(ErrorCode::DuplicateComment, "duplicate");
    let cases = [
        (Verdict::Accept, Verdict::Accept, "accept"),
        (Verdict::Accept, Verdict::hold("a"), "hold a"),
        (Verdict::hold("a"), Verdict::hold("b"), "hold a,b"),
        (Verdict::hold("a"), Verdict::hold("a"), "hold a"),
        (Verdict::hold("a"), Verdict::spam("b"), "spam a,b"),
        (Verdict::spam("b"), Verdict::hold("a"), "spam b,a"),
        (
            Verdict::spam("b"),
            dup(),
            "reject DuplicateComment b,duplicate",
        ),
        (dup(), Verdict::Accept, "reject DuplicateComment duplicate"),
    ];
    for (a, b, expected) in cases {
        assert_eq!(
            reasons(&a.clone().and(b.clone())),
            expected,
            "{a:?} and {b:?}"
        );
    }
}

fn challenges() -> Challenges {
    Challenges::new(b"a test secret of the server").unwrap()
}

/// Solves a puzzle the way the widget's script does: tries 0, 1, 2 … up to `max`.
fn solve(salt: &str, challenge: &str, max: u32) -> Option<u64> {
    (0..=u64::from(max)).find(|n| puzzle_hash(salt, *n) == challenge)
}

#[test]
fn a_solved_challenge_opens_and_anything_else_does_not() {
    let c = challenges();
    let issued = c.issue("blog", "/post", 2_000, 60_000, NOW).unwrap();
    assert!(issued.max == 2_000 && issued.expires == NOW + 60_000);
    let number = solve(&issued.salt, &issued.challenge, issued.max).unwrap();
    let token = &issued.token;
    let (payload, signature) = token.split_once('.').unwrap();
    let other = challenges()
        .issue("blog", "/post", 2_000, 60_000, NOW)
        .unwrap();
    let cases: Vec<(Option<String>, &str)> = vec![
        (Some(format!("{token}.{number}")), "solved"),
        (Some(format!("{token}.{}", number + 1)), "unsolved"),
        (Some(format!("{token}.{}", u64::MAX)), "unsolved"),
        (Some(format!("{token}.x")), "unsolved"),
        (None, "missing"),
        (Some(String::new()), "missing"),
        (Some(token.clone()), "forged"),
        (Some("a.b.1".into()), "forged"),
        // Another token's signature, or a payload changed under this one's.
        (
            Some(format!(
                "{payload}.{}.{number}",
                other.token.split_once('.').unwrap().1
            )),
            "forged",
        ),
        (Some(format!("{}x.{signature}.{number}", payload)), "forged"),
        (Some(format!("{token}.{number}.1")), "solved, trapped"),
        (Some(format!("{token}.{number}.")), "solved"),
    ];
    for (proof, expected) in cases {
        let got = match c.open(proof.as_deref()) {
            Opened::Missing => "missing",
            Opened::Forged => "forged",
            Opened::Signed {
                solved: true,
                trapped: true,
                ..
            } => "solved, trapped",
            Opened::Signed { solved: true, .. } => "solved",
            Opened::Signed { solved: false, .. } => "unsolved",
        };
        assert_eq!(got, expected, "{proof:?}");
    }
}

fn candidate<'a>(body: &'a str, tree: &'a [talkback_api::Block]) -> Candidate<'a> {
    Candidate {
        site: "blog",
        page_key: "/post",
        path: Path::Widget,
        proof: None,
        trap: None,
        author: "Ann",
        email: None,
        website: None,
        body_source: body,
        tree,
        client: None,
        now_ms: NOW,
    }
}

#[test]
fn the_form_token_must_be_for_this_page_in_time_and_used_once() {
    let c = challenges();
    let rules = SpamRules::default();
    // (issued this long before the post, for site/page, lifetime, seen before) → verdict
    let cases = [
        (10_000, ("blog", "/post"), 60_000, false, "accept"),
        (1_000, ("blog", "/post"), 60_000, false, "hold too_fast"),
        (
            120_000,
            ("blog", "/post"),
            60_000,
            false,
            "hold token_expired",
        ),
        (
            10_000,
            ("blog", "/other"),
            60_000,
            false,
            "spam token_other_page",
        ),
        (
            10_000,
            ("news", "/post"),
            60_000,
            false,
            "spam token_other_page",
        ),
        (10_000, ("blog", "/post"), 60_000, true, "spam token_reused"),
    ];
    for (age, (site, page), lifetime, seen, expected) in cases {
        let issued = c.issue(site, page, 10, lifetime, NOW - age).unwrap();
        let n = solve(&issued.salt, &issued.challenge, 10).unwrap();
        let proof = format!("{}.{n}", issued.token);
        let opened = c.open(Some(&proof));
        let body = "hello";
        let got = form::check(&opened, &candidate(body, &[]), &rules, |_, _| Ok(!seen)).unwrap();
        assert_eq!(
            reasons(&got),
            expected,
            "age {age} {site}{page} seen {seen}"
        );
        assert_eq!(reasons(&pow::check(&opened)), "accept");
    }
}

#[test]
fn the_honeypot_catches_whatever_fills_it() {
    let c = challenges();
    let issued = c.issue("blog", "/post", 10, 60_000, NOW).unwrap();
    let n = solve(&issued.salt, &issued.challenge, 10).unwrap();
    let clean = c.open(Some(&format!("{}.{n}", issued.token)));
    let reported = c.open(Some(&format!("{}.{n}.1", issued.token)));
    let cases = [
        (None, &clean, "accept"),
        (Some(""), &clean, "accept"),
        (Some("  "), &Opened::Missing, "accept"),
        (Some("https://spam.example"), &clean, "spam honeypot"),
        (Some("x"), &Opened::Missing, "spam honeypot"),
        (None, &reported, "spam honeypot"),
    ];
    for (trap, proof, expected) in cases {
        assert_eq!(
            reasons(&honeypot::check(trap, proof)),
            expected,
            "{trap:?} {proof:?}"
        );
    }
}

#[test]
fn web_hosts_are_found_however_addresses_are_written() {
    let cases = [
        (
            "see https://Example.com/x and http://a.b.example:8080/?q",
            "example.com a.b.example",
        ),
        (
            "[x](https://user@host.example) <http://host.example.>",
            "host.example",
        ),
        ("HTTPS://SHOUT.EXAMPLE", "shout.example"),
        ("no links, just http and https words", ""),
        ("www.bare.example", ""),
    ];
    for (text, expected) in cases {
        assert_eq!(rules::web_hosts(text).join(" "), expected, "{text}");
    }
}

#[test]
fn content_rules_and_blocklists() {
    let rules = SpamRules {
        max_links: 1,
        blocked_words: vec!["Viagra".into(), "crypto doubler".into()],
        blocked_emails: vec!["bad@example.com".into(), "@spam.example".into()],
        blocked_addresses: vec!["203.0.113.7".into(), "2001:db8:1:2::/64".into()],
        blocked_domains: vec!["pills.example".into()],
        ..SpamRules::default()
    };
    // (body, e-mail, website, client) → verdict
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
    );
    let cases: [Case<'_>; 11] = [
        (
            "A fine comment.",
            Some("ann@example.com"),
            None,
            Some("198.51.100.1"),
            "accept",
        ),
        ("one https://a.example link", None, None, None, "accept"),
        (
            "two https://a.example https://b.example",
            None,
            None,
            None,
            "hold too_many_links",
        ),
        ("cheap VIAGRA here", None, None, None, "spam blocked_word"),
        ("try the Crypto  doubler", None, None, None, "accept"),
        (
            "try the crypto doubler",
            None,
            None,
            None,
            "spam blocked_word",
        ),
        (
            "hi",
            Some("BAD@example.com"),
            None,
            None,
            "spam blocked_email",
        ),
        (
            "hi",
            Some("x@mail.spam.example"),
            None,
            None,
            "spam blocked_email",
        ),
        (
            "hi",
            None,
            None,
            Some("2001:db8:1:2:ffff::9"),
            "spam blocked_address",
        ),
        (
            "hi",
            None,
            Some("https://shop.pills.example/buy"),
            None,
            "spam blocked_domain",
        ),
        (
            "see https://notpills.example",
            None,
            None,
            Some("::ffff:203.0.113.7"),
            "spam blocked_address",
        ),
    ];
    for (body, email, website, client, expected) in cases {
        let c = Candidate {
            email,
            website,
            client: client.map(|c| c.parse::<IpAddr>().unwrap()),
            ..candidate(body, &[])
        };
        assert_eq!(reasons(&rules::check(&c, &rules)), expected, "{body}");
    }
    assert!(parse_network("2001:db8::/64").is_some() && parse_network("10.0.0.1").is_some());
    assert!(parse_network("10.0.0.1/33").is_none() && parse_network("example.com").is_none());
}

fn nothing_learned(tokens: &[String]) -> Result<TokenCounts, Error> {
    Ok(TokenCounts {
        tokens: vec![(0, 0); tokens.len()],
        ..TokenCounts::default()
    })
}

#[test]
fn the_seeded_filter_tells_spam_from_readers() {
    let filter = Filter::new(Seed::builtin());
    let score = |author: &str, website: Option<&str>, body: &str| {
        let t = filter::tokens(author, website, body);
        filter.probability(&t, &nothing_learned(&t).unwrap())
    };
    let spam = score(
        "Cheap Viagra Online",
        Some("https://cheap-pills-online.example"),
        "Buy cheap viagra online without prescription, best price, fast delivery! Click here: https://cheap-pills-online.example",
    );
    let ham = score(
        "Margaret",
        None,
        "Thanks for the write-up. I tried the sourdough recipe last weekend and the crust came out \
         much better with the longer proof. Did you use a Dutch oven?",
    );
    assert!(spam > 0.9, "spam scored {spam}");
    assert!(ham < 0.5, "ham scored {ham}");
    // On the held-back fifth of the corpus: few readers held, most spam caught.
    let (caught, missed, held, passed) = evaluate(SpamRules::default().filter_threshold_percent);
    assert!(
        caught + missed >= 30 && held + passed >= 30,
        "a held-back part exists"
    );
    let recall = f64::from(caught) / f64::from(caught + missed);
    assert!(recall >= 0.7, "recall {recall}");
    assert!(held <= 1, "{held} of {} readers held", held + passed);
}

#[test]
fn tokens_cover_text_name_and_hosts() {
    let t = filter::tokens(
        "Best Essays",
        Some("https://www.essays.example/order"),
        "Don't miss: $500 bonus at https://casino.example!",
    );
    expect_test::expect![[r#"
        ["don't", "miss", "$500", "bonus", "at", "https", "casino", "example", "n:best", "n:essays", "h:casino.example", "w:www.essays.example", "w:essays.example", "links:1"]
    "#]]
    .assert_eq(&format!("{t:?}\n"));
}

/// A store's memory for the layers: nothing learned, the tokens used so far.
#[derive(Default)]
struct Remembers(std::sync::Mutex<std::collections::HashSet<[u8; 16]>>);

impl Memory for Remembers {
    fn token_counts(&self, tokens: &[String]) -> Result<TokenCounts, Error> {
        nothing_learned(tokens)
    }

    fn first_use(&self, salt: [u8; 16], _expires: i64, _now: i64) -> Result<bool, Error> {
        Ok(self.0.lock().unwrap().insert(salt))
    }
}

thread_local! {
    static MEMORY: Remembers = Remembers::default();
}

fn judge(spam: &Antispam, c: &Candidate<'_>, rules: &SpamRules) -> String {
    match MEMORY.with(|memory| spam.judge(c, rules, memory)) {
        Ok(v) => reasons(&v),
        Err(e) => format!("error {e}"),
    }
}

#[test]
fn judging_combines_the_layers_and_remembers_what_it_must() {
    let spam = Antispam::new(b"secret", Seed::builtin()).unwrap();
    let rules = SpamRules {
        page_burst_per_minute: 3,
        ..SpamRules::default()
    };
    let body = "I liked the part about the garden.";
    // No proof: a script.
    assert_eq!(
        judge(&spam, &candidate(body, &[]), &rules),
        "spam proof_missing"
    );
    // A solved, fresh challenge, sent after the reader had time to write.
    let issued = spam
        .challenges
        .issue("blog", "/post", 50, 60_000, NOW - 20_000)
        .unwrap();
    let n = solve(&issued.salt, &issued.challenge, 50).unwrap();
    let proof = format!("{}.{n}", issued.token);
    let with_proof = Candidate {
        proof: Some(&proof),
        ..candidate(body, &[])
    };
    assert_eq!(judge(&spam, &with_proof, &rules), "accept");
    spam.remember_body("blog", body, NOW, &rules);
    // The same request again: its token is used and its text a duplicate.
    assert_eq!(
        judge(&spam, &with_proof, &rules),
        "reject DuplicateComment token_reused,duplicate"
    );
    // Junk goes to spam however much of it comes: it counts towards no page's burst (the
    // integration test `a_burst_of_comments_on_one_page_is_refused_but_junk_…` has the burst).
    assert_eq!(
        judge(&spam, &candidate("another", &[]), &rules),
        "spam proof_missing"
    );
    // A reader without a script: no proof of work asked, but the page's form token must come
    // back (once), and links wait for a moderator.
    let token = |page: &str| {
        let issued = spam
            .challenges
            .issue("blog", page, 50, 60_000, NOW - 20_000)
            .unwrap();
        format!("{}.0", issued.token)
    };
    let (first, second) = (token("/calm"), token("/calm"));
    let plain = Candidate {
        path: Path::PlainForm,
        page_key: "/calm",
        proof: Some(&first),
        ..candidate("see https://a.example", &[])
    };
    // (A bare link is also what the filter finds spam-like.)
    assert!(judge(&spam, &plain, &rules).starts_with("hold too_many_links"));
    let plain_ok = Candidate {
        path: Path::PlainForm,
        page_key: "/calm",
        proof: Some(&second),
        ..candidate("I had the same problem with my tomatoes this summer.", &[])
    };
    assert_eq!(judge(&spam, &plain_ok, &rules), "accept");
    for (proof, verdict) in [
        (None, "spam proof_missing"),
        (Some("forged.token.0"), "spam proof_invalid"),
        (Some(second.as_str()), "spam token_reused"),
    ] {
        let replayed = Candidate {
            path: Path::PlainForm,
            page_key: "/calm",
            proof,
            ..candidate("Another thought about tomatoes, a different one.", &[])
        };
        let no_bursts = SpamRules {
            page_burst_per_minute: 0,
            ..SpamRules::default()
        };
        assert!(
            judge(&spam, &replayed, &no_bursts).starts_with(verdict),
            "{proof:?}"
        );
    }
}

#[test]
fn proofs_get_harder_for_busy_sites_and_suspect_clients() {
    let spam = Antispam::new(b"secret", Seed::builtin()).unwrap();
    let rules = SpamRules::default();
    let bot: IpAddr = "2001:db8:9:9::1".parse().unwrap();
    let neighbour: IpAddr = "2001:db8:9:9::2".parse().unwrap();
    let reader: IpAddr = "198.51.100.4".parse().unwrap();
    let base = rules.pow_max_number;
    assert_eq!(spam.difficulty("blog", &rules, Some(bot), NOW), base);
    for _ in 0..2 {
        spam.record("blog", &Verdict::spam("proof_missing"), Some(bot), NOW);
    }
    // Two spam verdicts: four times harder for the bot's /64, and the site took two comments.
    assert_eq!(
        spam.difficulty("blog", &rules, Some(neighbour), NOW),
        base * 4
    );
    assert_eq!(spam.difficulty("blog", &rules, Some(reader), NOW), base);
    for _ in 0..30 {
        spam.record("blog", &Verdict::Accept, Some(reader), NOW);
    }
    assert_eq!(spam.difficulty("blog", &rules, Some(reader), NOW), base * 8);
    // An hour later both are forgotten.
    let later = NOW + 3_600_001;
    assert_eq!(spam.difficulty("blog", &rules, Some(bot), later), base);
    let counts = &spam.counts()["blog"];
    assert_eq!(counts.get("spam.proof_missing"), Some(&2));
    assert_eq!(counts.get("accepted"), Some(&30));
}

#[test]
fn a_name_or_website_a_spammer_chose_neither_condemns_nor_clears_a_comment() {
    let filter = Filter::new(Seed::builtin());
    let ordinary = "Agreed with all of this, see you at the meetup on Thursday.";
    let pitch = "Cheap replica watches and pills, best price guaranteed, buy now, limited offer, \
                 free shipping worldwide, order today";
    // (name, website, body, what was learned of the name's and website's tokens, held?)
    let cases = [
        // Spammers signed 40 comments with a regular reader's name and blog.
        (
            "Margaret Hale",
            Some("https://margaret.example/"),
            ordinary,
            (40, 0),
            false,
        ),
        // A spammer signs as a regular whose 40 comments were approved.
        (
            "Margaret Hale",
            Some("https://margaret.example/"),
            pitch,
            (0, 40),
            true,
        ),
    ];
    for (name, website, body, (spam, ham), held) in cases {
        let t = filter::tokens(name, website, body);
        let learned = TokenCounts {
            tokens: t
                .iter()
                .map(|t| {
                    if t.starts_with("n:") || t.starts_with("w:") {
                        (spam, ham)
                    } else {
                        (0, 0)
                    }
                })
                .collect(),
            spam_docs: spam,
            ham_docs: ham,
        };
        let p = filter.probability(&t, &learned);
        assert_eq!(p >= 0.8, held, "{name} / {body:.20}: {p}");
    }
}
