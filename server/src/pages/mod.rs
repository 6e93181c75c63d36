//! What the server renders as whole documents under `/t/{site}`: the thread page for readers
//! without JavaScript and for crawlers, with a plain form that posts (`thread`), and Atom and
//! RSS feeds of a thread's or a site's newest comments (`feeds`), and the pages readers' mail
//! links to, to confirm a subscription or unsubscribe (`subscription`). They read and write through
//! the service like the API does, count against the client's budgets, and render through
//! `content` (the one escaping renderer).

mod feeds;
mod subscription;
mod thread;

use actix_web::web;

use crate::error::Result;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/t/{site}", web::get().to(thread::page))
        .route("/t/{site}/comment", web::post().to(thread::post))
        .route("/t/{site}/atom", web::get().to(feeds::atom))
        .route("/t/{site}/rss", web::get().to(feeds::rss))
        .route(
            "/t/{site}/subscription",
            web::get().to(subscription::confirm_page),
        )
        .route(
            "/t/{site}/subscription",
            web::post().to(subscription::confirm),
        )
        .route(
            "/t/{site}/unsubscribe",
            web::get().to(subscription::unsubscribe_page),
        )
        .route(
            "/t/{site}/unsubscribe",
            web::post().to(subscription::unsubscribe),
        );
}

/// A thread's first page as the HTML fragment the loader paints before the widget runs (what
/// `GET /api/v1/threads/html` serves), for static-site generators to bake into a post at build
/// time: `talkback snapshot`.
pub fn snapshot(
    service: &crate::service::Service,
    site: &str,
    page: &str,
    lang: &str,
) -> Result<String> {
    let config = service.site(site)?;
    let view = crate::service::ThreadView {
        site: site.to_owned(),
        page: crate::content::validate::page_key(page, config)?,
        sort: talkback_api::Sort::Oldest,
        limit: talkback_api::limits::DEFAULT_PAGE_LIMIT as usize,
        after: None,
    };
    let (thread, _) = service.thread(&view)?;
    let pingbacks = service.pingbacks(&view)?;
    let mut html = String::with_capacity(8192);
    crate::content::render::thread_html(
        (&thread, &pingbacks),
        talkback_api::i18n::Strings::for_lang(lang),
        crate::service::now_ms(),
        crate::content::render::Shell::Thread,
        &mut html,
    );
    Ok(html)
}

/// A query string's value, percent-encoded.
pub fn query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
