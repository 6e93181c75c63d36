//! Importing real-looking exports of WordPress, Disqus, Isso and Remark42: threading,
//! statuses, times and counts come through; broken items are reported one by one; a second
//! run adds nothing; the result reads back through the API.

use std::path::{Path, PathBuf};

use expect_test::{Expect, expect};
use serde_json::Value;
use talkback_server::transfer::{Format, ImportReport, import_file};

use crate::support::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The Isso fixture is SQL; build the database file from it.
fn isso_db(dir: &Path) -> PathBuf {
    let path = dir.join("isso.db");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(&std::fs::read_to_string(fixture("isso.sql")).unwrap())
        .unwrap();
    path
}

fn run_import(dir: &Path, format: Format, file: &Path) -> ImportReport {
    let store = open_service(&test_config(dir));
    import_file(store.as_ref(), &blog_site(), format, file, false).unwrap()
}

/// "author: text" lines, replies indented, as the API returns the thread.
fn outline(base: &str, page: &str) -> String {
    fn walk(comments: &Value, depth: usize, out: &mut String) {
        for c in comments.as_array().unwrap() {
            let mut text = String::new();
            plain(&c["body"], &mut text);
            let who = if c["deleted"] == true {
                "(deleted)".to_owned()
            } else {
                c["author"].as_str().unwrap().to_owned()
            };
            out.push_str(&format!(
                "{}{who}: {}\n",
                "  ".repeat(depth),
                text.chars().take(110).collect::<String>()
            ));
            walk(&c["replies"], depth + 1, out);
        }
    }
    let t = get(base, &format!("/api/v1/threads?site=blog&page={page}")).body;
    let mut out = format!("total {} | title {}\n", t["total"], t["title"]);
    walk(&t["comments"], 0, &mut out);
    out
}

/// The text of a body tree, with `*`/`_` around strong/emphasis and `<href>` after links.
fn plain(node: &Value, out: &mut String) {
    match node {
        Value::String(s) if s == "line_break" => out.push_str(" | "),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let block = item
                    .get("paragraph")
                    .or(item.get("quote"))
                    .or(item.get("list"));
                if i > 0 && block.is_some() {
                    out.push_str(" / ");
                }
                plain(item, out);
            }
        }
        Value::Object(o) => {
            for (kind, inner) in o {
                match kind.as_str() {
                    "text" | "code" => out.push_str(inner.as_str().unwrap_or_default()),
                    "strong" => {
                        out.push('*');
                        plain(inner, out);
                        out.push('*');
                    }
                    "emph" => {
                        out.push('_');
                        plain(inner, out);
                        out.push('_');
                    }
                    "quote" => {
                        out.push('>');
                        plain(inner, out);
                    }
                    "link" => {
                        plain(&inner["children"], out);
                        out.push_str(&format!("<{}>", inner["href"].as_str().unwrap_or_default()));
                    }
                    "list" => plain(&inner["items"], out),
                    _ => plain(inner, out),
                }
            }
        }
        _ => {}
    }
}

fn reasons(report: &ImportReport) -> String {
    let problems = report.problems.iter().map(|why| format!("file: {why}\n"));
    let skipped = report
        .skipped
        .iter()
        .map(|(id, why)| format!("{id}: {why}\n"));
    problems.chain(skipped).collect()
}

#[track_caller]
fn check(format: Format, file: PathBuf, page: &str, expect_report: Expect, expect_thread: Expect) {
    let dir = tempfile::tempdir().unwrap();
    let report = run_import(dir.path(), format, &file);
    expect_report.assert_eq(&format!(
        "imported {} in {} pages\n{}",
        report.imported,
        report.pages,
        reasons(&report)
    ));
    assert!(
        report.adds_up(),
        "every comment in the file is accounted for: {report:?}"
    );
    let again = run_import(dir.path(), format, &file);
    assert_eq!(
        (again.imported, again.already_present),
        (0, report.imported),
        "a second run adds nothing"
    );
    assert!(again.adds_up(), "{again:?}");
    let db = dir.path().join("db");
    let server = TestServer::start_with(move |c| c.database = db);
    expect_thread.assert_eq(&outline(&server.base, page));
}

