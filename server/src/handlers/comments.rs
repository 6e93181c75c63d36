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
use talkback_store::{
    CommentRecord, CommentStore, NewComment, PageRecord, ParentProblem, Status, WriteSeq,
};

use super::{now_ms, writable_site};
use crate::config::Moderation;
use crate::error::{Error, Result};
use crate::{AppState, convert, validate};

fn new_edit_key() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
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
    state.limits.write(&req)?;
    let page_key = validate::page_key(&input.page, site)?;
    let page_title = validate::title(input.title.as_deref())?;
    let page_url = validate::page_url(input.url.as_deref(), site)?;
    if let Some(url) = &page_url
        && !crate::url_on_site(&req, site, url)
    {
        return Err(Error::client(
            ErrorCode::InvalidPage,
            "The page URL must be on one of this site's addresses.",
        ));
    }
    // Only a page on the blog itself may say what it is called and where it lives.
    let (page_title, page_url) = if crate::request_from_site(&req, site) {
        (page_title, page_url)
    } else {
        (None, None)
    };
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
        comment: convert::comment(&record, &state.avatar_key)?,
        edit_key,
        editable_until: created.saturating_add(edit_window_ms(&state)),
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

/// The page a comment belongs to (looked up before a write, which may remove it).
async fn page_of(state: &web::Data<AppState>, page_id: u64) -> Result<PageRecord> {
    let store = state.store.clone();
    web::block(move || store.page_by_id(page_id))
        .await??
        .ok_or_else(|| Error::Internal(format!("page {page_id} of a comment is missing")))
}

fn edit_window_ms(state: &AppState) -> i64 {
    i64::try_from(state.config.edit_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Loads the comment and checks the edit key and window. A comment that does not exist (or
/// is deleted) is refused exactly like a wrong key, so ids cannot be probed.
async fn authorised(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    id: u64,
) -> Result<CommentRecord> {
    let key = req
        .headers()
        .get(EDIT_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let presented = hash_key(key);
    let store = state.store.clone();
    let record = web::block(move || store.comment(id))
        .await??
        .filter(|r| r.status != Status::Deleted);
    let record = match record {
        Some(r) if !key.is_empty() && r.edit_key_hash.as_deref() == Some(presented.as_str()) => r,
        _ => {
            return Err(Error::client(
                ErrorCode::EditKeyInvalid,
                "This comment can only be changed from the browser that posted it.",
            ));
        }
    };
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
    state.limits.write(&req)?;
    let before = authorised(&state, &req, id).await?;
    let (source, tree) = validate::body(&body.body)?;
    let tree = serde_json::to_string(&tree)?;
    let page = page_of(&state, before.page_id).await?;
    // On a moderated site an edit is a new text to approve: it goes back to the queue.
    let moderated = state
        .config
        .site(&page.site)
        .is_some_and(|s| s.moderation == Moderation::All);
    let status = (moderated && before.status == Status::Approved).then_some(Status::Pending);
    let store = state.store.clone();
    let (record, seq) =
        web::block(move || store.edit_comment(id, source, tree, now_ms(), status)).await??;
    state.cache.invalidate(&page.site, &page.key);
    durable(state.store.clone(), seq).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(EditCommentResponse {
            comment: convert::comment(&record, &state.avatar_key)?,
        }))
}

pub(super) async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<u64>,
) -> Result<HttpResponse> {
    let id = id.into_inner();
    state.limits.write(&req)?;
    let record = authorised(&state, &req, id).await?;
    let page = page_of(&state, record.page_id).await?;
    let store = state.store.clone();
    let (outcome, seq) = web::block(move || store.delete_comment(id)).await??;
    state.cache.invalidate(&page.site, &page.key);
    durable(state.store.clone(), seq).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(DeleteCommentResponse {
            tombstone: outcome == talkback_store::Deleted::Tombstone,
        }))
}
