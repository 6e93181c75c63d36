//! Data-driven unit tests: Markdown → tree → HTML, validation and configuration.

use expect_test::{Expect, expect};

use crate::config::Config;
use crate::content::markdown::{MarkdownError, parse};
use crate::content::render::body_html;

#[track_caller]
fn check_html(markdown: &str, expect: Expect) {
    let mut html = String::new();
    match parse(markdown) {
        Ok(tree) => body_html(&tree, &mut html),
        Err(e) => html = format!("error: {e:?}"),
    }
    expect.assert_eq(&html);
}

#[test]
fn markdown_renders_to_safe_html() {
    check_html(
        "Hello *world* and **you**",
        expect![[r#"<p>Hello <em>world</em> and <strong>you</strong></p>"#]],
    );
    check_html(
        "a\nb  \nc",
        expect![[r#"<p>a
b<br>c</p>"#]],
    );
    check_html(
        "> quoted\n\n- one\n- two",
        expect![[
            r#"<blockquote><p>quoted</p></blockquote><ul><li><p>one</p></li><li><p>two</p></li></ul>"#
        ]],
    );
    check_html(
        "3. three\n4. four",
        expect![[r#"<ol start="3"><li><p>three</p></li><li><p>four</p></li></ol>"#]],
    );
    check_html(
        "```\n<b>code</b>\n```",
        expect![[r#"<pre><code>&lt;b&gt;code&lt;/b&gt;
</code></pre>"#]],
    );
    check_html(
        "`x<y`  ~~gone~~",
        expect![[r#"<p><code>x&lt;y</code>  <del>gone</del></p>"#]],
    );
    check_html("# Heading", expect![[r#"<p><strong>Heading</strong></p>"#]]);
    check_html("---", expect![[r#"<hr>"#]]);
    check_html(
        "[ok](https://example.com/?a=1&b=\"2\")",
        expect![[
            r#"<p><a href="https://example.com/?a=1&amp;b=&quot;2&quot;" rel="nofollow ugc noopener noreferrer" target="_blank">ok</a></p>"#
        ]],
    );
    check_html(
        "<https://auto.example>",
        expect![[
            r#"<p><a href="https://auto.example" rel="nofollow ugc noopener noreferrer" target="_blank">https://auto.example</a></p>"#
        ]],
    );
    check_html(
        "<me@example.com>",
        expect![[
            r#"<p><a href="mailto:me@example.com" rel="nofollow ugc noopener noreferrer" target="_blank">me@example.com</a></p>"#
        ]],
    );
    check_html(
        "![alt](https://img.example/x.png)",
        expect![[
            r#"<p><a href="https://img.example/x.png" rel="nofollow ugc noopener noreferrer" target="_blank">alt</a></p>"#
        ]],
    );
    check_html("", expect![[r#"error: Empty"#]]);
    check_html("   \n  ", expect![[r#"error: Empty"#]]);
}

/// Known XSS shapes from other comment systems' advisories: each must come out as text.
#[test]
fn script_capable_input_becomes_text() {
    check_html(
        "<script>alert(1)</script>",
        expect![[r#"<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"#]],
    );
    check_html(
        "<details open ontoggle=alert(1)>",
        expect![[r#"<p>&lt;details open ontoggle=alert(1)&gt;</p>"#]],
    );
    check_html("[click](javascript:alert(1))", expect![[r#"<p>click</p>"#]]);
    check_html("[click](JaVaScRiPt:alert(1))", expect![[r#"<p>click</p>"#]]);
    check_html(
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        expect![[r#"<p>x</p>"#]],
    );
    check_html("[rel](/relative/path)", expect![[r#"<p>rel</p>"#]]);
    check_html(
        "<img src=x onerror=alert(1)>",
        expect![[r#"<p>&lt;img src=x onerror=alert(1)&gt;</p>"#]],
    );
    check_html(
        "\"><svg/onload=alert(1)>",
        expect![[r#"<p>&quot;&gt;&lt;svg/onload=alert(1)&gt;</p>"#]],
    );
    check_html(
        "[a](https://x.example/\"onmouseover=\"alert(1))",
        expect![[
            r#"<p><a href="https://x.example/&quot;onmouseover=&quot;alert(1)" rel="nofollow ugc noopener noreferrer" target="_blank">a</a></p>"#
        ]],
    );
}

#[test]
fn deep_or_huge_bodies_are_refused_before_work() {
    assert_eq!(
        parse(&">".repeat(9).to_string()).err(),
        Some(MarkdownError::TooDeep)
    );
    assert!(parse(&format!("{} x", ">".repeat(8))).is_ok());
    let nested_lists: String = (0..9).map(|i| format!("{}- x\n", "  ".repeat(i))).collect();
    assert_eq!(parse(&nested_lists).err(), Some(MarkdownError::TooDeep));
    assert_eq!(
        parse(&"a".repeat(16 * 1024 + 1)).err(),
        Some(MarkdownError::TooLong)
    );
    assert!(parse(&"a".repeat(16 * 1024)).is_ok());
    // 16 KiB of nested quotes: refused at depth 9, long before any quadratic work.
    assert_eq!(
        parse(&">".repeat(16 * 1024)).err(),
        Some(MarkdownError::TooDeep)
    );
}

#[track_caller]
fn check_valid(
    f: fn(Option<&str>) -> crate::error::Result<Option<String>>,
    input: &str,
    expect: Expect,
) {
    let out = match f(Some(input)) {
        Ok(v) => format!("{v:?}"),
        Err(crate::error::Error::Client { code, .. }) => serde_json::to_value(code)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned(),
        Err(e) => format!("{e}"),
    };
    expect.assert_eq(&out);
}

#[test]
fn websites_and_emails_are_checked() {
    use crate::content::validate::{email, website};
    check_valid(
        website,
        "https://blog.example/me",
        expect![[r#"Some("https://blog.example/me")"#]],
    );
    check_valid(website, "  ", expect![[r#"None"#]]);
    check_valid(
        website,
        "javascript:alert(1)",
        expect![[r#"invalid_website"#]],
    );
    check_valid(website, "https://", expect![[r#"invalid_website"#]]);
    check_valid(
        website,
        "http://a.example/\"onclick=x",
        expect![[r#"invalid_website"#]],
    );
    check_valid(
        website,
        "ftp://files.example",
        expect![[r#"invalid_website"#]],
    );
    check_valid(
        email,
        "reader@example.com",
        expect![[r#"Some("reader@example.com")"#]],
    );
    check_valid(email, "nobody", expect![[r#"invalid_email"#]]);
    check_valid(email, "a@b", expect![[r#"invalid_email"#]]);
    check_valid(email, "a@@b.example", expect![[r#"invalid_email"#]]);
    // Hardening round two, item 4: what the mailer cannot parse is refused at the door.
    check_valid(email, "a..b@example.com", expect![[r#"invalid_email"#]]);
    check_valid(email, ".a@example.com", expect![[r#"invalid_email"#]]);
    check_valid(email, "jörg@example.com", expect![[r#"invalid_email"#]]);
    check_valid(
        email,
        "reader+tag@mail.example.co.uk",
        expect![[r#"Some("reader+tag@mail.example.co.uk")"#]],
    );
    check_valid(
        email,
        "a@b.example\r\nBcc: x@y.example",
        expect![[r#"invalid_email"#]],
    );
}

#[test]
fn example_config_equals_defaults() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/talkback.toml"
    ))
    .unwrap();
    let parsed: Config = toml::from_str(&text).unwrap();
    assert_eq!(
        parsed,
        Config::default(),
        "examples/talkback.toml must spell out Config::default()"
    );
}

#[test]
fn bad_configs_are_refused() {
    for bad in [
        "[[sites]]\nid = \"has space\"",
        "[[sites]]\nid = \"a\"\norigins = [\"*\"]",
        "[[sites]]\nid = \"a\"\norigins = [\"https://x.example/path\"]",
        "[[sites]]\nid = \"a\"\norigins = [\"x.example\"]",
        "unknown_key = 1",
    ] {
        assert!(Config::from_toml(bad).is_err(), "accepted: {bad}");
    }
    let ok = Config::from_toml(
        "edit_window_secs = 60\n[[sites]]\nid = \"blog\"\norigins = [\"https://blog.example\"]",
    )
    .unwrap();
    assert_eq!(ok.edit_window_secs, 60);
    assert_eq!(ok.sites.len(), 1);
}

#[test]
fn gzip_imports_stop_at_the_decompression_cap() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"plain text").unwrap();
    let small = gz.finish().unwrap();
    assert_eq!(
        crate::transfer::gunzip_if_gzip(small).unwrap(),
        b"plain text"
    );
    assert_eq!(
        crate::transfer::gunzip_if_gzip(b"not gzip".to_vec()).unwrap(),
        b"not gzip"
    );
    // A bomb: far more than the cap (16 MiB here, 1 GiB for real imports), tiny compressed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&vec![0u8; 16 * 1024 * 1024 + 1]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 256 * 1024);
    let err = crate::transfer::gunzip_capped(bomb, 16 * 1024 * 1024).unwrap_err();
    assert!(
        err.to_string().contains("decompresses to more than"),
        "{err}"
    );
}

#[test]
fn files_that_are_not_utf8_are_read_as_windows_1252() {
    let cases: [(&[u8], &str); 3] = [
        (b"O\x92Brien", "O\u{2019}Brien"),
        (
            b"\x93quoted\x94 \x96 5 \x80",
            "\u{201c}quoted\u{201d} \u{2013} 5 \u{20ac}",
        ),
        (b"J\xfcrgen Wei\xdf", "J\u{fc}rgen Wei\u{df}"),
    ];
    for (bytes, text) in cases {
        assert_eq!(
            crate::transfer::read_text(bytes.to_vec()),
            (text.to_owned(), true)
        );
    }
    assert_eq!(
        crate::transfer::read_text("already UTF-8 ’".as_bytes().to_vec()),
        ("already UTF-8 ’".to_owned(), false)
    );
}

#[test]
fn import_times_parse_only_real_dates() {
    let cases = [
        ("2024-03-14 10:02:00", Some(1_710_410_520_000)),
        ("2024-03-14T10:02:00Z", Some(1_710_410_520_000)),
        ("2024-03-14T11:02:00+01:00", Some(1_710_410_520_000)),
        ("2024-03-14T10:00:00.123+01:00", Some(1_710_406_800_123)),
        (" 2024-03-14 10:02:00 ", Some(1_710_410_520_000)),
        ("2024-02-29 00:00:00", Some(1_709_164_800_000)),
        ("2024-02-31 00:00:00", None),
        ("2023-02-29 00:00:00", None),
        ("0000-00-00 00:00:00", None),
        ("2024-13-01 00:00:00", None),
        ("yesterday", None),
        ("", None),
    ];
    for (text, expected) in cases {
        assert_eq!(crate::transfer::parse_time(text), expected, "{text:?}");
    }
}
