//! Talkback's HTTP server (actix-web): the API under `/api/v1`, the widget's assets and the
//! example pages. The only crate that sees both the wire types (`talkback-api`) and the store
//! (`talkback-store`).
//!
//! This file is the composition root: it opens the store, builds the service, the cache and
//! the limits, wires them together and holds the route table. The folders, by concern:
//! `http` (errors, CORS, limits, assets, cache, encodings), `api` (reader JSON handlers),
//! `content` (Markdown, the tree builder, validation, the one renderer), `service` (the one
//! write path, and reads as wire types), `transfer` (importers, Talkback's format, backups),
//! `admin` (the dashboard and its API), `ops` (health checks).

mod admin;
mod api;
pub mod config;
pub mod content;
pub mod error;
pub mod http;
pub mod notify;
pub mod ops;
pub mod pages;
pub mod service;
pub mod transfer;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};
use talkback_api::ErrorCode;
use talkback_store::Store;
use talkback_store_sled::{SledStore, StoreOptions};

use crate::config::Config;
use crate::error::Error;
use crate::http::assets::Assets;
use crate::http::{cache, limit};
use crate::service::{Listener, PageRef, Service};

/// Shared by all workers.
pub struct AppState {
    pub config: Config,
    pub service: Arc<Service>,
    pub assets: Assets,
    cache: Arc<cache::ThreadCache>,
    limits: limit::Limits,
    sign_ins: admin::guard::SignInGuard,
    /// The command line's credential for this run (see [`CLI_FILE`]).
    cli_token: String,
    /// A stop was asked for: responses close their connections.
    draining: Arc<std::sync::atomic::AtomicBool>,
    /// Becomes true when a stop begins: live streams end with a hint to reconnect.
    stop_streams: tokio::sync::watch::Receiver<bool>,
    streams: Arc<limit::StreamSlots>,
    metrics: ops::metrics::Metrics,
    /// What mail and webhooks delivered lately.
    deliveries: notify::Deliveries,
}

/// Written into the database directory while the server runs: its address and a token with
/// which the command line on this machine acts through the server (sled allows one process).
pub const CLI_FILE: &str = "talkback-cli.json";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database at {path}: {source}")]
    Store {
        path: String,
        source: talkback_store::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A running server: await `server` to serve until shutdown.
pub struct Running {
    pub server: Server,
    pub addr: SocketAddr,
    pub service: Arc<Service>,
    /// Stops it gracefully (the binary calls it on SIGTERM and SIGINT).
    pub shutdown: ops::Shutdown,
}

/// The thread cache drops a page's copies when the service reports a write to it.
impl Listener for cache::ThreadCache {
    fn pages_changed(&self, pages: &[PageRef]) {
        for page in pages {
            self.invalidate(&page.site, &page.key);
        }
    }

    fn site_changed(&self, site: &str) {
        self.invalidate_site(site);
    }
}

/// Opens the configured store: sled in a directory private to this user (0700, its files
/// 0600: it holds e-mail addresses, client addresses and the server's secrets), or PostgreSQL
/// (its schema brought up to date first).
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    let fail = |source| StartError::Store {
        path: config.database_shown(),
        source,
    };
    match config.backend() {
        config::Backend::Postgres(url) => {
            let store = talkback_store_pg::PgStore::open(url, config.database_connections.max(1))
                .map_err(|e| fail(talkback_store::Error::Backend(Box::new(e))))?;
            if let Some(warning) = store.transport().warning() {
                tracing::warn!("{warning}");
            }
            Ok(Arc::new(store))
        }
        config::Backend::Sled(dir) => {
            let options = StoreOptions {
                cache_bytes: config.cache_mb * 1024 * 1024,
            };
            let io = |e: std::io::Error| fail(talkback_store::Error::Backend(Box::new(e)));
            private_dir(dir).map_err(io)?;
            let store = SledStore::open(dir, &options).map_err(fail)?;
            private_files(dir).map_err(io)?;
            if let Some(bytes) = store.outgrown().map_err(fail)? {
                tracing::warn!(
                    size_mib = bytes >> 20,
                    "the sled database is past {} GiB on disk (about 400,000 comments): sled's \
                     memory grows with it (about 170 MiB at a million comments before any \
                     cache); PostgreSQL keeps this server's memory flat \
                     (talkback migrate-store --from {} --to postgres://…)",
                    talkback_store_sled::OUTGROWN_BYTES >> 30,
                    dir.display()
                );
            }
            Ok(Arc::new(store))
        }
    }
}

