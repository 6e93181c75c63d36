//! A private PostgreSQL cluster for the tests: Debian's PostgreSQL (installed when missing),
//! its own data directory under `target/` and its own port on loopback, started before the
//! tests that use it and stopped afterwards (also when they fail). PostgreSQL refuses to run as
//! root, so as root the cluster belongs to Debian's `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::{is_root, run};

/// A running cluster; stopped when dropped.
pub(crate) struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    /// `postgres://talkback@127.0.0.1:PORT/talkback`, for `TB_TEST_PG`.
    pub(crate) url: String,
}

/// The newest installed PostgreSQL's programs (`/usr/lib/postgresql/N/bin`), if any.
fn installed() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A command run as the cluster's owner: `postgres` when we are root, else ourselves.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

impl Cluster {
    /// Installs PostgreSQL if needed, then creates and starts a fresh cluster in
    /// `target/pg-test` with a database `talkback` owned by the role `talkback`.
    pub(crate) fn start(root: &Path) -> anyhow::Result<Self> {
        let bin = match installed() {
            Some(bin) => bin,
            None => {
                crate::apt_install(&["postgresql"])?;
                installed().context("PostgreSQL was installed but no initdb was found")?
            }
        };
        let data = root.join("target/pg-test");
        if data.exists() {
            // A cluster left running by an interrupted run: stop it, then start afresh.
            let _ = as_owner(&bin.join("pg_ctl"))
                .args(["stop", "-m", "immediate", "-D"])
                .arg(&data)
                .output();
            std::fs::remove_dir_all(&data)
                .with_context(|| format!("removing {}", data.display()))?;
        }
        std::fs::create_dir_all(&data)?;
        if is_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&data))?;
            // The owner must reach the directory through target/.
            run(Command::new("chmod").args(["o+x"]).arg(root.join("target")))?;
        }
        run(as_owner(&bin.join("initdb"))
            .args([
                "--auth=trust",
                "--username=talkback",
                "--encoding=UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .stdout(std::process::Stdio::null()))?;
        let port = crate::bench::free_port()?;
        // Sockets in the data directory: nothing of the machine's own PostgreSQL is touched.
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200",
            data.display()
        );
        run(as_owner(&bin.join("pg_ctl"))
            .args(["start", "-w", "-s", "-l"])
            .arg(data.join("log"))
            .args(["-D"])
            .arg(&data)
            .args(["-o", &options]))?;
        let cluster = Self {
            bin,
            data,
            url: format!("postgres://talkback@127.0.0.1:{port}/talkback"),
        };
        let created = Command::new(cluster.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "talkback",
                "talkback",
            ])
            .status()?;
        if !created.success() {
            bail!("createdb failed");
        }
        eprintln!("private PostgreSQL cluster at {}", cluster.url);
        Ok(cluster)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let stopped = as_owner(&self.bin.join("pg_ctl"))
            .args(["stop", "-m", "fast", "-s", "-D"])
            .arg(&self.data)
            .status();
        if !matches!(stopped, Ok(s) if s.success()) {
            eprintln!(
                "warning: could not stop the test cluster in {}",
                self.data.display()
            );
        }
    }
}
