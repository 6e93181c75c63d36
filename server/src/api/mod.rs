//! The reader API (v1): JSON handlers, one file per resource. Handlers do what is HTTP's
//! (origins, rate limits, caching, status codes and headers) and hand everything else to the
//! service: they never see the store.

mod challenge;
mod comments;
mod counts;
mod preview;
mod threads;

use actix_web::{HttpRequest, web};
use talkback_api::ErrorCode;

use crate::AppState;
use crate::config::SiteConfig;
use crate::http::{Error, Result};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/threads", web::get().to(threads::read))
        .route("/threads/html", web::get().to(threads::read_html))
        .route("/replies", web::get().to(threads::replies))
        .route("/challenge", web::get().to(challenge::issue))
        .route("/comments", web::post().to(comments::create))
        .route("/comments/held", web::post().to(comments::held))
        .route("/comments/{id}", web::put().to(comments::edit))
        .route("/comments/{id}", web::delete().to(comments::delete))
        .route("/counts", web::post().to(counts::counts))
        .route("/preview", web::post().to(preview::preview));
}

/// The configured site, or `unknown_site`.
fn site<'a>(state: &'a AppState, id: &str) -> Result<&'a SiteConfig> {
    state
        .config
        .site(id)
        .ok_or_else(|| crate::service::unknown_site(id))
}

/// The site, after checking the browser's `Origin` may write to it.
fn writable_site<'a>(state: &'a AppState, req: &HttpRequest, id: &str) -> Result<&'a SiteConfig> {
    let site = site(state, id)?;
    if !crate::http::origin_allowed(req, site) {
        return Err(Error::client(
            ErrorCode::OriginNotAllowed,
            "This page's origin is not allowed to post comments for this site.",
        ));
    }
    Ok(site)
}
