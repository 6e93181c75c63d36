//! Repository-wide rules checked as tests: every Rust file says what it is for.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == "node_modules" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let root = crate::workspace_root();
    let mut files = Vec::new();
    for dir in ["crates", "server", "widget", "examples"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 20, "found the sources");
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap_or_default()
                .starts_with("//!")
        })
        .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! paragraph: {missing:?}"
    );
}

/// The folders of `dir` (sorted).
fn folders(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The code of a Rust file without its comments (line comments only: that is all we write).
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_architecture_names_every_crate_and_every_server_folder() {
    let root = crate::workspace_root();
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    for name in folders(&root.join("crates")) {
        if !doc.contains(&format!("`crates/{name}`")) {
            missing.push(format!("crates/{name}"));
        }
    }
    let folders_of_server = folders(&root.join("server/src"));
    assert!(folders_of_server.len() >= 5, "found the server's folders");
    for name in folders_of_server {
        if !doc.contains(&format!("`{name}/`")) {
            missing.push(format!("server/src/{name}/"));
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md does not name: {missing:?}"
    );
}

#[test]
fn the_architecture_keeps_its_lines_within_120_characters() {
    let doc = std::fs::read_to_string(crate::workspace_root().join("ARCHITECTURE.md")).unwrap();
    let long: Vec<String> = doc
        .lines()
        .enumerate()
        .filter(|(_, line)| line.chars().count() > 120)
        .map(|(n, line)| format!("line {}: {} characters", n + 1, line.chars().count()))
        .collect();
    assert!(long.is_empty(), "ARCHITECTURE.md has long lines: {long:?}");
}

#[test]
fn only_the_write_path_transfers_and_the_composition_root_use_the_store() {
    let src = crate::workspace_root().join("server/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let allowed = |relative: &str| {
        relative.starts_with("service/")
            || relative.starts_with("transfer/")
            // The composition root.
            || relative == "lib.rs"
            || relative == "main.rs"
            // Test only: the fuzzer drives the import pipeline, whose comments carry a store status.
            || relative == "fuzz.rs"
    };
    let offenders: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let relative = f.strip_prefix(&src).ok()?.to_string_lossy().into_owned();
            let uses = code_of(f).contains("talkback_store");
            (uses && !allowed(&relative)).then_some(relative)
        })
        .collect();
    assert!(files.len() > 20, "found the server's files");
    assert!(
        offenders.is_empty(),
        "these use talkback_store outside service/, transfer/ and the composition root: {offenders:?}"
    );
}

#[test]
fn the_servers_concerns_depend_on_each_other_in_one_direction() {
    let src = crate::workspace_root().join("server/src");
    let concerns = folders(&src);
    // Which concern each concern's files name (`crate::http::…`).
    let mut edges: Vec<(String, String)> = Vec::new();
    for concern in &concerns {
        let mut files = Vec::new();
        rust_files(&src.join(concern), &mut files);
        let code: String = files.iter().map(|f| code_of(f)).collect();
        for other in concerns.iter().filter(|o| *o != concern) {
            if code.contains(&format!("crate::{other}::"))
                || code.contains(&format!("crate::{other}}}"))
                || code.contains(&format!("crate::{other};"))
            {
                edges.push((concern.clone(), other.clone()));
            }
        }
    }
    // A cycle shows up as a concern reachable from itself.
    let reachable = |from: &str| {
        let mut seen: Vec<String> = Vec::new();
        let mut todo = vec![from.to_owned()];
        while let Some(at) = todo.pop() {
            for (a, b) in &edges {
                if *a == at && !seen.contains(b) {
                    seen.push(b.clone());
                    todo.push(b.clone());
                }
            }
        }
        seen
    };
    let cycles: Vec<&String> = concerns
        .iter()
        .filter(|c| reachable(c).contains(c))
        .collect();
    assert!(
        edges.len() >= 4,
        "found the dependencies between concerns: {edges:?}"
    );
    assert!(
        cycles.is_empty(),
        "concerns in a dependency cycle: {cycles:?} (edges: {edges:?})"
    );
}

#[test]
fn the_error_type_and_pure_code_know_nothing_of_http() {
    let src = crate::workspace_root().join("server/src");
    let mut files = vec![src.join("error.rs")];
    rust_files(&src.join("content"), &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| {
            let code = code_of(f);
            code.contains("actix") || code.contains("crate::http")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(files.len() >= 5, "found the files: {files:?}");
    assert!(offenders.is_empty(), "these name HTTP: {offenders:?}");
}

#[test]
fn stylesheets_lose_comments_and_layout_whitespace_but_not_meaning() {
    let cases = [
        ("a {\n  color: red;\n}\n", "a{color:red}"),
        (
            "/* why */\n.x,\n.y { margin: 0 0 1rem; }",
            ".x,.y{margin:0 0 1rem}",
        ),
        (
            "@media (prefers-color-scheme: dark) {\n  .a .b:hover { color: rgb(1, 2, 3); }\n}",
            "@media (prefers-color-scheme:dark){.a .b:hover{color:rgb(1,2,3)}}",
        ),
        (
            "a { font: 15px/1.5 system-ui,\n    sans-serif; }",
            "a{font:15px/1.5 system-ui,sans-serif}",
        ),
    ];
    for (css, expected) in cases {
        assert_eq!(crate::widget::minify_css(css), expected, "{css:?}");
    }
}

#[test]
fn the_readmes_blog_snippets_are_the_files_in_examples() {
    let root = crate::workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let dir = root.join("examples/integrations");
    let mut files = Vec::new();
    let mut todo = vec![dir];
    while let Some(at) = todo.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(
        files.len() >= 4,
        "Hugo, Jekyll, Zola and WordPress: {files:?}"
    );
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let block = format!("\n{}\n```", text.trim_end());
        assert!(
            readme.contains(&block),
            "README.md does not show {} as it is",
            file.display()
        );
    }
}
