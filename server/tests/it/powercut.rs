//! Durability against power cuts, not only killed processes: the database lives on a file
//! system that forgets every write not yet fsynced (`talkback-powercut`), the real server runs
//! under concurrent writers, and the power is cut at a random moment (the server, and
//! PostgreSQL, SIGKILLed, then everything unsynced forgotten). Restarted on what is left,
//! every comment acknowledged with a 201 must be there, on sled and on PostgreSQL (its data
//! directory on the same kind of file system). These tests need root, /dev/fuse and Debian's
//! `fuse3`, so they run when `TB_POWERCUT` is set (`cargo xtask test` installs fuse3 and sets
//! it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use talkback_powercut::{CutReport, Mounted};

use crate::crash::all_ids;
use crate::support::*;

/// A disk that loses power: the backing directory is what survives, the mount what the
/// server sees.
struct Disk {
    backing: PathBuf,
    mountpoint: PathBuf,
}

impl Disk {
    fn new(dir: &Path) -> Self {
        let disk = Self {
            backing: dir.join("disk"),
            mountpoint: dir.join("mnt"),
        };
        std::fs::create_dir_all(&disk.backing).unwrap();
        std::fs::create_dir_all(&disk.mountpoint).unwrap();
        disk
    }

    fn power_on(&self) -> Mounted {
        talkback_powercut::mount(&self.backing, &self.mountpoint).expect(
            "the power-cut file system mounts (needs root, /dev/fuse and fusermount3 from \
             Debian's fuse3; cargo xtask test installs it)",
        )
    }
}

/// Whether the machine was prepared for these tests (see the module's documentation).
pub fn prepared(test: &str) -> bool {
    let prepared = std::env::var_os("TB_POWERCUT").is_some();
    if !prepared {
        eprintln!("{test}: not run: needs TB_POWERCUT=1, root, /dev/fuse and fuse3");
    }
    prepared
}

/// A pseudo-random number in `0..n`, from a seed printed once so a failure can be replayed.
fn random_below(state: &mut u64, n: u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 33) % n
}

fn seed() -> u64 {
    let seed = std::env::var("TB_POWERCUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("power-cut seed {seed} (TB_POWERCUT_SEED={seed} replays the cut moments)");
    seed
}

/// 16 writers posting to `site`'s page /load until told to stop or refused; every id
/// acknowledged with a 201 goes into `acked`.
fn writers(
    base: &str,
    site: &'static str,
    round: usize,
    acked: &Arc<Mutex<BTreeSet<u64>>>,
) -> (Arc<AtomicBool>, Vec<std::thread::JoinHandle<usize>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles = (0..16)
        .map(|w| {
            let (base, stop, acked) = (base.to_owned(), Arc::clone(&stop), Arc::clone(acked));
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(5))
                    .build();
                let mut tries = 0;
                while !stop.load(Ordering::Relaxed) {
                    tries += 1;
                    // A quarter of the writers post long comments: sled then keeps tree
                    // nodes past 128 KiB as blob files, whose sync matters too.
                    let padding = if w % 4 == 0 {
                        "long words ".repeat(1300)
                    } else {
                        String::new()
                    };
                    let body = json!({"site": site, "page": "/load", "author": format!("w{w}"),
                        "body": format!("round {round}, writer {w}, try {tries} {padding}")});
                    match agent
                        .post(&format!("{base}/api/v1/comments"))
                        .send_json(body)
                    {
                        Ok(r) if r.status() == 201 => {
                            let v: serde_json::Value = r.into_json().unwrap();
                            let id = v["comment"]["id"].as_u64().unwrap();
                            acked.lock().unwrap().insert(id);
                        }
                        _ => break,
                    }
                }
                tries
            })
        })
        .collect();
    (stop, handles)
}

/// Runs writers against `base` for a random while, then cuts the power: `kill` SIGKILLs the
/// processes, then the file system forgets what was not synced. Returns what it forgot.
fn load_then_cut(
    base: &str,
    site: &'static str,
    round: usize,
    rng: &mut u64,
    acked: &Arc<Mutex<BTreeSet<u64>>>,
    mounted: Mounted,
    kill: impl FnOnce(),
) -> CutReport {
    let before = acked.lock().unwrap().len();
    let (stop, handles) = writers(base, site, round, acked);
    std::thread::sleep(Duration::from_millis(600 + random_below(rng, 1500)));
    kill();
    let report = mounted.cut().expect("the power is cut");
    stop.store(true, Ordering::Relaxed);
    let tries: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    eprintln!(
        "round {round}: {tries} posts tried, {} acknowledged; the cut forgot {report}",
        acked.lock().unwrap().len() - before
    );
    report
}

