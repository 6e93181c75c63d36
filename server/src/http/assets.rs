//! The built widget: `embed.js` (short-lived, names the current hashed files) and the
//! content-hashed files under `/assets/` (cached for a year, immutable), each served from
//! memory with its brotli or gzip twin that the build precompressed.

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

impl Assets {
    /// Reads the asset directory; a missing one is logged and leaves the API working.
    pub fn load(dir: &Path) -> Self {
        let mut files = HashMap::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "no widget assets; run `cargo xtask build-widget`");
                return Self { files };
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".br") || name.ends_with(".gz") || !entry.path().is_file() {
                continue;
            }
            let Ok(raw) = std::fs::read(entry.path()) else {
                continue;
            };
            let twin = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).ok();
            files.insert(
                name.clone(),
                Asset {
                    content_type: content_type(&name),
                    brotli: twin("br"),
                    gzip: twin("gz"),
                    raw,
                },
            );
        }
        tracing::info!(count = files.len(), dir = %dir.display(), "widget assets loaded");
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
        .route("/assets/{name}", web::get().to(asset));
}

async fn embed(state: web::Data<crate::AppState>, req: HttpRequest) -> HttpResponse {
    state
        .assets
        .respond(&req, "embed.js", "public, max-age=300")
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
