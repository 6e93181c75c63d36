//! Talkback's HTTP server (actix-web): the API under `/api/v1`, the widget's assets and the
//! example pages. The only crate that sees both the wire types (`talkback-api`) and the store
//! (`talkback-store`); it converts between them by hand in `convert`.

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
use actix_web::{App, HttpRequest, HttpServer, web};
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
    writes: limit::WriteLimiter,
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
pub fn open_store(config: &Config) -> Result<Arc<dyn CommentStore>, StartError> {
    let options = StoreOptions {
        cache_bytes: config.cache_mb * 1024 * 1024,
    };
    let store =
        SledStore::open(&config.database, &options).map_err(|source| StartError::Store {
            path: config.database.display().to_string(),
            source,
        })?;
    Ok(Arc::new(store))
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
    backup::spawn(Arc::clone(&store), &config);
    let assets = Assets::load(&config.assets_dir);
    let bind = config.bind.clone();
    let state = web::Data::new(AppState {
        store: Arc::clone(&store),
        assets,
        cache: cache::ThreadCache::default(),
        writes: limit::WriteLimiter::new(
            config.rate_limit_per_minute,
            config.trusted_proxies.clone(),
        ),
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
            .wrap(cors)
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
            actix_files::Files::new("/", &state.config.examples_dir).index_file("index.html"),
        );
    }
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
    site.origins
        .iter()
        .any(|o| o.as_bytes() == origin.as_bytes())
        || same_origin(origin.as_bytes(), req.headers().get(header::HOST))
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
mod tests;
