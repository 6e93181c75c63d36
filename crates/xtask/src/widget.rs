//! The widget and dashboard builds: cargo → wasm32, wasm-bindgen in-process, content-hashed
//! file names, precompressed brotli and gzip twins, `embed.js` filled in with the widget's
//! names and CSS, and `admin.html` naming the dashboard's files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::{cargo, run};

/// Where the built assets go; the server's `assets_dir` default points here.
pub(crate) const OUT_DIR: &str = "target/talkback-widget";

/// Sizes of one built file.
pub(crate) struct Built {
    pub(crate) name: String,
    pub(crate) raw: usize,
    pub(crate) gzip: usize,
    pub(crate) brotli: usize,
}

/// `cargo build` of one of the WASM apps (the package name follows).
const WASM_BUILD: [&str; 7] = [
    "build",
    "--lib",
    "--target",
    "wasm32-unknown-unknown",
    "--profile",
    "wasm-release",
    "-p",
];

/// Where the size build puts its artifacts: its own directory, because a standard library
/// built from source must not mix with the prebuilt one in `target/`.
const SIZE_TARGET_DIR: &str = "target/wasm-size";

/// Builds the widget's WASM and says where it is.
///
/// The shipped build uses the nightly toolchain when it is installed: the standard library
/// rebuilt for size (`-Zbuild-std`, `optimize_for_size`) with panics that abort without
/// formatting a message. Measured on this widget: 14 KB less WASM after brotli (about 10 %).
/// Without nightly (or with `TB_WIDGET_TOOLCHAIN=stable`) the stable build is used; it
/// works the same, only larger.
fn build_wasm(root: &Path, package: &str) -> anyhow::Result<PathBuf> {
    let wasm_path = format!(
        "wasm32-unknown-unknown/wasm-release/{}.wasm",
        package.replace('-', "_")
    );
    let wanted = std::env::var("TB_WIDGET_TOOLCHAIN").unwrap_or_else(|_| "nightly".into());
    if wanted == "nightly" && ensure_nightly_for_size() {
        let built = run(Command::new("rustup")
            .args(["run", "nightly", "cargo"])
            .args(WASM_BUILD)
            .arg(package)
            .args([
                "-Zbuild-std=std,panic_abort",
                "-Zbuild-std-features=optimize_for_size",
            ])
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .env("CARGO_TARGET_DIR", root.join(SIZE_TARGET_DIR))
            .env(
                "RUSTFLAGS",
                "-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none",
            ));
        match built {
            Ok(()) => {
                return Ok(root.join(SIZE_TARGET_DIR).join(&wasm_path));
            }
            Err(e) => eprintln!("warning: the nightly size build failed ({e:#}); using stable"),
        }
    } else if wanted == "nightly" {
        eprintln!("note: no nightly toolchain with rust-src; building the (larger) stable widget");
    }
    run(cargo().args(WASM_BUILD).arg(package))?;
    Ok(root.join("target").join(&wasm_path))
}

/// wasm-bindgen's glue and module for a built WASM file.
fn bindgen(root: &Path, wasm: &Path, name: &str) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let scratch = root.join("target/talkback-bindgen").join(name);
    let _ = std::fs::remove_dir_all(&scratch);
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(wasm)
        .out_name(name)
        .web(true)?
        .typescript(false)
        // TB_WASM_NAMES=1 keeps function names for size work with twiggy.
        .remove_name_section(std::env::var_os("TB_WASM_NAMES").is_none())
        .remove_producers_section(true)
        .generate(&scratch)
        .context("wasm-bindgen")?;
    if scratch.join("snippets").exists() {
        anyhow::bail!("{name} now uses JS snippets; teach xtask to hash and serve them");
    }
    let glue = std::fs::read_to_string(scratch.join(format!("{name}.js")))?;
    let module = std::fs::read(scratch.join(format!("{name}_bg.wasm")))?;
    let (glue, module) = drop_stream_classes(&glue, &module)?;
    Ok((glue.into_bytes(), module))
}