/// Creates `dir` (and missing parents) readable by this user only, and tightens it if it exists.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Makes every file below `dir` readable by this user only.
fn private_files(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o700))?;
            private_files(&entry.path())?;
        } else if kind.is_file() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// The service over the configured store, for offline commands (import, export, the owner's
/// operations): nothing listens, since no server runs.
pub fn open_service(config: &Config) -> Result<Arc<Service>, StartError> {
    let store = open_store(config)?;
    service_over(store, config, Vec::new())
}

fn service_over(
    store: Arc<dyn Store>,
    config: &Config,
    listeners: Vec<Arc<dyn Listener>>,
) -> Result<Arc<Service>, StartError> {
    Service::new(store, config.clone(), listeners)
        .map(Arc::new)
        .map_err(|source| StartError::Store {
            path: config.database_shown(),
            source,
        })
}

/// Opens the store and binds the listener; the server runs once `server` is awaited or spawned.
pub fn start(config: Config) -> Result<Running, StartError> {
    let cache_bytes =
        usize::try_from(config.thread_cache_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    let cache = Arc::new(cache::ThreadCache::new(cache_bytes));
    let listeners: Vec<Arc<dyn Listener>> = vec![cache.clone()];
    let service = off_runtime(|| service_over(open_store(&config)?, &config, listeners))?;
    transfer::backup::spawn(Arc::clone(&service), &config);
    spawn_change_log_pruning(Arc::clone(&service));
    spawn_spam_training(Arc::clone(&service));
    spawn_live_updates(Arc::clone(&service));
    spawn_following_others(Arc::clone(&service));
    let deliveries = notify::Deliveries::default();
    notify::spawn(Arc::clone(&service), &config, deliveries.clone());
    let assets = Assets::load(config.assets_dir.as_deref());
    let bind = config.bind.clone();
    let shutdown_secs = config.shutdown_timeout_secs;
    let cli_token = random_token().map_err(|source| StartError::Store {
        path: config.database_shown(),
        source,
    })?;
    let draining = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (stop_streams, streams_stop) = tokio::sync::watch::channel(false);
    let state = web::Data::new(AppState {
        draining: Arc::clone(&draining),
        stop_streams: streams_stop,
        streams: limit::StreamSlots::new(config.live_streams_per_client),
        metrics: ops::metrics::Metrics::new(&service, cache.metrics(), &deliveries),
        deliveries,
        sign_ins: admin::guard::SignInGuard::default(),
        cli_token: cli_token.clone(),
        service: Arc::clone(&service),
        assets,
        cache,
        limits: limit::Limits::new(
            config.rate_limit_per_minute,
            config.read_rate_limit_per_minute,
            config.trusted_proxies.clone(),
            service
                .shared_store()
                .then(|| Arc::clone(&service) as Arc<dyn limit::SharedCount>),
        ),
        config,
    });
    let shared = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(middleware::from_fn(ops::metrics::record))
            .wrap(middleware::from_fn(ops::close_when_draining))
            .wrap(middleware::from_fn(http::request_id::assign))
            .configure(|cfg| routes(cfg, &state))
    })
    .shutdown_timeout(shutdown_secs)
    // The binary handles signals itself, draining first (`ops::Shutdown`).
    .disable_signals();
    let bind_error = |source| StartError::Bind {
        addr: bind.clone(),
        source,
    };
    // Our own listeners, so that a stop can close them before the server's workers go.
    let mut listeners = Vec::new();
    let mut server = server;
    for addr in std::net::ToSocketAddrs::to_socket_addrs(&bind).map_err(bind_error)? {
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listeners.push(listener.try_clone().map_err(bind_error)?);
        server = server.listen(listener).map_err(bind_error)?;
    }
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| StartError::Bind {
            addr: bind.clone(),
            source: std::io::ErrorKind::AddrNotAvailable.into(),
        })?;
    write_cli_file(&shared.config, addr, &cli_token).map_err(|e| StartError::Store {
        path: config_path(&shared.config),
        source: talkback_store::Error::Backend(Box::new(e)),
    })?;
    spawn_session_pruning(Arc::clone(&service), shared.config.admin_idle_minutes);
    let server = server.run();
    Ok(Running {
        shutdown: ops::Shutdown {
            handle: server.handle(),
            draining,
            stop_streams: Arc::new(stop_streams),
            listeners: Arc::new(listeners),
            stopping: Arc::default(),
        },
        server,
        addr,
        service,
    })
}

