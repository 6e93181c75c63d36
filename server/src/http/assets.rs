//! The built widget: `embed.js` (short-lived, names the current hashed files) and the
//! content-hashed files under `/assets/` (cached for a year, immutable), each served from
//! memory with its brotli or gzip twin that the build precompressed. They come from the binary
//! itself when it was built with the `embed-assets` feature (`cargo xtask dist`), else from a
//! directory (`assets_dir`, which also overrides the built-in ones).

use std::collections::HashMap;
use std::path::Path;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// One file with its precompressed variants.
struct Asset {
    content_type: &'static str,
    raw: Vec<u8>,
    brotli: Option<Vec<u8>>,
    gzip: Option<Vec<u8>>,
}

/// Every asset file, loaded once at start.
#[derive(Default)]
pub struct Assets {
    files: HashMap<String, Asset>,
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The built assets, in the binary (`embed-assets` feature).
#[cfg(feature = "embed-assets")]
#[derive(rust_embed::RustEmbed)]
#[folder = "../target/talkback-widget/"]
struct Embedded;

/// Where a development build looks when `assets_dir` is unset.
const DEVELOPMENT_DIR: &str = "target/talkback-widget";

impl Assets {
    /// The assets of `dir`, or else those built into the binary, or else those in
    /// `target/talkback-widget`. Missing ones are logged and leave the API working.
    pub fn load(dir: Option<&Path>) -> Self {
        match dir {
            Some(dir) => Self::from_dir(dir),
            None => Self::built_in().unwrap_or_else(|| Self::from_dir(Path::new(DEVELOPMENT_DIR))),
        }
    }

    /// Whether the binary carries the widget and dashboard.
    pub const BUILT_IN: bool = cfg!(feature = "embed-assets");

    #[cfg(feature = "embed-assets")]
    fn built_in() -> Option<Self> {
        let files = Embedded::iter()
            .filter_map(|name| Some((name.to_string(), Embedded::get(&name)?.data.into_owned())));
        let assets = Self::from_files(files.collect());
        tracing::info!(count = assets.files.len(), "widget assets built in");
        Some(assets)
    }

    #[cfg(not(feature = "embed-assets"))]
    fn built_in() -> Option<Self> {
        None
    }

    fn from_dir(dir: &Path) -> Self {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "no widget assets; run `cargo xtask build-widget`");
                return Self::default();
            }
        };
        let files = entries
            .flatten()
            .filter(|entry| entry.path().is_file())
            .filter_map(|entry| {
                let data = std::fs::read(entry.path()).ok()?;
                Some((entry.file_name().to_string_lossy().into_owned(), data))
            })
            .collect();
        let assets = Self::from_files(files);
        tracing::info!(count = assets.files.len(), dir = %dir.display(), "widget assets loaded");
        assets
    }

    /// Pairs each file with its `.br` and `.gz` twins.
    fn from_files(mut all: HashMap<String, Vec<u8>>) -> Self {
        let names: Vec<String> = all
            .keys()
            .filter(|n| !n.ends_with(".br") && !n.ends_with(".gz"))
            .cloned()
            .collect();
        let files = names
            .into_iter()
            .filter_map(|name| {
                let raw = all.remove(&name)?;
                let asset = Asset {
                    content_type: content_type(&name),
                    brotli: all.remove(&format!("{name}.br")),
                    gzip: all.remove(&format!("{name}.gz")),
                    raw,
                };
                Some((name, asset))
            })
            .collect();
        Self { files }
    }

    pub(crate) fn respond(
        &self,
        req: &HttpRequest,
        name: &str,
        cache: &'static str,
    ) -> HttpResponse {
        let Some(asset) = self.files.get(name) else {
            return HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("Not found. If this is embed.js, build the widget first: cargo xtask build-widget\n");
        };
        let accepts = |coding: &str| accepts_encoding(req, coding);
        let mut response = HttpResponse::Ok();
        response
            .insert_header((header::CONTENT_TYPE, asset.content_type))
            .insert_header((header::CACHE_CONTROL, cache))
            .insert_header((header::VARY, "Accept-Encoding"))
            .insert_header(("Access-Control-Allow-Origin", "*"))
            // Compression is done already; stop any middleware from redoing it.
            .insert_header((header::CONTENT_ENCODING, "identity"));
        match (&asset.brotli, &asset.gzip) {
            (Some(br), _) if accepts("br") => response
                .insert_header((header::CONTENT_ENCODING, "br"))
                .body(br.clone()),
            (_, Some(gz)) if accepts("gzip") => response
                .insert_header((header::CONTENT_ENCODING, "gzip"))
                .body(gz.clone()),
            _ => response.body(asset.raw.clone()),
        }
    }
}

/// Whether the client's `Accept-Encoding` allows `coding`.
pub(crate) fn accepts_encoding(req: &HttpRequest, coding: &str) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',').any(|part| {
                let mut bits = part.split(';').map(str::trim);
                bits.next() == Some(coding) && !bits.any(|b| b == "q=0" || b == "q=0.0")
            })
        })
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/embed.js", web::get().to(embed))
        .route("/count.js", web::get().to(count))
        .route("/assets/{name}", web::get().to(asset));
}

async fn embed(state: web::Data<crate::AppState>, req: HttpRequest) -> HttpResponse {
    state
        .assets
        .respond(&req, "embed.js", "public, max-age=300")
}

/// Comment counts for index pages (plain script, no WASM).
async fn count(state: web::Data<crate::AppState>, req: HttpRequest) -> HttpResponse {
    state
        .assets
        .respond(&req, "count.js", "public, max-age=300")
}

async fn asset(
    state: web::Data<crate::AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> HttpResponse {
    state
        .assets
        .respond(&req, &name, "public, max-age=31536000, immutable")
}