#[test]
fn wordpress_wxr() {
    check(
        Format::Wordpress,
        fixture("wordpress.xml"),
        "/2024/03/working-smarter",
        expect![[r#"
            imported 7 in 2 pages
            wp:12:106: in the trash
            wp:12:109: unreadable date "0000-00-00 00:00:00"
            wp:12:108: its parent wp:12:999 is missing
        "#]],
        expect![[r#"
            total 3 | title "A Working Smarter Conversation"
            Jürgen Weiß: Great post & great list. / I *stopped* doing Friday status meetings. | Nobody missed them.
              Margaret Holloway: Thanks, Jürgen! The list<https://quiet-workshop.example/list> is here. / not a link
                Zoë 日本: Third level — <script>alert(3)</script> stays text, a real script does not.
        "#]],
    );
}

#[test]
fn disqus_xml() {
    check(
        Format::Disqus,
        fixture("disqus.xml"),
        "/2024/03/working-smarter",
        expect![[r#"
            imported 4 in 1 pages
            disqus:9006: unreadable date "yesterday"
            disqus:9005: deleted at the source, with no replies to keep it for
        "#]],
        expect![[r#"
            total 2 | title "A Working Smarter Conversation"
            Amélie Poulain: Bonjour & merci ! C’est _très_ juste.
              (deleted): 
                Третий: Replying to a deleted comment <still> works.
        "#]],
    );
}

#[test]
fn isso_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = isso_db(dir.path());
    check(
        Format::Isso,
        db,
        "/2024/03/working-smarter",
        expect![[r#"
            imported 6 in 2 pages
        "#]],
        expect![[r#"
            total 3 | title "A Working Smarter Conversation"
            Ødegård: First, with *Markdown* & <html>.
              (deleted): 
                Третий: Reply to a deleted comment, three levels down.
            Mallory: bad link and <script>x</script>
        "#]],
    );
}

#[test]
fn remark42_backup() {
    check(
        Format::Remark42,
        fixture("remark42.jsonl"),
        "/2024/03/working-smarter",
        expect![[r#"
            imported 4 in 1 pages
            line 6: unreadable JSON: EOF while parsing a string at line 1 column 56
            remark42:c-6: unreadable time "not a time"
        "#]],
        expect![[r#"
            total 3 | title "A Working Smarter Conversation"
            Łukasz: First *rendered*
              Bea: A reply & more
                (deleted): 
                  Cem: Under a _deleted_ one
        "#]],
    );
}

#[test]
fn gzipped_remark42_backups_are_read_too() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("backup.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, &std::fs::read(fixture("remark42.jsonl")).unwrap())
        .unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    assert_eq!(run_import(dir.path(), Format::Remark42, &gz).imported, 4);
}

#[test]
fn statuses_times_and_pingbacks_are_kept_exactly() {
    let dir = tempfile::tempdir().unwrap();
    run_import(dir.path(), Format::Wordpress, &fixture("wordpress.xml"));
    let store = open_service(&test_config(dir.path()));
    let status = |source: &str| {
        let id = store
            .store()
            .comment_by_source("blog", source)
            .unwrap()
            .unwrap();
        store.store().comment(id).unwrap().unwrap()
    };
    use talkback_store::Status;
    assert_eq!(status("wp:12:104").status, Status::Pending);
    assert_eq!(status("wp:12:105").status, Status::Spam);
    assert_eq!(status("wp:12:107").status, Status::Pingback);
    let first = status("wp:12:101");
    assert_eq!(first.created, 1_710_410_520_000, "2024-03-14 10:02:00 GMT");
    assert_eq!(first.email.as_deref(), Some("juergen@example.de"));
    assert_eq!(first.ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(first.website.as_deref(), Some("https://juergen.example"));
    assert_eq!(
        status("wp:12:103").website,
        None,
        "WordPress's empty http:// is no website"
    );
    let page = store
        .store()
        .page("blog", "/2024/03/working-smarter")
        .unwrap()
        .unwrap();
    assert_eq!(
        page.url.as_deref(),
        Some("https://quiet-workshop.example/2024/03/working-smarter/")
    );
    let list = status("wp:15:201");
    assert!(
        list.body_tree.contains("\"quote\"") && list.body_tree.contains("\"list\""),
        "{}",
        list.body_tree
    );
}

#[test]
fn broken_files_report_what_they_could_not_read_and_import_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read_to_string(fixture("wordpress.xml")).unwrap();
    // Truncated in the middle of comment 103.
    let cut = full.find("Third level").unwrap();
    let truncated = dir.path().join("truncated.xml");
    std::fs::write(&truncated, &full[..cut]).unwrap();
    let report = run_import(dir.path(), Format::Wordpress, &truncated);
    assert_eq!(report.imported, 2, "{report:?}");
    assert!(
        reasons(&report).contains("wp:12:103: the file ends inside this comment"),
        "{}",
        reasons(&report)
    );
    assert!(reasons(&report).contains("file: the file ends inside"));

    // Latin-1 bytes under a UTF-8 declaration, and a huge body.
    let huge = format!("<p>{}</p>", "x".repeat(70_000));
    let latin = full
        .replace("Jürgen Weiß", "J\u{0}rgen")
        .replace("Great post", &huge);
    let mut bytes = latin.into_bytes();
    let at = bytes.iter().position(|&b| b == 0).unwrap();
    bytes[at] = 0xFC; // ü in Latin-1, invalid as UTF-8
    let odd = dir.path().join("latin1.xml");
    std::fs::write(&odd, bytes).unwrap();
    let other = tempfile::tempdir().unwrap();
    let report = run_import(other.path(), Format::Wordpress, &odd);
    let why = reasons(&report);
    assert!(why.contains("file: not UTF-8"), "{why}");
    assert!(why.contains("wp:12:101: the body is"), "{why}");
    assert!(
        why.contains("wp:12:102: its parent wp:12:101 was not imported"),
        "{why}"
    );
    assert!(report.imported >= 3, "{report:?}");

    let missing = run_import(other.path(), Format::Disqus, &fixture("wordpress.xml"));
    assert!(reasons(&missing).contains("not a Disqus export"));
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not sqlite").unwrap();
    assert!(
        reasons(&run_import(other.path(), Format::Isso, &junk))
            .contains("not a readable Isso database")
    );
}

#[test]
fn imported_threads_can_move_to_new_urls() {
    let dir = tempfile::tempdir().unwrap();
    run_import(dir.path(), Format::Wordpress, &fixture("wordpress.xml"));
    let csv = dir.path().join("moves.csv");
    std::fs::write(&csv, "# old,new\nhttps://quiet-workshop.example/2024/03/working-smarter/,/posts/working-smarter\n/nowhere,/x\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_talkback"))
        .args(["remap", "--site", "demo", "--csv"])
        .arg(&csv)
        .env("TALKBACK_DATABASE", dir.path().join("db"))
        .output()
        .unwrap();
    // The CLI's default config has only the "demo" site; the import went to "blog".
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "skipped /2024/03/working-smarter: no comments there\nskipped /nowhere: no comments there\n"
    );
    let store = open_service(&test_config(dir.path()));
    let pair = (
        "/2024/03/working-smarter".to_owned(),
        "/posts/working-smarter".to_owned(),
    );
    assert_eq!(
        store.move_pages("blog", &[pair]).unwrap(),
        ["moved 6 comments /2024/03/working-smarter -> /posts/working-smarter"]
    );
    assert_eq!(
        store
            .store()
            .counts(
                "blog",
                &["/posts/working-smarter", "/2024/03/working-smarter"]
            )
            .unwrap(),
        vec![3, 0]
    );
}

#[test]
fn plain_permalinks_get_a_thread_each_and_a_repeated_comment_id_is_its_own_comment() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("wordpress-plain-permalinks.xml");
    let report = run_import(dir.path(), Format::Wordpress, &file);
    assert_eq!(
        (report.items, report.imported, report.already_present),
        (6, 4, 0)
    );
    expect![[r#"
        wp:4:13: in the trash
        wp:7:15: unreadable date "bad date"
    "#]]
    .assert_eq(&reasons(&report));
    assert!(report.adds_up(), "{report:?}");
    let again = run_import(dir.path(), Format::Wordpress, &file);
    assert_eq!(
        (again.imported, again.already_present, again.skipped.len()),
        (0, 4, 2),
        "a second run adds nothing and reports only the same comments as present"
    );
    assert!(again.adds_up());
    let db = dir.path().join("db");
    let server = TestServer::start_with(move |c| c.database = db);
    expect![[r#"
        total 2 | title "First post"
        Ann: Ann on the first post.
          Ben: Ben answers Ann.
    "#]]
    .assert_eq(&outline(&server.base, "/?p=4"));
    expect![[r#"
        total 2 | title "Second post"
        Cleo: Cleo on the second post, with the same comment id.
          Dan: Dan answers Cleo.
    "#]]
    .assert_eq(&outline(&server.base, "/?p=9"));
    assert_eq!(
        outline(&server.base, "/"),
        "total 0 | title null\n",
        "the blog's root has no thread"
    );
}

#[test]
fn a_database_imported_before_ids_named_their_post_imports_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("wordpress.xml");
    run_import(dir.path(), Format::Wordpress, &file);
    // Rewrite the stored source ids to the old form (`wp:101`), as an older import left them.
    {
        let store = open_service(&test_config(dir.path()));
        let exported = talkback_server::transfer::talkback::export(store.as_ref(), "blog").unwrap();
        let old = regex_free_replace(&exported);
        let legacy = tempfile::tempdir().unwrap();
        let legacy_store = open_service(&test_config(legacy.path()));
        talkback_server::transfer::talkback::import_talkback(
            legacy_store.as_ref(),
            &blog_site(),
            &old,
            false,
        )
        .unwrap();
        drop(legacy_store);
        let again = {
            let store = open_service(&test_config(legacy.path()));
            import_file(
                store.as_ref(),
                &blog_site(),
                Format::Wordpress,
                &file,
                false,
            )
            .unwrap()
        };
        assert_eq!(again.imported, 0, "{again:?}");
        assert!(again.adds_up(), "{again:?}");
    }
}

/// `"wp:12:101"` → `"wp:101"` in an export's ids.
fn regex_free_replace(text: &str) -> String {
    let mut out = text.to_owned();
    for post in ["12", "15"] {
        out = out.replace(&format!("\"wp:{post}:"), "\"wp:");
    }
    out
}
