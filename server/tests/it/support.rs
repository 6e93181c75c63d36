//! Starting real servers for tests and talking to them over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use talkback_api::admin::AdminRole;
use talkback_server::config::{Config, Moderation, SiteConfig, SpamRules};

pub const BLOG_ORIGIN: &str = "https://blog.example";

/// A server running in this process on a free loopback port, with its own database.
pub struct TestServer {
    pub base: String,
    /// The running server's service (its store holds the change log).
    pub service: std::sync::Arc<talkback_server::service::Service>,
    _dir: tempfile::TempDir,
}

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        bind: "127.0.0.1:0".into(),
        database: dir.join("db"),
        examples_dir: "".into(),
        assets_dir: Some(dir.join("no-assets")),
        rate_limit_per_minute: 0,
        sites: vec![
            blog_site(),
            SiteConfig {
                moderation: Moderation::All,
                spam: SpamRules::off(),
                ..SiteConfig::new("moderated", &[BLOG_ORIGIN])
            },
        ],
        ..Config::default()
    }
}

/// The `blog` site of [`test_config`]. Its anti-spam layers are off: tests of other features
/// post JSON straight to the API, as a script would (the anti-spam tests turn them on).
pub fn blog_site() -> SiteConfig {
    SiteConfig {
        spam: SpamRules::off(),
        ..SiteConfig::new("blog", &[BLOG_ORIGIN])
    }
}

/// `[sites.spam]` with every layer off, for configuration files of tests of other features.
pub const SPAM_OFF_TOML: &str = "[sites.spam]\nproof_of_work = false\nmin_fill_secs = 0\n\
    max_links = 4294967295\nduplicate_minutes = 0\nfilter_threshold_percent = 0\n\
    page_burst_per_minute = 0\n";

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let running = retry_while_locked(|| talkback_server::start(config.clone()))
                    .expect("server starts");
                tx.send((running.addr, running.service.clone())).unwrap();
                running.server.await.unwrap();
            })
        });
        let (addr, service) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server reported its address");
        Self {
            base: format!("http://{addr}"),
            service,
            _dir: dir,
        }
    }
}

