//! Reading a page's thread: JSON for the widget, HTML for the loader's first paint, and the
//! next replies under a top-level comment. Every response is cached under a key built from
//! normalised values only; reads the cache cannot answer count against the client's read budget.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use talkback_api::i18n::Strings;
use talkback_api::limits::{
    DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, REPLIES_PAGE_LIMIT, REPLIES_PER_COMMENT,
};
use talkback_api::{
    Comment, ErrorCode, RepliesQuery, RepliesResponse, Sort, ThreadQuery, ThreadResponse,
    assemble_thread,
};
use talkback_store::{MoreReplies, Order};

use super::site;
use crate::assets::accepts_encoding;
use crate::cache::{Cached, Encoding};
use crate::error::{Error, Result};
use crate::{AppState, convert, render, validate};

/// A thread query with every value normalised: equal views get equal cache keys.
struct View {
    site: String,
    page: String,
    sort: Sort,
    limit: usize,
    after: Option<u64>,
}

impl View {
    fn parse(state: &AppState, query: &ThreadQuery) -> Result<Self> {
        let site = site(state, &query.site)?;
        Ok(Self {
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

    fn variant(&self, kind: &str) -> String {
        format!(
            "{kind}|{:?}|{}|{}",
            self.sort,
            self.limit,
            self.after.map(|a| a.to_string()).unwrap_or_default()
        )
    }
}

fn bad_cursor() -> Error {
    Error::client(
        ErrorCode::InvalidCursor,
        "The cursor is not one this server gave out.",
    )
}

/// The cursor handed out for more replies: where to continue, and how many came before.
fn replies_cursor(more: &MoreReplies) -> String {
    format!("{}.{}", more.after, more.seen)
}

fn parse_replies_cursor(cursor: &str) -> Result<(u64, u32)> {
    let (after, seen) = cursor.split_once('.').ok_or_else(bad_cursor)?;
    match (after.parse(), seen.parse()) {
        (Ok(after), Ok(seen)) => Ok((after, seen)),
        _ => Err(bad_cursor()),
    }
}

/// A thread page, and whether the page exists at all (pages that do not are never cached).
async fn load(state: &web::Data<AppState>, view: &View) -> Result<(ThreadResponse, bool)> {
    let order = match view.sort {
        Sort::Oldest => Order::OldestFirst,
        Sort::Newest => Order::NewestFirst,
    };
    let store = state.store.clone();
    let (site_id, key, limit, after) =
        (view.site.clone(), view.page.clone(), view.limit, view.after);
    let page = web::block(move || {
        store.thread_page(&site_id, &key, order, limit, after, REPLIES_PER_COMMENT)
    })
    .await??;
    let key = &state.avatar_key;
    let top = page
        .top_level
        .iter()
        .map(|r| convert::comment(r, key))
        .collect::<Result<Vec<_>>>()?;
    let replies = page
        .replies
        .iter()
        .map(|r| convert::comment(r, key))
        .collect::<Result<Vec<_>>>()?;
    let mut comments = assemble_thread(top, replies);
    for more in &page.more_replies {
        if let Some(c) = comments.iter_mut().find(|c| c.id.0 == more.root) {
            c.more_replies = more.remaining;
            c.replies_cursor = Some(replies_cursor(more));
        }
    }
    let exists = page.page.is_some();
    Ok((
        ThreadResponse {
            page: view.page.clone(),
            title: page.page.as_ref().and_then(|p| p.title.clone()),
            total: page.page.as_ref().map_or(0, |p| p.count),
            comments,
            next_cursor: page.next_after.map(|id| id.to_string()),
        },
        exists,
    ))
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
    state.limits.read(req)?;
    let (body, total, exists) = build().await?;
    let fresh = Arc::new(Cached::new(body, total).with(encoding));
    if exists {
        state
            .cache
            .put(ticket, site, page, &variant, Arc::clone(&fresh));
    }
    Ok(respond(req, &fresh, encoding, content_type))
}

pub(super) async fn read(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ThreadQuery>,
) -> Result<HttpResponse> {
    let view = View::parse(&state, &query)?;
    let key = (view.site.as_str(), view.page.as_str(), view.variant("json"));
    cached(&state, &req, key, "application/json", async || {
        let (thread, exists) = load(&state, &view).await?;
        Ok((serde_json::to_vec(&thread)?, thread.total, exists))
    })
    .await
}

/// The first page of a thread as escaped HTML, for the loader to show before the WASM runs.
/// The header names the host page's own title when it sends one. Relative times ("5 minutes
/// ago") are part of it, so a cached copy lives a minute at most.
pub(super) async fn read_html(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ThreadQuery>,
    extra: web::Query<LangQuery>,
) -> Result<HttpResponse> {
    let view = View::parse(&state, &query)?;
    let strings = Strings::for_lang(extra.lang.as_deref().unwrap_or("en"));
    let title = validate::title(extra.title.as_deref())?;
    let now = super::now_ms();
    let variant = format!(
        "{}|{}|{}|{}",
        view.variant("html"),
        strings.lang,
        now / 60_000,
        title.as_deref().unwrap_or_default()
    );
    let key = (view.site.as_str(), view.page.as_str(), variant);
    cached(&state, &req, key, "text/html; charset=utf-8", async || {
        let (mut thread, exists) = load(&state, &view).await?;
        if title.is_some() {
            thread.title = title;
        }
        let mut html = String::with_capacity(8192);
        render::thread_html(&thread, strings, now, &mut html);
        Ok((html.into_bytes(), thread.total, exists))
    })
    .await
}

/// The next replies under one top-level comment ("Show N more replies").
pub(super) async fn replies(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<RepliesQuery>,
) -> Result<HttpResponse> {
    let site = site(&state, &query.site)?;
    let page = validate::page_key(&query.page, site)?;
    let (after, seen) = parse_replies_cursor(&query.cursor)?;
    let root = query.root.0;
    let variant = format!("replies|{root}|{after}.{seen}");
    let key = (query.site.as_str(), page.as_str(), variant);
    cached(&state, &req, key, "application/json", async || {
        let store = state.store.clone();
        let (site_id, page_key) = (query.site.clone(), page.clone());
        let run = web::block(move || {
            let exists = store.page(&site_id, &page_key)?.is_some();
            let run =
                store.replies_page(&site_id, &page_key, root, after, seen, REPLIES_PAGE_LIMIT)?;
            Ok::<_, talkback_store::Error>((run, exists))
        })
        .await??;
        let (run, exists) = run;
        let replies = run
            .replies
            .iter()
            .map(|r| convert::comment(r, &state.avatar_key))
            .collect::<Result<Vec<Comment>>>()?;
        let response = RepliesResponse {
            replies,
            more_replies: run.more.map_or(0, |m| m.remaining),
            next_cursor: run.more.as_ref().map(replies_cursor),
        };
        Ok((serde_json::to_vec(&response)?, 0, exists))
    })
    .await
}

/// Extra query parameters of the HTML rendering.
#[derive(Deserialize)]
pub(super) struct LangQuery {
    lang: Option<String>,
    /// The host page's own title, shown in the header (else the title recorded with comments).
    title: Option<String>,
}