/// What every round's cut forgot, added up: the test can only fail if something was forgotten.
fn forgot_something(reports: &[CutReport]) -> bool {
    reports.iter().any(|r| r.bytes > 0 || r.ops > 0)
}

fn config_file(dir: &Path, site: &str) -> PathBuf {
    let path = dir.join(format!("{site}.toml"));
    std::fs::write(
        &path,
        format!(
            "[[sites]]\nid = \"{site}\"\norigins = [\"https://blog.example\"]\n{SPAM_OFF_TOML}"
        ),
    )
    .unwrap();
    path
}

fn check_nothing_lost(base: &str, site: &str, acked: &BTreeSet<u64>) {
    let stored = all_ids(base, site);
    let lost: Vec<_> = acked.difference(&stored).collect();
    eprintln!(
        "power cuts: {} acknowledged, {} stored, {} lost",
        acked.len(),
        stored.len(),
        lost.len()
    );
    assert!(acked.len() > 100, "the load actually ran");
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let counts = post(
        base,
        "/api/v1/counts",
        &json!({"site": site, "pages": ["/load"]}),
    );
    assert_eq!(
        counts.body["counts"]["/load"].as_u64().unwrap() as usize,
        stored.len(),
        "the thread's count matches its comments"
    );
}

#[test]
fn acknowledged_comments_survive_power_cuts_on_sled() {
    if !prepared("power cuts on sled") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = Disk::new(dir.path());
    let config = config_file(dir.path(), "demo");
    let database = disk.mountpoint.join("talkback-data/db");
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let mut rng = seed();
    let mut reports = Vec::new();
    for round in 0..4 {
        let mounted = disk.power_on();
        let mut server = ServerProcess::spawn_with(&database, Some(&config));
        let base = server.base.clone();
        reports.push(load_then_cut(
            &base,
            "demo",
            round,
            &mut rng,
            &acked,
            mounted,
            || {
                server.child.kill().unwrap();
                server.child.wait().unwrap();
            },
        ));
    }
    assert!(
        forgot_something(&reports),
        "the cuts forgot nothing: the test proves nothing"
    );
    let mounted = disk.power_on();
    let server = ServerProcess::spawn_with(&database, Some(&config));
    check_nothing_lost(&server.base, "demo", &acked.lock().unwrap());
    drop(server);
    mounted.unmount().unwrap();
}

/// Debian's PostgreSQL programs (`/usr/lib/postgresql/N/bin`, the newest).
fn pg_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (cargo xtask test installs it)")
        .filter_map(|e| {
            let e = e.ok()?;
            Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL version is installed").1
}

fn as_postgres(program: &Path) -> Command {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", "postgres", "--"]).arg(program);
    cmd
}

fn chown_postgres(path: &Path) {
    let ok = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "chown {}", path.display());
}

/// A PostgreSQL cluster whose data directory is on the power-cut disk.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    sockets: PathBuf,
    log: PathBuf,
    port: u16,
}

impl Cluster {
    /// `initdb` into the disk's backing directory (what the disk holds when first powered).
    fn create(dir: &Path, disk: &Disk) -> Self {
        let mut cluster = Self::create_in(dir, &disk.backing);
        cluster.data = disk.mountpoint.join("pgdata");
        cluster
    }

