//! API v1 handlers, one file per resource, and helpers they share.

mod comments;
mod counts;
mod preview;
mod threads;

use actix_web::{HttpRequest, web};
use talkback_api::ErrorCode;

use crate::AppState;
use crate::config::SiteConfig;
use crate::error::{Error, Result};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/threads", web::get().to(threads::read))
        .route("/threads/html", web::get().to(threads::read_html))
        .route("/replies", web::get().to(threads::replies))
        .route("/comments", web::post().to(comments::create))
        .route("/comments/{id}", web::put().to(comments::edit))
        .route("/comments/{id}", web::delete().to(comments::delete))
        .route("/counts", web::post().to(counts::counts))
        .route("/preview", web::post().to(preview::preview));
}

/// The configured site, or `unknown_site`.
fn site<'a>(state: &'a AppState, id: &str) -> Result<&'a SiteConfig> {
    state.config.site(id).ok_or_else(|| {
        Error::client(
            ErrorCode::UnknownSite,
            format!("There is no site called {id:?} on this server."),
        )
    })
}

/// The site, after checking the browser's `Origin` may write to it.
fn writable_site<'a>(state: &'a AppState, req: &HttpRequest, id: &str) -> Result<&'a SiteConfig> {
    let site = site(state, id)?;
    if !crate::origin_allowed(req, site) {
        return Err(Error::client(
            ErrorCode::OriginNotAllowed,
            "This page's origin is not allowed to post comments for this site.",
        ));
    }
    Ok(site)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
