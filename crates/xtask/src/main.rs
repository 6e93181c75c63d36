//! `cargo xtask`: Talkback's build, run and test commands, so that nothing needs downloading
//! at run time (no trunk, no cargo-leptos, no wasm-bindgen CLI). Shell-outs go to cargo,
//! rustup, apt-get, npm and node only.

mod bench;
mod bench_durability;
mod bench_live;
mod bench_pg;
mod bench_spam;
mod conformance;
mod pg;
mod widget;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Talkback's build, run and test commands"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the widget to WASM and write hashed, precompressed assets and embed.js.
    BuildWidget,
    /// Build everything and serve the demo blog at http://127.0.0.1:8080 (args go to `talkback serve`).
    Serve {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the self-contained release binary (widget and dashboard inside) into target/dist/,
    /// with the example nginx configuration, systemd unit and settings beside it.
    Dist,
    /// Install what the tests need, then run every check and test (what CI runs).
    Test,
    /// Tests on a private PostgreSQL cluster started for them and stopped afterwards (installs
    /// Debian's PostgreSQL when missing): the backend's own, or `cargo test` with the given
    /// arguments (`cargo xtask test-pg -p talkback-server --test it postgres`).
    TestPg {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Same as `test`.
    Ci,
    /// Only the browser tests (expects `cargo xtask build-widget` and a debug server build).
    E2e,
    /// Only the API's conformance to its OpenAPI document, checked by schemathesis.
    CheckApi,
    /// Benchmark the release server against Isso 0.14 with wrk; prints figures, asserts nothing.
    Bench {
        /// Seconds per load scenario.
        #[arg(long, default_value_t = 5)]
        seconds: u32,
        /// Skip the Isso side (no PyPI needed).
        #[arg(long)]
        no_isso: bool,
        /// Also measure both widgets in Chromium (bytes, first comment painted, interactive).
        #[arg(long)]
        browser: bool,
        /// Instead: time importing a synthetic 50,000-comment WordPress export.
        #[arg(long)]
        import: bool,
        /// Instead: a hostile reader's memory attack (huge sub-thread, cache-busting variants,
        /// junk pages); prints the server's RSS.
        #[arg(long)]
        attack: bool,
        /// Instead: the moderation API (queue, keyset pages, search) over 100,000 comments.
        #[arg(long)]
        moderation: bool,
        /// Instead: a spam bot against the default anti-spam rules, readers posting through the
        /// widget in Chromium, the proof of work's solve time, the filter's precision/recall.
        #[arg(long)]
        spam: bool,
        /// Instead: idle followers of one thread's live updates (default 5,000): the server's
        /// RSS with them open, and how long a new comment takes to reach them all.
        #[arg(long, num_args = 0..=1, default_missing_value = "5000")]
        live: Option<u32>,
        /// Instead: durable comment creation on sled with the real sync against sled's own
        /// flush (the durability before power cuts were tested), same run, as a ratio.
        #[arg(long)]
        durability: bool,
        /// Instead: PostgreSQL beside sled (1 and 3 servers), and a scale run of this many
        /// comments on both backends (default 1,000,000).
        #[arg(long, num_args = 0..=1, default_missing_value = "1000000")]
        postgres: Option<u64>,
        /// Instead: the scale run alone on sled, with this many comments (default 1,000,000).
        /// The server's read side takes extra settings from `TB_BENCH_SETTINGS` (TOML lines).
        #[arg(long, num_args = 0..=1, default_missing_value = "1000000")]
        scale: Option<u64>,
        /// With `--scale`: keep the stores in this directory, and read them again on the next
        /// run instead of importing anew.
        #[arg(long, requires = "scale")]
        keep: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match Cli::parse().command {
        Cmd::BuildWidget => widget::build(&root).map(|_| ()),
        Cmd::Serve { args } => serve(&root, &args),
        Cmd::Dist => dist(&root),
        Cmd::Test | Cmd::Ci => test(&root),
        Cmd::E2e => e2e(&root),
        Cmd::TestPg { args } => {
            let cluster = pg::Cluster::start(&root)?;
            let args = if args.is_empty() {
                vec!["-p".to_owned(), "talkback-store-pg".to_owned()]
            } else {
                args
            };
            run(cargo()
                .arg("test")
                .args(&args)
                .env("TB_TEST_PG", &cluster.url)
                .env("TB_TEST_PG_CA", &cluster.ca))
        }
        Cmd::CheckApi => {
            build_server(false, false)?;
            conformance::check_api(&root)
        }
        Cmd::Bench { import: true, .. } => bench::bench_import(&root),
        Cmd::Bench { attack: true, .. } => bench::bench_attack(&root),
        Cmd::Bench {
            durability: true,
            seconds,
            ..
        } => bench_durability::bench_durability(&root, seconds),
        Cmd::Bench { spam: true, .. } => bench_spam::bench_spam(&root),
        Cmd::Bench {
            live: Some(followers),
            ..
        } => bench_live::bench_live(&root, followers),
        Cmd::Bench {
            scale: Some(scale),
            seconds,
            keep,
            ..
        } => bench_pg::bench_scale(&root, seconds, scale, keep.as_deref()),
        Cmd::Bench {
            postgres: Some(scale),
            seconds,
            ..
        } => bench_pg::bench_postgres(&root, seconds, scale),
        Cmd::Bench {
            moderation: true,
            seconds,
            ..
        } => bench::bench_moderation(&root, seconds),
        Cmd::Bench {
            seconds,
            no_isso,
            browser,
            ..
        } => bench::bench(&root, seconds, !no_isso, browser),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs a command, failing with its name when it fails.
pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("$ {}", describe(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", describe(cmd)))?;
    if !status.success() {
        bail!("failed ({status}): {}", describe(cmd));
    }
    Ok(())
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program().to_string_lossy().into_owned())
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn serve(root: &Path, args: &[String]) -> anyhow::Result<()> {
    ensure_wasm_target()?;
    widget::build(root)?;
    run(cargo()
        .args([
            "run",
            "--release",
            "-p",
            "talkback-server",
            "--bin",
            "talkback",
            "--",
            "serve",
        ])
        .args(args))
}

/// Builds the `talkback` binary, in release or debug, with the widget and dashboard inside
/// (`embed-assets`, which needs `widget::build` first) or reading them from a directory.
pub(crate) fn build_server(release: bool, embedded: bool) -> anyhow::Result<()> {
    let mut cmd = cargo();
    cmd.args(["build", "-p", "talkback-server", "--bin", "talkback"]);
    if release {
        cmd.arg("--release");
    }
    if embedded {
        cmd.args(["--features", "embed-assets"]);
    }
    run(&mut cmd)
}

fn dist(root: &Path) -> anyhow::Result<()> {
    ensure_wasm_target()?;
    widget::build(root)?;
    build_server(true, true)?;
    let name = format!(
        "talkback-{}-{}-linux",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    );
    let out = root.join("target/dist").join(&name);
    std::fs::create_dir_all(&out)?;
    let files = [
        ("target/release/talkback", "talkback"),
        ("examples/talkback.toml", "talkback.example.toml"),
        ("examples/nginx/talkback.conf", "nginx-talkback.conf"),
        ("examples/systemd/talkback.service", "talkback.service"),
        ("LICENSE", "LICENSE"),
    ];
    for (from, to) in files {
        std::fs::copy(root.join(from), out.join(to)).with_context(|| format!("copy {from}"))?;
    }
    let size = std::fs::metadata(out.join("talkback"))?.len();
    eprintln!(
        "{}: talkback ({:.1} MB, widget and dashboard inside) and its example configuration\n\
         next: {}/talkback init --site myblog --origin https://blog.example",
        out.display(),
        size as f64 / 1e6,
        out.display()
    );
    Ok(())
}

fn ensure_wasm_target() -> anyhow::Result<()> {
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// Debian's Chromium and ChromeDriver, installed once.
pub(crate) fn ensure_chromium() -> anyhow::Result<()> {
    if Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists() {
        return Ok(());
    }
    apt_install(&["chromium", "chromium-driver"])
}

/// Installs Debian packages (through sudo when not root).
/// Whether we run as root (apt without sudo; PostgreSQL under its own user).
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

pub(crate) fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let is_root = is_root();
    let apt = |args: &[&str]| {
        let mut cmd = if is_root {
            Command::new("apt-get")
        } else {
            Command::new("sudo")
        };
        if !is_root {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut cmd)
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    apt(&args)
}

/// Debian's fuse3 (`fusermount3`) for the power-cut tests' file system; those tests and the
/// full-disk one mount file systems, so they run (`TB_POWERCUT`) only as root.
fn ensure_fuse() -> anyhow::Result<bool> {
    if !is_root() {
        eprintln!(
            "warning: not root: the power-cut and full-disk tests mount file systems and will not run"
        );
        return Ok(false);
    }
    if !Path::new("/dev/fuse").exists() {
        bail!("the power-cut tests need /dev/fuse (FUSE in the kernel)");
    }
    if !Path::new("/usr/bin/fusermount3").exists() {
        apt_install(&["fuse3"])?;
    }
    Ok(true)
}

/// Debian's nginx, openssl (the test's certificate) and systemd-analyze (the unit's check).
fn ensure_proxy_tools() -> anyhow::Result<()> {
    let missing: Vec<&str> = [
        ("/usr/sbin/nginx", "nginx"),
        ("/usr/bin/openssl", "openssl"),
        ("/usr/bin/systemd-analyze", "systemd"),
    ]
    .into_iter()
    .filter(|(path, _)| !Path::new(path).exists())
    .map(|(_, package)| package)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // Installing nginx starts it on port 80 unless policy-rc.d says no: the test starts its
    // own, and nothing may be left running.
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let hold = !policy.exists() && std::fs::write(policy, "#!/bin/sh\nexit 101\n").is_ok();
    if hold {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(policy, std::fs::Permissions::from_mode(0o755))?;
    }
    let installed = apt_install(&missing);
    if hold {
        std::fs::remove_file(policy)?;
    }
    installed
}

fn ensure_npm_packages(root: &Path) -> anyhow::Result<()> {
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(root.join("widget/e2e")))
}

fn test(root: &Path) -> anyhow::Result<()> {
    ensure_wasm_target()?;
    ensure_chromium()?;
    ensure_npm_packages(root)?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args([
        "clippy",
        "-p",
        "talkback-api",
        "-p",
        "talkback-widget",
        "-p",
        "talkback-dashboard",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;
    check_api_dependencies()?;
    let power_cuts = ensure_fuse()?;
    widget::build(root)?;
    // The body fuzzer runs a full minute here (2 s in a plain `cargo test`). The PostgreSQL
    // backend's tests get a private cluster, stopped when they are done (or failed); its URL's
    // variable is not TALKBACK_*, which the servers the tests start would read as settings.
    {
        let cluster = pg::Cluster::start(root)?;
        let mut tests = cargo();
        tests
            .args(["test", "--workspace"])
            .env("TB_FUZZ_SECS", "60")
            .env("TB_TEST_PG", &cluster.url)
            .env("TB_TEST_PG_CA", &cluster.ca);
        if power_cuts {
            tests.env("TB_POWERCUT", "1");
        }
        run(&mut tests)?;
    }
    run(cargo()
        .args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    e2e(root)?;
    conformance::check_api(root)?;
    eprintln!("all checks passed");
    Ok(())
}

/// The wire crate must stay IO-free: no sled, actix or tokio anywhere in its tree.
fn check_api_dependencies() -> anyhow::Result<()> {
    let output = cargo()
        .args([
            "tree",
            "-p",
            "talkback-api",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--target",
            "all",
        ])
        .output()
        .context("cargo tree")?;
    if !output.status.success() {
        bail!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tree = String::from_utf8_lossy(&output.stdout);
    for forbidden in ["sled", "actix-web", "actix-rt", "tokio"] {
        if tree
            .lines()
            .any(|l| l.split_whitespace().next() == Some(forbidden))
        {
            bail!("talkback-api depends on {forbidden}; the wire crate must not do IO");
        }
    }
    eprintln!("talkback-api depends on none of sled, actix, tokio");
    Ok(())
}

fn e2e(root: &Path) -> anyhow::Result<()> {
    if !root.join("widget/e2e/node_modules").exists() {
        ensure_npm_packages(root)?;
    }
    ensure_proxy_tools()?;
    // The binary as `cargo xtask dist` makes it (widget and dashboard inside), in debug: the
    // proxy test runs it with no assets directory, the other tests name one.
    build_server(false, true)?;
    // Several servers behind nginx share one PostgreSQL database (a private cluster again).
    let cluster = pg::Cluster::start(root)?;
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1", "widget/e2e/"])
        .env("TB_E2E_PG", &cluster.url)
        .env("TB_E2E_BIN", root.join("target/debug/talkback"))
        .env("TB_E2E_ASSETS", root.join("target/talkback-widget"))
        .env("TB_E2E_EXAMPLES", root.join("examples")))
}

#[cfg(test)]
mod tidy;
