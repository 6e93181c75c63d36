//! `cargo xtask bench --live`: 5,000 idle followers of one thread on the release server (the
//! node side opens them: `widget/e2e/bench/live.mjs`), the server's RSS with them, and how long
//! a new comment takes to reach them all. Prints figures, asserts nothing.

use std::path::Path;
use std::process::Command;

use crate::bench::{SPAM_OFF, build_release_server, serve_release};
use crate::run;

pub(crate) fn bench_live(root: &Path, followers: u32) -> anyhow::Result<()> {
    build_release_server()?;
    crate::ensure_npm_packages(root)?;
    let dir = tempfile::tempdir()?;
    let (server, base) = serve_release(
        root,
        dir.path(),
        &format!(
            "examples_dir = \"\"\nrate_limit_per_minute = 0\nread_rate_limit_per_minute = 0\n\
             live_streams_per_client = 1000000\n[[sites]]\nid = \"demo\"\n{SPAM_OFF}"
        ),
    )?;
    run(Command::new("node")
        .arg(root.join("widget/e2e/bench/live.mjs"))
        .arg(&base)
        .arg(server.0.id().to_string())
        .arg(followers.to_string()))
}
