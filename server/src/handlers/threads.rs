//! Reading a page's thread: JSON for the widget, HTML for the loader's first paint.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use talkback_api::i18n::Strings;
use talkback_api::limits::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use talkback_api::{ErrorCode, Sort, ThreadQuery, ThreadResponse, assemble_thread};
use talkback_store::Order;

use super::site;
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

pub(super) async fn read(
    state: web::Data<AppState>,
    query: web::Query<ThreadQuery>,
) -> Result<HttpResponse> {
    let thread = load(&state, query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(thread))
}

/// The first page of a thread as escaped HTML, for the loader to show before the WASM runs.
pub(super) async fn read_html(
    state: web::Data<AppState>,
    query: web::Query<ThreadQuery>,
    lang: web::Query<LangQuery>,
) -> Result<HttpResponse> {
    let mut thread = load(&state, query.into_inner()).await?;
    if thread.title.is_none() {
        thread.title = validate::title(lang.title.as_deref())?;
    }
    let strings = Strings::for_lang(lang.lang.as_deref().unwrap_or("en"));
    let mut html = String::with_capacity(8192);
    render::thread_html(&thread, strings, super::now_ms(), &mut html);
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Talkback-Total", thread.total.to_string()))
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Extra query parameters of the HTML rendering.
#[derive(Deserialize)]
pub(super) struct LangQuery {
    lang: Option<String>,
    /// The page's title, used before the first comment has recorded one.
    title: Option<String>,
}
