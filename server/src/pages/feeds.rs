//! Atom and RSS 2.0 feeds: `/t/{site}/atom` and `/t/{site}/rss`, of one page's comments
//! with `?page=`, else of the site's newest.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use talkback_api::i18n::Strings;
use talkback_api::i18n::pages::PageTexts;

use super::query_value;
use crate::AppState;
use crate::content::feed::{self, FeedHead};
use crate::content::validate;
use crate::error::Result;
use crate::http::base_url;

#[derive(Deserialize)]
pub(super) struct FeedQuery {
    /// One page's comments; else the site's.
    page: Option<String>,
    lang: Option<String>,
}

#[derive(Clone, Copy)]
enum Format {
    Atom,
    Rss,
}

pub(super) async fn atom(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse> {
    feed(
        state,
        req,
        site.into_inner(),
        query.into_inner(),
        Format::Atom,
    )
    .await
}

pub(super) async fn rss(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse> {
    feed(
        state,
        req,
        site.into_inner(),
        query.into_inner(),
        Format::Rss,
    )
    .await
}

async fn feed(
    state: web::Data<AppState>,
    req: HttpRequest,
    site_id: String,
    query: FeedQuery,
    format: Format,
) -> Result<HttpResponse> {
    let config = state.service.site(&site_id)?;
    let page = query
        .page
        .as_deref()
        .map(|p| validate::page_key(p, config))
        .transpose()?;
    state.limits.read(&req).await?;
    let entries = {
        let (service, site_id, page) = (state.service.clone(), site_id.clone(), page.clone());
        web::block(move || service.latest(&site_id, page.as_deref())).await??
    };
    let base = base_url(&state, &req);
    let thread_page = |key: &str| format!("{base}/t/{site_id}?page={}", query_value(key));
    let lang = query.lang.as_deref().unwrap_or("en");
    let (strings, texts) = (Strings::for_lang(lang), PageTexts::for_lang(lang));
    let (title, alternate) = match &page {
        Some(key) => {
            let shown = entries
                .first()
                .and_then(|e| e.page_title.clone())
                .unwrap_or_else(|| key.clone());
            let alternate = entries
                .first()
                .and_then(|e| e.page_url.clone())
                .filter(|u| talkback_api::is_web_address(u))
                .unwrap_or_else(|| thread_page(key));
            (
                talkback_api::i18n::fill(texts.feed_of_page, &[("title", &shown)]),
                alternate,
            )
        }
        None => (
            talkback_api::i18n::fill(texts.feed_of_site, &[("site", &site_id)]),
            config
                .origins
                .first()
                .cloned()
                .unwrap_or_else(|| base.clone()),
        ),
    };
    let self_url = format!("{base}{}", req.uri());
    let head = FeedHead {
        title: &title,
        self_url: &self_url,
        alternate: &alternate,
        strings,
        texts,
        now_ms: crate::service::now_ms(),
    };
    let link = |entry: &feed::FeedEntry| feed::entry_link(entry, thread_page);
    let mut out = String::with_capacity(16 * 1024);
    let content_type = match format {
        Format::Atom => {
            feed::atom(&head, &entries, link, &mut out);
            "application/atom+xml; charset=utf-8"
        }
        Format::Rss => {
            feed::rss(&head, &entries, link, &mut out);
            "application/rss+xml; charset=utf-8"
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(out))
}