/// Leptos's `csr` feature pulls in server_fn, and with it wasm-streams, whose JavaScript
/// stream classes (`IntoUnderlyingSource`, `…Sink`, `…ByteSource`) are exported from the
/// WASM: exports keep their code alive, though nothing here ever makes such a stream. They
/// leave the glue and the module's exports, and the module's unreachable code goes with them.
fn drop_stream_classes(glue: &str, module: &[u8]) -> anyhow::Result<(String, Vec<u8>)> {
    let mut kept = String::with_capacity(glue.len());
    let mut skipping = false;
    let mut lines = glue.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("export class IntoUnderlying") {
            skipping = true;
        } else if skipping && line.starts_with("if (Symbol.dispose) IntoUnderlying") {
            skipping = false;
            continue;
        } else if line.starts_with("const IntoUnderlying") && line.contains("Finalization = ") {
            // Three lines: the test, the stand-in, the registry.
            lines.next();
            lines.next();
            continue;
        }
        if !skipping {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    anyhow::ensure!(
        !kept.contains("IntoUnderlying") && !kept.contains("intounderlying"),
        "the glue's stream classes changed shape; update drop_stream_classes"
    );
    let mut wasm = walrus::Module::from_buffer(module)?;
    let doomed: Vec<_> = wasm
        .exports
        .iter()
        .filter(|e| e.name.contains("intounderlying"))
        .map(|e| e.id())
        .collect();
    anyhow::ensure!(
        !doomed.is_empty(),
        "no stream classes exported any more: drop drop_stream_classes"
    );
    for id in doomed {
        wasm.exports.delete(id);
    }
    walrus::passes::gc::run(&mut wasm);
    // The glue's import functions that the smaller module no longer calls go too, and those
    // it calls get short names in both (wasm-bindgen's carry a hash each: 2 KB that brotli
    // cannot squeeze).
    let mut short_names = std::collections::HashMap::new();
    for import in wasm.imports.iter_mut() {
        let short = format!("i{}", short_names.len());
        short_names.insert(std::mem::replace(&mut import.name, short.clone()), short);
    }
    let mut glue = String::with_capacity(kept.len());
    let mut dropping = false;
    for line in kept.lines() {
        let entry = line
            .strip_prefix("        ")
            .filter(|rest| !rest.starts_with(' '));
        let mut renamed = None;
        if let Some((name, rest)) = entry.and_then(|rest| rest.split_once(": function"))
            && (name.starts_with("__wbg") || name.starts_with("__wbindgen"))
        {
            anyhow::ensure!(
                kept.matches(name).count() == 1,
                "{name} is used elsewhere in the glue than as its import's key"
            );
            dropping = !short_names.contains_key(name);
            renamed = short_names
                .get(name)
                .map(|short| format!("        {short}: function{rest}"));
        }
        if !dropping {
            glue.push_str(renamed.as_deref().unwrap_or(line));
            glue.push('\n');
        }
        if dropping && entry.is_some_and(|rest| rest.starts_with('}')) {
            dropping = false;
        }
    }
    Ok((glue, wasm.emit_wasm()))
}

/// True when a nightly toolchain is installed; adds its rust-src and wasm32 parts if missing
/// (both no-ops when present). Never installs or updates nightly itself.
fn ensure_nightly_for_size() -> bool {
    let installed = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .is_ok_and(|o| o.status.success());
    installed
        && run(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            "nightly",
        ]))
        .is_ok()
        && run(Command::new("rustup").args([
            "target",
            "add",
            "wasm32-unknown-unknown",
            "--toolchain",
            "nightly",
        ]))
        .is_ok()
}

