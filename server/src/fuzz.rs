//! Fuzzing of reader input through the whole life of a comment: Markdown or imported HTML →
//! document tree → store record → read → render → export → import → export again.
//!
//! Every body the server accepts must read back, render to HTML made only of the tree's tags,
//! export and re-import byte-identically. Cases found once are kept in `tests/fuzz-corpus/`
//! (`*.md` and `*.html`) and run every time; then proptest generates new ones for
//! `TB_FUZZ_SECS` seconds (2 by default; `cargo xtask test` gives it 60).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestError, TestRunner};
use talkback_api::i18n::Strings;
use talkback_api::{Block, Sort};
use talkback_store::Status;

use crate::config::{Config, SiteConfig};
use crate::content::{html, render, tree, validate};
use crate::service::{Service, ThreadView};
use crate::transfer::{self, ImportReport, SourceBody, SourceComment, SourceThread, talkback};

#[derive(Debug, Clone)]
enum Input {
    Markdown(String),
    Html(String),
}

struct Pipeline {
    first: Arc<Service>,
    second: Arc<Service>,
    cases: AtomicUsize,
}

impl Pipeline {
    fn new() -> Self {
        let config = Config {
            sites: Vec::new(),
            ..Config::default()
        };
        Self {
            first: crate::temporary_service(&config),
            second: crate::temporary_service(&config),
            cases: AtomicUsize::new(0),
        }
    }

