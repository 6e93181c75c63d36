//! Reading a page's thread: JSON for the widget, HTML for the loader's first paint.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use talkback_api::i18n::Strings;
use talkback_api::limits::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use talkback_api::{ErrorCode, Sort, ThreadQuery, ThreadResponse, assemble_thread};
use talkback_store::Order;

use super::site;
use crate::assets::accepts_encoding;
use crate::cache::Cached;
use crate::error::{Error, Result};
use crate::{AppState, convert, render, validate};

async fn load(state: &web::Data<AppState>, query: ThreadQuery) -> Result<ThreadResponse> {
    site(state, &query.site)?;
    let page_key = validate::page_key(&query.page)?;
    let limit = query
        .limit
        .unwrap_or(DEFAULT_PAGE_LIMIT)
        .clamp(1, MAX_PAGE_LIMIT) as usize;
    let after = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(c.parse::<u64>().map_err(|_| {
            Error::client(
                ErrorCode::InvalidCursor,
                "The cursor is not one this server gave out.",
            )
        })?),
    };
    let order = match query.sort {
        Sort::Oldest => Order::OldestFirst,
        Sort::Newest => Order::NewestFirst,
    };
    let store = state.store.clone();
    let site_id = query.site.clone();
    let key = page_key.clone();
    let page = web::block(move || store.thread_page(&site_id, &key, order, limit, after)).await??;
    let top = page
        .top_level
        .iter()
        .map(convert::comment)
        .collect::<Result<Vec<_>>>()?;
    let replies = page
        .replies
        .iter()
        .map(convert::comment)
        .collect::<Result<Vec<_>>>()?;
    Ok(ThreadResponse {
        page: page_key,
        title: page.page.as_ref().and_then(|p| p.title.clone()),
        total: page.page.as_ref().map_or(0, |p| p.count),
        comments: assemble_thread(top, replies),
        next_cursor: page.next_after.map(|id| id.to_string()),
    })
}

/// Serves a cached body: 304 when the client has it, else the best encoding it accepts.
fn respond(req: &HttpRequest, cached: &Cached, content_type: &'static str) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == cached.etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, cached.etag.clone()))
        .insert_header((header::VARY, "Accept-Encoding, Origin"))
        .insert_header(("X-Talkback-Total", cached.total.to_string()));
    if fresh {
        return response.finish();
    }
    response.insert_header((header::CONTENT_TYPE, content_type));
    if accepts_encoding(req, "br") {
        response
            .insert_header((header::CONTENT_ENCODING, "br"))
            .body(cached.brotli().to_vec())
    } else if accepts_encoding(req, "gzip") {
        response
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(cached.gzip().to_vec())
    } else {
        response.body(cached.body.clone())
    }
}

/// The cached body of `variant`, building and caching it on a miss.
async fn cached(
    state: &web::Data<AppState>,
    query: &ThreadQuery,
    variant: String,
    build: impl FnOnce(ThreadResponse) -> Result<Vec<u8>>,
) -> Result<Arc<Cached>> {
    site(state, &query.site)?;
    let key = validate::page_key(&query.page)?;
    match state.cache.get(&query.site, &key, &variant) {
        Ok(hit) => Ok(hit),
        Err(ticket) => {
            let thread = load(state, query.clone()).await?;
            let total = thread.total;
            let fresh = Arc::new(Cached::new(build(thread)?, total));
            state
                .cache
                .put(ticket, &query.site, &key, &variant, Arc::clone(&fresh));
            Ok(fresh)
        }
    }
}

fn variant(kind: &str, q: &ThreadQuery) -> String {
    format!(
        "{kind}|{:?}|{:?}|{}",
        q.sort,
        q.limit,
        q.cursor.as_deref().unwrap_or_default()
    )
}

pub(super) async fn read(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ThreadQuery>,
) -> Result<HttpResponse> {
    let query = query.into_inner();
    let body = cached(&state, &query, variant("json", &query), |t| {
        Ok(serde_json::to_vec(&t)?)
    })
    .await?;
    Ok(respond(&req, &body, "application/json"))
}

/// The first page of a thread as escaped HTML, for the loader to show before the WASM runs.
/// Relative times ("5 minutes ago") are part of it, so a cached copy lives a minute at most.
pub(super) async fn read_html(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ThreadQuery>,
    extra: web::Query<LangQuery>,
) -> Result<HttpResponse> {
    let query = query.into_inner();
    let strings = Strings::for_lang(extra.lang.as_deref().unwrap_or("en"));
    let title = validate::title(extra.title.as_deref())?;
    let now = super::now_ms();
    let key = format!(
        "{}|{}|{}|{}",
        variant("html", &query),
        strings.lang,
        now / 60_000,
        title.as_deref().unwrap_or_default()
    );
    let body = cached(&state, &query, key, |mut thread| {
        if thread.title.is_none() {
            thread.title = title;
        }
        let mut html = String::with_capacity(8192);
        render::thread_html(&thread, strings, now, &mut html);
        Ok(html.into_bytes())
    })
    .await?;
    Ok(respond(&req, &body, "text/html; charset=utf-8"))
}

/// Extra query parameters of the HTML rendering.
#[derive(Deserialize)]
pub(super) struct LangQuery {
    lang: Option<String>,
    /// The page's title, used before the first comment has recorded one.
    title: Option<String>,
}
