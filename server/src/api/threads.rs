//! Reading a page's thread: JSON for the widget, HTML for the loader's first paint, and the
//! next replies under a top-level comment. Every response is cached under a key built from
//! normalised values only; reads the cache cannot answer count against the client's read budget.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use talkback_api::i18n::Strings;
use talkback_api::limits::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use talkback_api::{ErrorCode, RepliesQuery, RepliesResponse, ThreadQuery, ThreadResponse};

use super::openapi::ReadErrors;
use crate::AppState;
use crate::content::{render, validate};
use crate::error::{Error, Result};
use crate::http::assets::accepts_encoding;
use crate::http::cache::{Cached, Encoding};
use crate::service::ThreadView;

/// Reads a thread query into a view with every value normalised.
fn parse_view(state: &AppState, query: &ThreadQuery) -> Result<ThreadView> {
    let site = state.service.site(&query.site)?;
    Ok(ThreadView {
        site: query.site.clone(),
        page: validate::page_key(&query.page, site)?,
        sort: query.sort,
        limit: query
            .limit
            .unwrap_or(DEFAULT_PAGE_LIMIT)
            .clamp(1, MAX_PAGE_LIMIT) as usize,
        after: match query.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(c.parse::<u64>().map_err(|_| bad_cursor())?),
        },
    })
}

/// The cache variant of a view.
fn variant(view: &ThreadView, kind: &str) -> String {
    format!(
        "{kind}|{:?}|{}|{}",
        view.sort,
        view.limit,
        view.after.map(|a| a.to_string()).unwrap_or_default()
    )
}

fn bad_cursor() -> Error {
    Error::client(
        ErrorCode::InvalidCursor,
        "The cursor is not one this server gave out.",
    )
}

fn parse_replies_cursor(cursor: &str) -> Result<(u64, u32)> {
    let (after, seen) = cursor.split_once('.').ok_or_else(bad_cursor)?;
    match (after.parse(), seen.parse()) {
        (Ok(after), Ok(seen)) => Ok((after, seen)),
        _ => Err(bad_cursor()),
    }
}

/// A thread page from the service, and whether the page exists.
async fn load(state: &web::Data<AppState>, view: &ThreadView) -> Result<(ThreadResponse, bool)> {
    let (service, view) = (state.service.clone(), view.clone());
    web::block(move || service.thread(&view)).await?
}

/// The encoding to answer `req` with.
fn encoding_for(req: &HttpRequest) -> Encoding {
    if accepts_encoding(req, "br") {
        Encoding::Brotli
    } else if accepts_encoding(req, "gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Serves a cached body: 304 when the client has it, else in `encoding`.
fn respond(
    req: &HttpRequest,
    cached: &Cached,
    encoding: Encoding,
    content_type: &'static str,
) -> HttpResponse {
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
    if content_type.starts_with("text/html") {
        // A fragment for the loader to insert: as a document of its own it may run nothing.
        response.insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
        ));
    }
    let body = match (encoding, cached.encoded(encoding)) {
        (Encoding::Brotli, Some(b)) => {
            response.insert_header((header::CONTENT_ENCODING, "br"));
            b.clone()
        }
        (Encoding::Gzip, Some(b)) => {
            response.insert_header((header::CONTENT_ENCODING, "gzip"));
            b.clone()
        }
        _ => cached.body.clone(),
    };
    response.body(body)
}

/// Answers from the cache, or builds the body (counting against the client's read budget),
/// caches it when the page exists, and answers.
async fn cached(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    (site, page, variant): (&str, &str, String),
    content_type: &'static str,
    build: impl AsyncFnOnce() -> Result<(Vec<u8>, u32, bool)>,
) -> Result<HttpResponse> {
    let encoding = encoding_for(req);
    let ticket = match state.cache.get(site, page, &variant) {
        (Some(hit), _) if hit.encoded(encoding).is_some() => {
            return Ok(respond(req, &hit, encoding, content_type));
        }
        (Some(hit), ticket) => {
            // Cached, but not yet in this encoding: add it (unless a write came in between).
            let upgraded = Arc::new(hit.with(encoding));
            state
                .cache
                .put(ticket, site, page, &variant, Arc::clone(&upgraded));
            return Ok(respond(req, &upgraded, encoding, content_type));
        }
        (None, ticket) => ticket,
    };
    state.limits.read(req).await?;
    let (body, total, exists) = build().await?;
    let fresh = Arc::new(Cached::new(body, total).with(encoding));
    if exists {
        state
            .cache
            .put(ticket, site, page, &variant, Arc::clone(&fresh));
    }
    Ok(respond(req, &fresh, encoding, content_type))
}

