//! Creating, editing and deleting comments. Every write is acknowledged only after it is
//! flushed to disk.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use sha2::{Digest, Sha256};
use talkback_api::limits::{EDIT_KEY_HEADER, MAX_REPLY_DEPTH};
use talkback_api::{
    CreateComment, CreateCommentResponse, DeleteCommentResponse, EditComment, EditCommentResponse,
    ErrorCode,
};
use talkback_store::{CommentRecord, CommentStore, NewComment, ParentProblem, Status, WriteSeq};

use super::{now_ms, writable_site};
use crate::config::Moderation;
use crate::error::{Error, Result};
use crate::{AppState, convert, validate};

fn new_edit_key() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::Store(talkback_store::Error::Corrupt(format!(
            "no randomness: {e}"
        )))
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Waits until the write is on disk; concurrent writers share one flush.
async fn durable(store: std::sync::Arc<dyn CommentStore>, seq: WriteSeq) -> Result<()> {
    web::block(move || store.flush_through(seq)).await??;
    Ok(())
}

pub(super) async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateComment>,
) -> Result<HttpResponse> {
    let input = body.into_inner();
    let site = writable_site(&state, &req, &input.site)?;
    state.writes.check(&req)?;
    let page_key = validate::page_key(&input.page)?;
    let page_title = validate::title(input.title.as_deref())?;
    let page_url = validate::page_url(input.url.as_deref())?;
    let author = validate::author(input.author.as_deref())?;
    let email = validate::email(input.email.as_deref())?;
    let website = validate::website(input.website.as_deref())?;
    let (body_source, tree) = validate::body(&input.body)?;
    let edit_key = new_edit_key()?;
    let created = now_ms();
    let new = NewComment {
        site: site.id.clone(),
        page_key,
        page_title,
        page_url,
        parent: input.parent.map(|p| p.0),
        max_depth: MAX_REPLY_DEPTH,
        author,
        email,
        website,
        body_source,
        body_tree: serde_json::to_string(&tree)?,
        created,
        status: match site.moderation {
            Moderation::None => Status::Approved,
            Moderation::All => Status::Pending,
        },
        edit_key_hash: Some(hash_key(&edit_key)),
        edited: None,
        source: None,
        ip: None,
    };
    let (site_id, page_key) = (new.site.clone(), new.page_key.clone());
    let store = state.store.clone();
    let (record, seq) = web::block(move || store.insert_comment(new))
        .await?
        .map_err(|e| match e {
            talkback_store::Error::Parent(problem) => parent_error(problem),
            other => other.into(),
        })?;
    state.cache.invalidate(&site_id, &page_key);
    durable(state.store.clone(), seq).await?;
    let response = CreateCommentResponse {
        comment: convert::comment(&record)?,
        edit_key,
        editable_until: created + edit_window_ms(&state),
    };
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/comments/{}", record.id)))
        .insert_header(("Cache-Control", "no-store"))
        .json(response))
}

fn parent_error(problem: ParentProblem) -> Error {
    match problem {
        ParentProblem::Missing => Error::client(
            ErrorCode::ParentNotFound,
            "The comment you are replying to no longer exists.",
        ),
        ParentProblem::OtherPage => Error::client(
            ErrorCode::ParentOnOtherPage,
            "The comment you are replying to is on another page.",
        ),
        ParentProblem::TooDeep => Error::client(
            ErrorCode::NestingTooDeep,
            format!(
                "Replies can nest at most {MAX_REPLY_DEPTH} levels deep; reply higher up the thread."
            ),
        ),
    }
}

/// Drops the cached pages of the thread a comment belongs to (before acknowledging).
async fn invalidate_page_of(state: &web::Data<AppState>, page_id: u64) -> Result<()> {
    let store = state.store.clone();
    if let Some(page) = web::block(move || store.page_by_id(page_id)).await?? {
        state.cache.invalidate(&page.site, &page.key);
    }
    Ok(())
}

fn edit_window_ms(state: &AppState) -> i64 {
    i64::try_from(state.config.edit_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Loads the comment and checks the edit key and window.
async fn authorised(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    id: u64,
) -> Result<CommentRecord> {
    let store = state.store.clone();
    let not_found = || Error::client(ErrorCode::CommentNotFound, "There is no such comment.");
    let record = web::block(move || store.comment(id))
        .await??
        .ok_or_else(not_found)?;
    if record.status == Status::Deleted {
        return Err(not_found());
    }
    let key = req
        .headers()
        .get(EDIT_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let matches =
        !key.is_empty() && record.edit_key_hash.as_deref() == Some(hash_key(key).as_str());
    if !matches {
        return Err(Error::client(
            ErrorCode::EditKeyInvalid,
            "This comment can only be changed from the browser that posted it.",
        ));
    }
    if now_ms() > record.created.saturating_add(edit_window_ms(state)) {
        return Err(Error::client(
            ErrorCode::EditWindowExpired,
            "The time to edit or delete this comment has passed.",
        ));
    }
    Ok(record)
}

pub(super) async fn edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<u64>,
    body: web::Json<EditComment>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    state.writes.check(&req)?;
    authorised(&state, &req, id).await?;
    let (source, tree) = validate::body(&body.body)?;
    let tree = serde_json::to_string(&tree)?;
    let store = state.store.clone();
    let (record, seq) =
        web::block(move || store.edit_comment(id, source, tree, now_ms())).await??;
    invalidate_page_of(&state, record.page_id).await?;
    durable(state.store.clone(), seq).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(EditCommentResponse {
            comment: convert::comment(&record)?,
        }))
}

pub(super) async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<u64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    state.writes.check(&req)?;
    let record = authorised(&state, &req, id).await?;
    let store = state.store.clone();
    let (outcome, seq) = web::block(move || store.delete_comment(id)).await??;
    invalidate_page_of(&state, record.page_id).await?;
    durable(state.store.clone(), seq).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(DeleteCommentResponse {
            tombstone: outcome == talkback_store::Deleted::Tombstone,
        }))
}
