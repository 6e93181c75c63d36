//! A private PostgreSQL cluster for the tests: Debian's PostgreSQL (installed when missing),
//! its own data directory under `target/` and its own port on loopback, started before the
//! tests that use it and stopped afterwards (also when they fail). PostgreSQL refuses to run as
//! root, so as root the cluster belongs to Debian's `postgres` user. It serves TLS with a
//! certificate for `localhost` from a test authority made for the run (`openssl`), whose file
//! the tests find in `TB_TEST_PG_CA` beside an authority that signed nothing.

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
    /// The directory of `ca.pem` (it signed the server's certificate) and `other-ca.pem`
    /// (it did not), for `TB_TEST_PG_CA`.
    pub(crate) ca: PathBuf,
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
        let ca = root.join("target/pg-test-ca");
        certificates(&ca, &data)?;
        let port = crate::bench::free_port()?;
        // Sockets in the data directory: nothing of the machine's own PostgreSQL is touched.
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200 \
             -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key",
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
            ca,
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

/// A test authority (`ca/ca.pem`), the server's key and certificate for `localhost` signed by
/// it (in the data directory, as PostgreSQL wants them: its owner's, 0600), and an authority
/// that signed nothing (`ca/other-ca.pem`).
fn certificates(ca: &Path, data: &Path) -> anyhow::Result<()> {
    if Command::new("openssl").arg("version").output().is_err() {
        crate::apt_install(&["openssl"])?;
    }
    if ca.exists() {
        std::fs::remove_dir_all(ca)?;
    }
    std::fs::create_dir_all(ca)?;
    let openssl = |args: &[&str]| {
        run(Command::new("openssl")
            .args(args)
            .current_dir(ca)
            .stderr(std::process::Stdio::null()))
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for name in ["ca", "other-ca"] {
        let (key, pem, subject) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("/CN=Talkback test {name}"),
        );
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subject];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &pem]);
        openssl(&args)?;
    }
    let mut args = vec!["req", "-subj", "/CN=localhost", "-keyout", "server.key"];
    args.extend(ec);
    args.extend(["-out", "server.csr"]);
    openssl(&args)?;
    std::fs::write(
        ca.join("server.ext"),
        "subjectAltName = DNS:localhost\nbasicConstraints = CA:FALSE\n\
         extendedKeyUsage = serverAuth\n",
    )?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ])?;
    for file in ["server.crt", "server.key"] {
        std::fs::copy(ca.join(file), data.join(file))?;
        std::fs::remove_file(ca.join(file))?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        data.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )?;
    if is_root() {
        run(Command::new("chown")
            .args(["postgres:postgres", "server.crt", "server.key"])
            .current_dir(data))?;
    }
    Ok(())
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
