//! Talkback's HTTP server (actix-web): the API under `/api/v1`, the widget's assets and the
//! example pages. The only crate that sees both the wire types (`talkback-api`) and the store
//! (`talkback-store`); it converts between them by hand in `convert`.

pub mod admin;
pub mod assets;
pub mod backup;
mod cache;
pub mod config;
mod convert;
pub mod error;
mod handlers;
pub mod import;
mod limit;
pub mod markdown;
pub mod migrate;
pub mod render;
mod tree;
mod validate;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpServer, middleware, web};
use talkback_api::ErrorCode;
use talkback_api::limits::EDIT_KEY_HEADER;
use talkback_store::{CommentStore, SledStore, StoreOptions};

use crate::assets::Assets;
use crate::config::Config;
use crate::error::Error;

/// Shared by all workers.
pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn CommentStore>,
    pub assets: Assets,
    cache: cache::ThreadCache,
    limits: limit::Limits,
    avatar_key: convert::AvatarKey,
}

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
    pub store: Arc<dyn CommentStore>,
}

/// Opens the configured store (for the server and for offline commands such as import).
/// The database directory is private to this user (0700, its files 0600): it holds e-mail
/// addresses, client addresses and the server's secrets.
pub fn open_store(config: &Config) -> Result<Arc<dyn CommentStore>, StartError> {
    let options = StoreOptions {
        cache_bytes: config.cache_mb * 1024 * 1024,
    };
    let fail = |source| StartError::Store {
        path: config.database.display().to_string(),
        source,
    };
    let io = |e: std::io::Error| fail(talkback_store::Error::Sled(e.into()));
    private_dir(&config.database).map_err(io)?;
    let store = SledStore::open(&config.database, &options).map_err(fail)?;
    private_files(&config.database).map_err(io)?;
    Ok(Arc::new(store))
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

/// The server's identicon key: created with the database, kept in it.
fn avatar_key(store: &dyn CommentStore) -> Result<convert::AvatarKey, talkback_store::Error> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh)
        .map_err(|e| talkback_store::Error::Corrupt(format!("no randomness for a secret: {e}")))?;
    Ok(convert::AvatarKey(store.secret("avatar", &fresh)?))
}

/// Opens the store and binds the listener; the server runs once `server` is awaited or spawned.
pub fn start(config: Config) -> Result<Running, StartError> {
    let store = open_store(&config)?;
    for site in &config.sites {
        store
            .ensure_site(&site.id)
            .map_err(|source| StartError::Store {
                path: config.database.display().to_string(),
                source,
            })?;
    }
    let avatar_key = avatar_key(store.as_ref()).map_err(|source| StartError::Store {
        path: config.database.display().to_string(),
        source,
    })?;
    backup::spawn(Arc::clone(&store), &config);
    let assets = Assets::load(&config.assets_dir);
    let bind = config.bind.clone();
    let cache_bytes =
        usize::try_from(config.thread_cache_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    let state = web::Data::new(AppState {
        store: Arc::clone(&store),
        assets,
        cache: cache::ThreadCache::new(cache_bytes),
        limits: limit::Limits::new(
            config.rate_limit_per_minute,
            config.read_rate_limit_per_minute,
            config.trusted_proxies.clone(),
        ),
        avatar_key,
        config,
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(|cfg| routes(cfg, &state))
    })
    .bind(&bind)
    .map_err(|source| StartError::Bind {
        addr: bind.clone(),
        source,
    })?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| StartError::Bind {
            addr: bind.clone(),
            source: std::io::ErrorKind::AddrNotAvailable.into(),
        })?;
    Ok(Running {
        server: server.run(),
        addr,
        store,
    })
}