/// Runs blocking store work on a thread of its own: `start` runs on the async runtime's thread,
/// where PostgreSQL's blocking client may not wait (every other store call runs in
/// `web::block`).
pub fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

fn config_path(config: &Config) -> String {
    config
        .database_dir()
        .map(|dir| dir.join(CLI_FILE).display().to_string())
        .unwrap_or_default()
}

fn random_token() -> Result<String, talkback_store::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| talkback_store::Error::Internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(bytes))
}

/// Where the command line finds the running server, and the token it must send.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct CliAccess {
    pub url: String,
    pub token: String,
}

/// Writes [`CLI_FILE`] (readable by this user only), pointing at a loopback address of the
/// listener.
fn write_cli_file(config: &Config, addr: SocketAddr, token: &str) -> std::io::Result<()> {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        ip => ip,
    };
    let access = CliAccess {
        url: format!("http://{}", SocketAddr::new(ip, addr.port())),
        token: token.to_owned(),
    };
    // On PostgreSQL the command line opens the database itself (it takes many processes).
    let Some(dir) = config.database_dir() else {
        return Ok(());
    };
    let text = serde_json::to_vec(&access).map_err(std::io::Error::other)?;
    transfer::backup::write_private(&dir.join(CLI_FILE), &text)
}

/// Removes [`CLI_FILE`] once the server has stopped.
pub fn remove_cli_file(config: &Config) {
    if let Some(dir) = config.database_dir() {
        let _ = std::fs::remove_file(dir.join(CLI_FILE));
    }
}

/// Drops expired dashboard sessions hourly.
fn spawn_session_pruning(service: Arc<Service>, idle_minutes: u64) {
    actix_web::rt::spawn(async move {
        let mut ticks = actix_web::rt::time::interval(std::time::Duration::from_secs(3600));
        loop {
            ticks.tick().await;
            let service = Arc::clone(&service);
            let idle = admin::guard::minutes_ms(idle_minutes);
            match web::block(move || service.prune_sessions(idle)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "pruning sessions failed"),
                Err(e) => tracing::error!(error = %e, "session pruning task failed"),
            }
        }
    });
}

/// Prunes the change log hourly (and once at start) to `change_log_days`.
fn spawn_change_log_pruning(service: Arc<Service>) {
    actix_web::rt::spawn(async move {
        let mut ticks = actix_web::rt::time::interval(std::time::Duration::from_secs(3600));
        loop {
            ticks.tick().await;
            let service = Arc::clone(&service);
            let now = service::now_ms();
            match web::block(move || service.prune_changes(now)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(count = n, "old change-log entries pruned"),
                Ok(Err(e)) => tracing::error!(error = %e, "pruning the change log failed"),
                Err(e) => tracing::error!(error = %e, "pruning task failed"),
            }
        }
    });
}

/// Teaches the spam filter every moderator's decision: a consumer of the change log that
/// catches up at start and after every published write.
fn spawn_spam_training(service: Arc<Service>) {
    actix_web::rt::spawn(async move {
        let turns = service.turns("spam-trainer");
        turns
            .run((), "training the spam filter", async |()| {
                loop {
                    let service = Arc::clone(&service);
                    match web::block(move || service.train_spam_filter(500)).await {
                        Ok(Ok(0)) => return Ok(None),
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(e.to_string()),
                        Err(e) => return Err(e.to_string()),
                    }
                }
            })
            .await;
    });
}