pub(crate) fn build(root: &Path) -> anyhow::Result<Vec<Built>> {
    let started = Instant::now();
    let wasm = build_wasm(root, "talkback-widget")?;
    let (glue, module) = bindgen(root, &wasm, "talkback")?;
    let glue = minify_glue(&glue)?;

    let out = root.join(OUT_DIR);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let js_name = format!("talkback-{}.js", short_hash(&glue));
    let wasm_name = format!("talkback-{}.wasm", short_hash(&module));
    let css = minify_css(&std::fs::read_to_string(
        root.join("widget/style/talkback.css"),
    )?);
    let loader = minify_loader(&std::fs::read_to_string(
        root.join("widget/loader/embed.js"),
    )?)?
    .replace("__TALKBACK_CSS__", &serde_json::to_string(&css)?)
    .replace("__TALKBACK_JS__", &js_name)
    .replace("__TALKBACK_WASM__", &wasm_name);
    let mut built = Vec::new();
    for (name, bytes) in [
        ("embed.js".to_owned(), loader.into_bytes()),
        (js_name, glue),
        (wasm_name, module),
    ] {
        built.push(write_with_twins(&out, &name, &bytes)?);
    }
    let manifest: serde_json::Value = built
        .iter()
        .map(|b| {
            (
                b.name.clone(),
                serde_json::json!({"raw": b.raw, "gzip": b.gzip, "brotli": b.brotli}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    report("widget", &built, started, "total (CSS is inside embed.js)");
    // Index pages' counts: a script of its own (budget 1.5 KB brotli), not part of the widget.
    let count = minify_loader(&std::fs::read_to_string(
        root.join("widget/loader/count.js"),
    )?)?;
    let count = write_with_twins(&out, "count.js", count.as_bytes())?;
    eprintln!(
        "  {:<28} {:>9} {:>9} {:>9}  (index pages; budget 1,500 brotli)",
        count.name, count.raw, count.gzip, count.brotli
    );
    build_dashboard(root, &out)?;
    Ok(built)
}

/// The moderation dashboard: its WASM, glue, stylesheet and a boot module, content-hashed,
/// and `admin.html`, the page the server serves at `/admin`, naming them.
fn build_dashboard(root: &Path, out: &Path) -> anyhow::Result<Vec<Built>> {
    let started = Instant::now();
    let wasm = build_wasm(root, "talkback-dashboard")?;
    let (glue, module) = bindgen(root, &wasm, "dashboard")?;
    let css = minify_css(&std::fs::read_to_string(
        root.join("crates/dashboard/style/dashboard.css"),
    )?)
    .into_bytes();
    let js_name = format!("dashboard-{}.js", short_hash(&glue));
    let wasm_name = format!("dashboard-{}.wasm", short_hash(&module));
    let css_name = format!("dashboard-{}.css", short_hash(&css));
    let boot = format!(
        "import init from \"./{js_name}\";\ninit({{ module_or_path: new URL(\"./{wasm_name}\", import.meta.url) }});\n"
    );
    let boot_name = format!("dashboard-boot-{}.js", short_hash(boot.as_bytes()));
    let page = std::fs::read_to_string(root.join("crates/dashboard/admin.html"))?
        .replace("__DASHBOARD_CSS__", &css_name)
        .replace("__DASHBOARD_BOOT__", &boot_name);
    let mut built = Vec::new();
    for (name, bytes) in [
        (js_name, glue),
        (wasm_name, module),
        (css_name, css),
        (boot_name, boot.into_bytes()),
        ("admin.html".to_owned(), page.into_bytes()),
    ] {
        built.push(write_with_twins(out, &name, &bytes)?);
    }
    report("dashboard", &built, started, "total (served at /admin)");
    Ok(built)
}

/// A plain script of ours minified (the embed script ships inside the widget's budget):
/// names of its own variables shortened, comments and spacing gone. Placeholders such as
/// `__TALKBACK_CSS__` are globals to the minifier, so they survive for the build to fill in.
pub(crate) fn minify_loader(js: &str) -> anyhow::Result<String> {
    minify(js, oxc_span::SourceType::cjs().with_module(false))
}

/// wasm-bindgen's glue minified as the ES module it is (its exports keep their names): it
/// ships inside the widget's budget, and as generated it is a fifth of the download.
/// Only what the embed script calls stays exported (`mount` and the init function), so the
/// minifier may shorten the rest.
pub(crate) fn minify_glue(js: &[u8]) -> anyhow::Result<Vec<u8>> {
    const EXPORTS: &str = "export { initSync, __wbg_init as default };";
    let js = std::str::from_utf8(js)?;
    anyhow::ensure!(
        js.contains(EXPORTS),
        "wasm-bindgen's glue no longer ends with {EXPORTS:?}; update minify_glue"
    );
    let js = js
        .replace(EXPORTS, "export { __wbg_init as default };")
        .replace("\nexport class ", "\nclass ");
    Ok(minify(&js, oxc_span::SourceType::mjs())?.into_bytes())
}

/// oxc's minifier: compress, mangle, print without spacing.
fn minify(js: &str, kind: oxc_span::SourceType) -> anyhow::Result<String> {
    let allocator = oxc_allocator::Allocator::default();
    let parsed = oxc_parser::Parser::new(&allocator, js, kind).parse();
    anyhow::ensure!(
        parsed.diagnostics.is_empty() && !parsed.panicked,
        "a script to minify does not parse: {:?}",
        parsed.diagnostics
    );
    let mut program = parsed.program;
    let minified = oxc_minifier::Minifier::new(oxc_minifier::MinifierOptions::default())
        .minify(&allocator, &mut program);
    Ok(oxc_codegen::Codegen::new()
        .with_options(oxc_codegen::CodegenOptions::minify())
        .with_scoping(minified.scoping)
        .build(&program)
        .code)
}

/// Our own stylesheets without comments and layout whitespace (they ship inside the
/// widget's budget). Only safe rewrites for the CSS we write: no strings hold these sequences.
pub(crate) fn minify_css(css: &str) -> String {
    let mut text = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        text.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    text.push_str(rest);
    let mut out = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    for (from, to) in [
        (" {", "{"),
        ("{ ", "{"),
        ("; ", ";"),
        (" }", "}"),
        (";}", "}"),
        (", ", ","),
        (": ", ":"),
    ] {
        out = out.replace(from, to);
    }
    out
}

fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(5)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_with_twins(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<Built> {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes)?;
    let mut brotli = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut brotli, 4096, 11, 22);
        writer.write_all(bytes)?;
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    let gzip = gz.finish()?;
    std::fs::write(dir.join(format!("{name}.br")), &brotli)?;
    std::fs::write(dir.join(format!("{name}.gz")), &gzip)?;
    Ok(Built {
        name: name.to_owned(),
        raw: bytes.len(),
        gzip: gzip.len(),
        brotli: brotli.len(),
    })
}

fn report(what: &str, built: &[Built], started: Instant, total_label: &str) {
    eprintln!(
        "{what} assets in {OUT_DIR} ({:.1} s):",
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "  {:<28} {:>9} {:>9} {:>9}",
        "file", "raw", "gzip -9", "brotli 11"
    );
    for b in built {
        eprintln!(
            "  {:<28} {:>9} {:>9} {:>9}",
            b.name, b.raw, b.gzip, b.brotli
        );
    }
    let total = |f: fn(&Built) -> usize| built.iter().map(f).sum::<usize>();
    eprintln!(
        "  {:<28} {:>9} {:>9} {:>9}",
        total_label,
        total(|b| b.raw),
        total(|b| b.gzip),
        total(|b| b.brotli)
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_minified_loader_keeps_its_placeholders_and_dynamic_import() {
        let source = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../widget/loader/embed.js"),
        )
        .unwrap();
        let min = super::minify_loader(&source).unwrap();
        assert!(
            min.len() * 10 < source.len() * 6,
            "{} of {}",
            min.len(),
            source.len()
        );
        for kept in [
            "__TALKBACK_CSS__",
            "/assets/__TALKBACK_JS__",
            "/assets/__TALKBACK_WASM__",
            "import(",
            "talkbackProof",
            "/api/v1/challenge?site=",
        ] {
            assert!(min.contains(kept), "{kept} missing from {min}");
        }
    }
}