/// The one route table.
fn routes(cfg: &mut web::ServiceConfig, state: &web::Data<AppState>) {
    let allowed: Vec<String> = state
        .config
        .sites
        .iter()
        .flat_map(|s| s.origins.clone())
        .collect();
    let cors = Cors::default()
        .allowed_origin_fn(move |origin, head| {
            let origin = origin.as_bytes();
            allowed.iter().any(|o| o.as_bytes() == origin)
                || same_origin(origin, head.headers.get(header::HOST))
        })
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-talkback-edit-key"),
        ])
        .expose_headers([header::ETAG, header::LOCATION])
        .max_age(3600);
    debug_assert_eq!(EDIT_KEY_HEADER.to_ascii_lowercase(), "x-talkback-edit-key");
    cfg.service(
        web::scope("/api/v1")
            .wrap(middleware::from_fn(refuse_encoded_bodies))
            .wrap(cors)
            .wrap(middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
            .app_data(json_config())
            .app_data(query_config())
            .app_data(path_config())
            .configure(handlers::configure)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(Error::client(
                    ErrorCode::NotFound,
                    "No such API endpoint.",
                ))
            })),
    );
    assets::configure(cfg);
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

/// The API takes plain request bodies only: a compressed one could inflate far past the
/// size limits (a 58 KB gzip body inflates to 60 MB), so it is refused before anything reads it.
async fn refuse_encoded_bodies(
    req: actix_web::dev::ServiceRequest,
    next: middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let encoded = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded {
        return Err(Error::client(
            ErrorCode::UnsupportedEncoding,
            "Send the request body uncompressed (no Content-Encoding).",
        )
        .into());
    }
    next.call(req).await
}

/// True when `origin` is the server's own (`Origin` host equals `Host`): pages Talkback serves
/// itself may always call it.
pub fn same_origin(origin: &[u8], host: Option<&header::HeaderValue>) -> bool {
    let Some(host) = host else { return false };
    let rest = origin
        .strip_prefix(b"http://")
        .or_else(|| origin.strip_prefix(b"https://"));
    rest.is_some_and(|r| r == host.as_bytes())
}

/// Whether a browser request from `req` may act on `site`: no `Origin` (not a browser),
/// a configured origin, or the server's own.
fn origin_allowed(req: &HttpRequest, site: &config::SiteConfig) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    origin_listed(origin.as_bytes(), req, site)
}

/// True when the request comes from a page of the site itself: its `Origin` is one of the
/// site's, or the server's own.
fn request_from_site(req: &HttpRequest, site: &config::SiteConfig) -> bool {
    req.headers()
        .get(header::ORIGIN)
        .is_some_and(|origin| origin_listed(origin.as_bytes(), req, site))
}

fn origin_listed(origin: &[u8], req: &HttpRequest, site: &config::SiteConfig) -> bool {
    site.origins
        .iter()
        .any(|o| o.as_bytes().eq_ignore_ascii_case(origin))
        || same_origin(origin, req.headers().get(header::HOST))
}

/// True when `url` (already checked to be http or https) is on one of the site's origins
/// (or the server's own).
fn url_on_site(req: &HttpRequest, site: &config::SiteConfig, url: &str) -> bool {
    url_origin(url).is_some_and(|origin| origin_listed(origin.as_bytes(), req, site))
}

/// `scheme://host[:port]` of a URL.
fn url_origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..scheme_end + 3 + host_end])
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError as J;
            let error = match &err {
                J::Overflow { .. } | J::OverflowKnownLength { .. } => {
                    Error::client(ErrorCode::PayloadTooLarge, "The request body is too large.")
                }
                J::ContentType => Error::client(
                    ErrorCode::InvalidJson,
                    "Send the request body as application/json.",
                ),
                J::Deserialize(e) => Error::client(
                    ErrorCode::InvalidJson,
                    format!("The request body is not valid: {e}"),
                ),
                other => Error::client(
                    ErrorCode::InvalidJson,
                    format!("The request body could not be read: {other}"),
                ),
            };
            error.into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        Error::client(
            ErrorCode::InvalidQuery,
            format!("The query string is not valid: {err}"),
        )
        .into()
    })
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| {
        Error::client(ErrorCode::CommentNotFound, "There is no such comment.").into()
    })
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