/// A response: status and JSON body (or `Value::Null`).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// Sends a request with an optional raw body; never fails on 4xx/5xx.
pub fn call(
    base: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = agent().request(method, &format!("{base}{path}"));
    for (name, value) in headers {
        req = req.set(name, value);
    }
    let result = match body {
        Some(b) => req.set("Content-Type", "application/json").send_string(b),
        None => req.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = response.status();
    // Every value of a repeated header (Set-Cookie), each as its own pair.
    let headers = response
        .headers_names()
        .into_iter()
        .flat_map(|n| {
            response
                .all(&n)
                .into_iter()
                .map(|v| (n.clone(), v.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    let text = response.into_string().unwrap_or_default();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

pub fn post(base: &str, path: &str, body: &Value) -> Reply {
    call(
        base,
        "POST",
        path,
        Some(&body.to_string()),
        &[("Origin", BLOG_ORIGIN)],
    )
}

pub fn get(base: &str, path: &str) -> Reply {
    call(base, "GET", path, None, &[])
}

/// Posts a comment on `/post` of the `blog` site and returns the 201 body; the author's
/// address is made of the ASCII of their name (addresses are ASCII only).
pub fn comment(base: &str, author: &str, body: &str, parent: Option<u64>) -> Value {
    let local: String = author
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let reply = post(
        base,
        "/api/v1/comments",
        &serde_json::json!({"site": "blog", "page": "/post", "title": "A Post", "author": author, "email": format!("{local}@example.com"), "body": body, "parent": parent}),
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

/// The server binary as a child process (for tests that must kill it).
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
}

impl ServerProcess {
    pub fn spawn(database: &std::path::Path) -> Self {
        Self::spawn_with(database, None)
    }

    /// The server with a configuration file (the environment still sets its database).
    pub fn spawn_with(database: &std::path::Path, config: Option<&std::path::Path>) -> Self {
        Self::spawn_with_env(database, config, &[])
    }

    /// With extra environment variables.
    pub fn spawn_with_env(
        database: &std::path::Path,
        config: Option<&std::path::Path>,
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_talkback"));
        command.envs(env.iter().copied());
        let default_config = database.with_extension("toml");
        let config = match config {
            Some(config) => config,
            None => {
                // The default `demo` site, with anti-spam off (these tests post as scripts).
                std::fs::write(
                    &default_config,
                    format!("[[sites]]\nid = \"demo\"\norigins = [\"http://localhost:8080\", \"http://127.0.0.1:8080\"]\n{SPAM_OFF_TOML}"),
                )
                .expect("test config written");
                &default_config
            }
        };
        command.arg("--config").arg(config);
        let mut child = command
            .arg("serve")
            .env("TALKBACK_BIND", "127.0.0.1:0")
            .env("TALKBACK_DATABASE", database)
            .env("TALKBACK_EXAMPLES_DIR", "")
            .env("TALKBACK_RATE_LIMIT_PER_MINUTE", "0")
            .env("TALKBACK_ASSETS_DIR", database.join("none"))
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("server binary starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent && let Some(i) = line.find("listening on http://") {
                    let rest = &line[i + "listening on ".len()..];
                    let _ = tx.send(
                        rest.split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                    sent = true;
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server printed its address");
        Self { child, base }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// sled releases its file lock from a background thread after the last handle is dropped, so
/// a test that reopens a database right away may find it still locked for a moment.
pub fn retry_while_locked<T>(
    mut open: impl FnMut() -> Result<T, talkback_server::StartError>,
) -> Result<T, talkback_server::StartError> {
    let mut attempts = 0;
    loop {
        match open() {
            Err(talkback_server::StartError::Store { .. }) if attempts < 100 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Opens a test database, waiting out a lock left by a handle that was just dropped.
pub fn open_store(config: &Config) -> std::sync::Arc<dyn talkback_store::Store> {
    retry_while_locked(|| talkback_server::open_store(config)).unwrap()
}

/// The service over a test database (as offline commands use it), waiting out a lock.
pub fn open_service(config: &Config) -> std::sync::Arc<talkback_server::service::Service> {
    retry_while_locked(|| talkback_server::open_service(config)).unwrap()
}

/// Sends `GET path` exactly as written (HTTP clients normalise `..` away before sending, so a
/// traversal test through them cannot fail); returns the status and the body.
pub fn raw_get(base: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// Sends each path as written and checks it is refused (4xx) without `leaks` in the answer.
pub fn assert_not_served(base: &str, paths: &[&str], leaks: &[&str]) {
    for path in paths {
        let (status, response) = raw_get(base, path);
        assert!((400..500).contains(&status), "{path}: {status}");
        assert!(
            leaks.iter().all(|l| !response.contains(l)),
            "{path}: {response}"
        );
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// Accounts: `zoe` owns everything, `mia` moderates `blog` only.
pub fn with_accounts(server: &TestServer) {
    server
        .service
        .put_account("zoe", AdminRole::Owner, &[], PASSWORD)
        .unwrap();
    server
        .service
        .put_account("mia", AdminRole::Moderator, &["blog".into()], PASSWORD)
        .unwrap();
}

/// A signed-in browser: its cookie header and CSRF token.
pub struct Browser {
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

pub fn own_origin(base: &str) -> String {
    base.to_owned()
}

pub fn sign_in_reply(base: &str, name: &str, password: &str) -> Reply {
    call(
        base,
        "POST",
        "/admin/api/session",
        Some(&json!({"name": name, "password": password}).to_string()),
        &[("Origin", &own_origin(base))],
    )
}

pub fn sign_in(base: &str, name: &str) -> Browser {
    let reply = sign_in_reply(base, name, PASSWORD);
    assert_eq!(reply.status, 200, "{reply:?}");
    let set = reply.header("set-cookie").unwrap().to_owned();
    Browser {
        base: base.to_owned(),
        cookie: set.split(';').next().unwrap().to_owned(),
        csrf: reply.body["csrf"].as_str().unwrap().to_owned(),
    }
}

impl Browser {
    pub fn get(&self, path: &str) -> Reply {
        call(&self.base, "GET", path, None, &[("Cookie", &self.cookie)])
    }

    pub fn send(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        call(
            &self.base,
            method,
            path,
            body.map(|b| b.to_string()).as_deref(),
            &[
                ("Cookie", &self.cookie),
                ("Origin", &own_origin(&self.base)),
                ("X-CSRF-Token", &self.csrf),
            ],
        )
    }

    pub fn moderate(&self, action: &str, ids: &[u64]) -> Reply {
        self.send(
            "POST",
            "/admin/api/moderate",
            Some(json!({"action": action, "ids": ids})),
        )
    }

    pub fn queue(&self, query: &str) -> Vec<Value> {
        let reply = self.get(&format!("/admin/api/comments?{query}"));
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body["comments"].as_array().unwrap().clone()
    }
}