    /// `initdb` into `parent/pgdata`, with sockets and the log under `dir`.
    pub fn create_in(dir: &Path, parent: &Path) -> Self {
        let bin = pg_bin();
        let sockets = dir.join("sockets");
        std::fs::create_dir_all(&sockets).unwrap();
        chown_postgres(&sockets);
        chown_postgres(parent);
        let initdb = as_postgres(&bin.join("initdb"))
            .args([
                "--auth=trust",
                "--username=talkback",
                "--encoding=UTF8",
                "-D",
            ])
            .arg(parent.join("pgdata"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(initdb.success(), "initdb");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            bin,
            data: parent.join("pgdata"),
            sockets,
            log: dir.join("sockets/pg.log"),
            port,
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://talkback@127.0.0.1:{}/talkback", self.port)
    }

    /// Starts the cluster (recovering from the last cut) with extra settings.
    pub fn start(&self, settings: &str) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} {settings}",
            self.port,
            self.sockets.display()
        );
        let started = as_postgres(&self.bin.join("pg_ctl"))
            .args(["start", "-w", "-t", "120", "-s", "-l"])
            .arg(&self.log)
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &options])
            .status()
            .unwrap();
        assert!(
            started.success(),
            "PostgreSQL starts: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// The `talkback` database the servers use.
    pub fn create_database(&self) {
        let created = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "talkback", "talkback"])
            .status()
            .unwrap();
        assert!(created.success(), "createdb");
    }

    pub fn stop(&self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .args(["stop", "-m", "fast", "-s", "-D"])
            .arg(&self.data)
            .status();
    }
}

/// Stops a cluster a failed test left running, so the disk can be unmounted.
impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-s", "-D"])
            .arg(&self.data)
            .stderr(Stdio::null())
            .status();
    }
}

impl Cluster {
    /// SIGKILL for the postmaster and every process it started (a power cut gives no
    /// warning, not even PostgreSQL's immediate shutdown).
    fn kill(&self) {
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        let postmaster: u32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
        // pg_ctl starts the postmaster in a session of its own: its process group holds every
        // process of the cluster, and dies at once.
        let killed = Command::new("kill")
            .args(["-9", "--", &format!("-{postmaster}")])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -9 -{postmaster}");
        // A reboot empties the socket directory (/run on a real machine).
        for entry in std::fs::read_dir(&self.sockets).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with(".s.PGSQL") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        // Until the postmaster is gone (reaped, not only dead: a zombie's PID still answers,
        // and PostgreSQL would take its lock file for a live server's).
        let deadline = Instant::now() + Duration::from_secs(20);
        while Path::new(&format!("/proc/{postmaster}")).exists() {
            assert!(
                Instant::now() < deadline,
                "postmaster {postmaster} still there"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The server refuses a database whose commits never reach the disk, and says why.
fn refuses_to_start(url: &str, config: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_talkback"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("TALKBACK_BIND", "127.0.0.1:0")
        .env("TALKBACK_DATABASE", url)
        .env("TALKBACK_EXAMPLES_DIR", "")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started on a database with fsync = off");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn acknowledged_comments_survive_power_cuts_on_postgres() {
    if !prepared("power cuts on PostgreSQL") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL runs as `postgres` and must reach its directories through this one.
    let allowed = Command::new("chmod")
        .arg("755")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(allowed.success());
    let disk = Disk::new(dir.path());
    let cluster = Cluster::create(dir.path(), &disk);
    let config = config_file(dir.path(), "blog");
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let mut rng = seed();
    let mut reports = Vec::new();

    // A database that does not fsync is refused before anything is acknowledged.
    let mounted = disk.power_on();
    cluster.start("-c fsync=off");
    cluster.create_database();
    let refusal = refuses_to_start(&cluster.url(), &config);
    assert!(refusal.contains("fsync = off"), "{refusal}");
    // A clean stop writes a checkpoint: the new database is on disk before the first cut.
    cluster.stop();
    mounted.unmount().unwrap();

    for round in 0..3 {
        let mounted = disk.power_on();
        // Commits do not wait for the disk by default here: the store's flush must ask.
        cluster.start("-c synchronous_commit=off");
        let mut server = ServerProcess::spawn_with(Path::new(&cluster.url()), Some(&config));
        let base = server.base.clone();
        reports.push(load_then_cut(
            &base,
            "blog",
            round,
            &mut rng,
            &acked,
            mounted,
            || {
                server.child.kill().unwrap();
                server.child.wait().unwrap();
                cluster.kill();
            },
        ));
    }
    assert!(
        forgot_something(&reports),
        "the cuts forgot nothing: the test proves nothing"
    );
    let mounted = disk.power_on();
    cluster.start("");
    let server = ServerProcess::spawn_with(Path::new(&cluster.url()), Some(&config));
    check_nothing_lost(&server.base, "blog", &acked.lock().unwrap());
    drop(server);
    cluster.stop();
    mounted.unmount().unwrap();
}
