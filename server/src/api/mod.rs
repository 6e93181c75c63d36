//! The reader API (v1): JSON handlers, one file per resource. Handlers do what is HTTP's
//! (origins, rate limits, caching, status codes and headers) and hand everything else to the
//! service: they never see the store.

mod challenge;
mod comments;
mod counts;
mod live;
mod openapi;
mod preview;
mod recent;
mod threads;

use actix_web::{HttpRequest, web};
use talkback_api::ErrorCode;

use crate::AppState;
use crate::config::SiteConfig;
use crate::error::{Error, Result};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, post, put};
    cfg.service(resource("/threads", "GET").route(get().to(threads::read)))
        .service(resource("/threads/html", "GET").route(get().to(threads::read_html)))
        .service(resource("/recent/html", "GET").route(get().to(recent::recent)))
        .service(resource("/replies", "GET").route(get().to(threads::replies)))
        .service(resource("/challenge", "GET").route(get().to(challenge::issue)))
        .service(resource("/live", "GET").route(get().to(live::follow)))
        .service(resource("/comments", "POST").route(post().to(comments::create)))
        .service(resource("/comments/held", "POST").route(post().to(comments::held)))
        .service(resource("/counts", "POST").route(post().to(counts::counts)))
        .service(resource("/preview", "POST").route(post().to(preview::preview)))
        .service(resource("/openapi.json", "GET").route(get().to(openapi::document)))
        // Last: a path with a segment to capture is matched by a regular expression, which
        // every request to a path registered after it would run first.
        .service(
            resource("/comments/{id}", "PUT, DELETE")
                .route(put().to(comments::edit))
                .route(delete().to(comments::delete)),
        );
}

/// A path of the API: other methods than those in `allow` get `405 method_not_allowed`.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<actix_web::HttpResponse, _>(Error::WrongMethod { allow })
    }))
}

/// The site, after checking the browser's `Origin` may write to it.
fn writable_site<'a>(state: &'a AppState, req: &HttpRequest, id: &str) -> Result<&'a SiteConfig> {
    let site = state.service.site(id)?;
    if !crate::http::origin_allowed(req, site) {
        return Err(Error::client(
            ErrorCode::OriginNotAllowed,
            "This page's origin is not allowed to post comments for this site.",
        ));
    }
    Ok(site)
}
