//! A site's latest comments as an escaped HTML fragment, for the embed script's
//! `data-view="recent"` (a sidebar's "Recent comments": no WASM). Browsers keep it a minute.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use talkback_api::i18n::Strings;
use talkback_api::i18n::pages::PageTexts;

use super::openapi::ReadErrors;
use crate::AppState;
use crate::content::feed;
use crate::error::Result;
use crate::http::base_url;

/// Most comments a recent list shows.
const MAX_RECENT: usize = 20;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RecentQuery {
    /// The site id configured on the server.
    site: String,
    /// How many comments (1 to 20; 5 when absent).
    limit: Option<u32>,
    /// The reader's language (`en`, `de`, `fr`, `es`, …); English when unknown.
    lang: Option<String>,
}

/// The newest approved comments of a site, each linking to the comment on its post.
#[utoipa::path(
    get,
    path = "/recent/html",
    tag = "threads",
    params(RecentQuery),
    responses(
        (status = 200, description = "An escaped HTML fragment", content_type = "text/html", body = String),
        ReadErrors,
    ),
)]
pub(super) async fn recent(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<RecentQuery>,
) -> Result<HttpResponse> {
    state.service.site(&query.site)?;
    state.limits.read(&req).await?;
    let limit = query.limit.unwrap_or(5).clamp(1, MAX_RECENT as u32) as usize;
    let mut entries = {
        let (service, site) = (state.service.clone(), query.site.clone());
        web::block(move || service.latest(&site, None)).await??
    };
    entries.truncate(limit);
    let lang = query.lang.as_deref().unwrap_or("en");
    let base = base_url(&state, &req);
    let thread_page = |key: &str| {
        format!(
            "{base}/t/{}?page={}",
            crate::pages::query_value(&query.site),
            crate::pages::query_value(key)
        )
    };
    let mut out = String::with_capacity(4096);
    feed::recent_html(
        &entries,
        (Strings::for_lang(lang), PageTexts::for_lang(lang)),
        crate::service::now_ms(),
        |entry| feed::entry_link(entry, thread_page),
        &mut out,
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .insert_header((header::VARY, "Origin"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
        ))
        .body(out))
}