    fn check(&self, input: &Input) -> Result<(), TestCaseError> {
        let n = self.cases.fetch_add(1, Ordering::Relaxed);
        let site = format!("fuzz{n}");
        // 1. Parse as the API or the importer would; a refusal must be a clean error.
        let (tree, body) = match input {
            Input::Markdown(md) => match validate::body(md) {
                Ok((_, tree)) => (tree, SourceBody::Markdown(md.clone())),
                Err(_) => return Ok(()),
            },
            Input::Html(html) => match html::to_tree(html) {
                Some(tree) => (tree, SourceBody::Html(html.clone())),
                None => return Ok(()),
            },
        };
        prop_assert!(tree::check(&tree).is_ok(), "parsed tree breaks the rules");
        // 2. The stored form decodes within serde_json's recursion limit.
        let json = serde_json::to_string(&tree).map_err(fail)?;
        let back: Vec<Block> = serde_json::from_str(&json).map_err(fail)?;
        prop_assert_eq!(&back, &tree);
        // 3. Rendering emits only the tree's own tags.
        let mut html = String::new();
        render::body_html(&tree, &mut html);
        only_known_tags(&html)?;
        // 4. Through the import pipeline into a real store, and read back.
        let mut report = ImportReport::default();
        let thread = SourceThread {
            page: "/fuzz".into(),
            title: Some("Fuzz".into()),
            url: None,
            locked: false,
            comments: vec![SourceComment {
                id: "fz:1".into(),
                parent: None,
                author: "Fuzz".into(),
                email: None,
                website: None,
                body,
                created: 1_700_000_000_000,
                edited: None,
                status: Status::Approved,
                ip: None,
                legacy_id: None,
                held_for: Vec::new(),
                pinned: false,
                moderator_edit: false,
            }],
        };
        let target = SiteConfig::new(&site, &[]);
        transfer::import(&self.first, &target, vec![thread], false, &mut report).map_err(fail)?;
        prop_assert_eq!(report.imported + report.skipped.len(), 1, "{:?}", report);
        if report.imported == 0 {
            // Refused by the importer's own size rules: nothing stored.
            prop_assert!(
                self.first
                    .store()
                    .export_site(&site)
                    .map_err(fail)?
                    .is_empty()
            );
            return Ok(());
        }
        let view = ThreadView {
            site: site.clone(),
            page: "/fuzz".into(),
            sort: Sort::Oldest,
            limit: 10,
            after: None,
        };
        let (response, _) = self.first.thread(&view).map_err(fail)?;
        prop_assert_eq!(response.comments.len(), 1);
        prop_assert_eq!(
            &response.comments[0].body,
            &tree,
            "stored body reads back unchanged"
        );
        let mut page_html = String::new();
        render::thread_html(
            (&response, &[]),
            Strings::for_lang("en"),
            0,
            render::Shell::Thread,
            &mut page_html,
        );
        only_known_tags(&page_html)?;
        // 5. Export, import elsewhere, export again: byte-identical.
        let exported = talkback::export(&self.first, &site).map_err(fail)?;
        let again =
            talkback::import_talkback(&self.second, &target, &exported, false).map_err(fail)?;
        prop_assert_eq!((again.imported, again.skipped.len()), (1, 0), "{:?}", again);
        let re_exported = talkback::export(&self.second, &site).map_err(fail)?;
        prop_assert_eq!(exported, re_exported);
        Ok(())
    }
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// Every tag in rendered HTML is one the renderer writes for a tree node (or the thread around it).
fn only_known_tags(html: &str) -> Result<(), TestCaseError> {
    const KNOWN: &[&str] = &[
        "p",
        "em",
        "strong",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "br",
        "hr",
        "section",
        "header",
        "h2",
        "li",
        "article",
        "div",
        "span",
        "time",
        "footer",
        "svg",
        "rect",
        "g",
    ];
    for tag in html.split('<').skip(1) {
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        prop_assert!(
            KNOWN.contains(&name.as_str()),
            "unexpected tag <{}> in {}",
            name,
            html
        );
    }
    let lower = html.to_ascii_lowercase();
    prop_assert!(
        !lower.contains("href=\"javascript:"),
        "script link in {}",
        html
    );
    Ok(())
}

/// Markdown and HTML made of the pieces that have broken parsers before.
fn inputs() -> impl Strategy<Value = Input> {
    let md_token = prop_oneof![
        Just("*"),
        Just("**"),
        Just("_"),
        Just("~~"),
        Just("`"),
        Just("```\n"),
        Just("["),
        Just("]("),
        Just("](http://x.example/"),
        Just("](javascript:alert(1))"),
        Just(")"),
        Just("<https://a.example>"),
        Just("> "),
        Just("- "),
        Just("1. "),
        Just("99999999999. "),
        Just("\n"),
        Just("\n\n"),
        Just("    "),
        Just("a"),
        Just("word "),
        Just("<b>"),
        Just("</b>"),
        Just("&amp;"),
        Just("\\"),
        Just("# "),
        Just("---\n"),
        Just("|"),
        Just("é"),
        Just("😀"),
        Just("\u{202e}"),
        Just("![i](https://i.example/x.png)"),
        Just("[^1]"),
        Just("<script>"),
        Just("  \n"),
    ];
    let html_token = prop_oneof![
        Just("<b>"),
        Just("</b>"),
        Just("<i>"),
        Just("</i>"),
        Just("<em>"),
        Just("<strong>"),
        Just("<del>"),
        Just("<blockquote>"),
        Just("</blockquote>"),
        Just("<ul>"),
        Just("<ol start=\"7\">"),
        Just("<ol start=\"99999999999999999999\">"),
        Just("</ul>"),
        Just("</ol>"),
        Just("<li>"),
        Just("</li>"),
        Just("<a href=\"http://x.example/?a=1&b=2\">"),
        Just("<a href=\"javascript:alert(1)\">"),
        Just("</a>"),
        Just("<p>"),
        Just("</p>"),
        Just("<br>"),
        Just("<pre>"),
        Just("</pre>"),
        Just("<code>"),
        Just("</code>"),
        Just("<script>alert(1)</script>"),
        Just("<img src=\"https://i.example/x.png\">"),
        Just("text"),
        Just(" "),
        Just("\n"),
        Just("\n\n"),
        Just("&lt;"),
        Just("<div>"),
        Just("</div>"),
        Just("<h1>"),
        Just("<hr>"),
    ];
    let md =
        prop::collection::vec(md_token.clone(), 0..80).prop_map(|t| Input::Markdown(t.concat()));
    let html =
        prop::collection::vec(html_token.clone(), 0..80).prop_map(|t| Input::Html(t.concat()));
    // Deep nesting: one opening piece many times, something, the closing piece as often.
    let nested_md = (md_token.clone(), md_token, 0usize..300).prop_map(|(open, mid, n)| {
        Input::Markdown(format!("{}{mid}x{}", open.repeat(n), open.repeat(n)))
    });
    let nested_html = (html_token.clone(), html_token, 0usize..300)
        .prop_map(|(open, mid, n)| Input::Html(format!("{}{mid}x", open.repeat(n))));
    prop_oneof![md, html, nested_md, nested_html]
}

#[test]
fn every_accepted_body_reads_back_renders_exports_and_reimports() {
    let pipeline = Pipeline::new();
    // The corpus: cases that broke something once.
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .expect("the fuzz corpus exists")
        .map(|e| e.expect("readable corpus entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the corpus is in {}", corpus.display());
    for path in files {
        let text = std::fs::read_to_string(&path).expect("corpus files are UTF-8");
        let input = match path.extension().and_then(|e| e.to_str()) {
            Some("html") => Input::Html(text),
            _ => Input::Markdown(text),
        };
        if let Err(e) = pipeline.check(&input) {
            panic!("corpus case {} fails: {e}", path.display());
        }
    }
    // New cases for a bounded time.
    let secs = std::env::var("TB_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let config = RunnerConfig {
        cases: 64,
        failure_persistence: None,
        ..RunnerConfig::default()
    };
    let strategy = inputs();
    let mut batches = 0;
    while Instant::now() < deadline {
        // A runner runs its number of cases once; each batch takes a new one (and new seeds).
        let mut runner = TestRunner::new(config.clone());
        match runner.run(&strategy, |input| pipeline.check(&input)) {
            Ok(()) => batches += 1,
            Err(TestError::Fail(why, input)) => panic!(
                "fuzzing found a failing body: {why}\ninput: {input:?}\nadd it to {} as a .md or .html file",
                corpus.display()
            ),
            Err(TestError::Abort(why)) => panic!("fuzzing aborted: {why}"),
        }
    }
    eprintln!(
        "fuzz: {} bodies through the whole pipeline in {batches} batches",
        pipeline.cases.load(Ordering::Relaxed)
    );
}