/// Tells live followers what changed: a consumer of the change log from the newest change at
/// start (nobody follows anything yet; a reconnecting reader catches up from the log itself).
fn spawn_live_updates(service: Arc<Service>) {
    actix_web::rt::spawn(async move {
        let mut published = service.changes();
        let mut cursor = *published.borrow_and_update();
        loop {
            loop {
                let service = Arc::clone(&service);
                match web::block(move || service.publish_live(cursor, 500)).await {
                    Ok(Ok(next)) if next == cursor => break,
                    Ok(Ok(next)) => cursor = next,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "live updates failed");
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "live updates task failed");
                        break;
                    }
                }
            }
            if published.changed().await.is_err() {
                return;
            }
        }
    });
}

/// On a database other servers share: follows the change log for their writes (woken by
/// PostgreSQL's NOTIFY, and at least every [`FOLLOW_POLL`] in case a notification is lost), so
/// this server's caches drop what they changed and its live followers hear of it.
fn spawn_following_others(service: Arc<Service>) {
    if !service.shared_store() {
        return;
    }
    let started = std::thread::Builder::new()
        .name("follow-others".into())
        .spawn(move || {
            let mut cursor = match service.store().last_change() {
                Ok(last) => last,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the change log's head");
                    0
                }
            };
            // Said once when the database stops answering, and once when it is back (not
            // every second in between).
            let mut failing = false;
            loop {
                // A failed wait (no LISTEN connection) still reads the log: the poll.
                let mut problem = service.store().wait_for_changes(FOLLOW_POLL).err();
                loop {
                    match service.follow_others(cursor, 500) {
                        Ok(next) if next == cursor => break,
                        Ok(next) => cursor = next,
                        Err(e) => {
                            problem = Some(e);
                            break;
                        }
                    }
                }
                match problem {
                    Some(e) if !failing => {
                        tracing::warn!(error = %e, "cannot follow other servers' changes");
                        failing = true;
                    }
                    None if failing => {
                        tracing::info!("following other servers' changes again");
                        failing = false;
                    }
                    _ => {}
                }
            }
        });
    if let Err(e) = started {
        tracing::error!(error = %e, "cannot start following other servers' changes");
    }
}

/// How long a lost notification can delay what another server wrote, at most: the bound on a
/// cached page's staleness across servers (plus one read of the log).
pub const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// The one route table.
fn routes(cfg: &mut web::ServiceConfig, state: &web::Data<AppState>) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(middleware::from_fn(http::refuse_encoded_bodies))
            .wrap(middleware::from_fn(http::localise_errors))
            .wrap(http::cors(&state.config.sites))
            .wrap(middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
            .app_data(http::json_config())
            .app_data(http::query_config())
            .app_data(http::path_config())
            .configure(api::configure)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(Error::client(
                    ErrorCode::NotFound,
                    "No such API endpoint.",
                ))
            })),
    );
    http::assets::configure(cfg);
    admin::configure(cfg);
    ops::configure(cfg);
    pages::configure(cfg);
    if !state.config.examples_dir.as_os_str().is_empty() && state.config.examples_dir.is_dir() {
        cfg.service(
            actix_files::Files::new("/", &state.config.examples_dir)
                .index_file("index.html")
                .path_filter(|path, _| is_example_page(path)),
        );
    }
}

/// The example pages and their assets; never the configuration or anything else beside them.
fn is_example_page(path: &std::path::Path) -> bool {
    let hidden = path
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
    let servable = match path.extension().and_then(|e| e.to_str()) {
        None => true, // a directory: its index.html
        Some(ext) => matches!(
            ext.to_ascii_lowercase().as_str(),
            "html" | "css" | "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" | "ico"
        ),
    };
    !hidden && servable
}

/// A service over a temporary store, for the crate's own tests.
#[cfg(test)]
fn temporary_service(config: &Config) -> Arc<Service> {
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().expect("a temporary store opens"));
    service_over(store, config, Vec::new()).expect("the service starts")
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