/// One page of a thread, top-level comments with their first replies.
#[utoipa::path(
    get,
    path = "/threads",
    tag = "threads",
    params(ThreadQuery),
    responses(
        (status = 200, description = "A page of the thread (empty for a page nobody commented on)",
            body = ThreadResponse, headers(("ETag" = String), ("X-Talkback-Total" = u32))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        ReadErrors,
    ),
)]
pub(super) async fn read(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ThreadQuery>,
) -> Result<HttpResponse> {
    let view = parse_view(&state, &query)?;
    let key = (
        view.site.as_str(),
        view.page.as_str(),
        variant(&view, "json"),
    );
    cached(&state, &req, key, "application/json", async || {
        let (thread, exists) = load(&state, &view).await?;
        Ok((serde_json::to_vec(&thread)?, thread.total, exists))
    })
    .await
}

/// The first page of a thread as escaped HTML, for the loader to show before the WASM runs.
/// The header names the host page's own title when it sends one. Relative times ("5 minutes
/// ago") are part of it, so a cached copy lives a minute at most.
#[utoipa::path(
    get,
    path = "/threads/html",
    tag = "threads",
    params(ThreadQuery, LangQuery),
    responses(
        (status = 200, description = "An escaped HTML fragment", content_type = "text/html",
            body = String, headers(("ETag" = String), ("X-Talkback-Total" = u32))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        ReadErrors,
    ),
)]
pub(super) async fn read_html(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ThreadQuery>,
    extra: web::Query<LangQuery>,
) -> Result<HttpResponse> {
    let view = parse_view(&state, &query)?;
    let strings = Strings::for_lang(extra.lang.as_deref().unwrap_or("en"));
    let title = validate::title(extra.title.as_deref())?;
    let now = crate::service::now_ms();
    let variant = format!(
        "{}|{}|{}|{}|{}",
        variant(&view, "html"),
        strings.lang,
        now / 60_000,
        extra.form,
        title.as_deref().unwrap_or_default()
    );
    let key = (view.site.as_str(), view.page.as_str(), variant);
    cached(&state, &req, key, "text/html; charset=utf-8", async || {
        let (service, read) = (state.service.clone(), view.clone());
        let ((mut thread, exists), pingbacks) = web::block(move || -> Result<_> {
            Ok((service.thread(&read)?, service.pingbacks(&read)?))
        })
        .await??;
        if title.is_some() {
            thread.title = title;
        }
        let mut html = String::with_capacity(8192);
        let shell = if extra.form {
            render::Shell::WithForm
        } else {
            render::Shell::Thread
        };
        render::thread_html((&thread, &pingbacks), strings, now, shell, &mut html);
        Ok((html.into_bytes(), thread.total, exists))
    })
    .await
}

/// The next replies under one top-level comment ("Show N more replies").
#[utoipa::path(
    get,
    path = "/replies",
    tag = "threads",
    params(RepliesQuery),
    responses(
        (status = 200, description = "The next replies", body = RepliesResponse),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        ReadErrors,
    ),
)]
pub(super) async fn replies(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<RepliesQuery>,
) -> Result<HttpResponse> {
    let site = state.service.site(&query.site)?;
    let page = validate::page_key(&query.page, site)?;
    let (after, seen) = parse_replies_cursor(&query.cursor)?;
    let root = query.root.0;
    let variant = format!("replies|{root}|{after}.{seen}");
    let key = (query.site.as_str(), page.as_str(), variant);
    cached(&state, &req, key, "application/json", async || {
        let service = state.service.clone();
        let (site_id, page_key) = (query.site.clone(), page.clone());
        let (response, exists) =
            web::block(move || service.replies(&site_id, &page_key, root, (after, seen))).await??;
        Ok((serde_json::to_vec(&response)?, 0, exists))
    })
    .await
}

/// Extra query parameters of the HTML rendering.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LangQuery {
    /// The reader's language (`en`, `de`, `fr`, `es`, …); English when unknown.
    lang: Option<String>,
    /// The host page's own title, shown in the header (else the title recorded with comments).
    title: Option<String>,
    /// Also the comment form, inert, as the widget will draw it: the embed script shows it until
    /// the widget loads (on the reader's first focus or scroll) and hands over what was typed.
    /// Left out of snapshots baked into pages, where it could not work.
    #[serde(default)]
    form: bool,
}
