//! Creating, editing and deleting comments. The service acknowledges a write only once it is
//! on disk; these handlers add what is HTTP's: origin checks, the write budget, headers.

use actix_web::{HttpRequest, HttpResponse, web};
use talkback_api::limits::EDIT_KEY_HEADER;
use talkback_api::{
    CreateComment, CreateCommentResponse, DeleteCommentResponse, EditComment, EditCommentResponse,
    HeldQuery, HeldResponse,
};

use super::openapi::WriteErrors;
use super::writable_site;
use crate::AppState;
use crate::error::Result;
use crate::http::{self};
use crate::service::Provenance;

/// Posts a comment. `201` once it is on disk: approved, or held for moderation (`pending`).
#[utoipa::path(
    post,
    path = "/comments",
    tag = "comments",
    request_body = CreateComment,
    responses(
        (status = 201, description = "Stored", body = CreateCommentResponse,
            headers(("Location" = String, description = "The comment's URL"))),
        WriteErrors,
    ),
)]
pub(super) async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateComment>,
) -> Result<HttpResponse> {
    let input = body.into_inner();
    let site = writable_site(&state, &req, &input.site)?;
    state.limits.write(&req).await?;
    let from = Provenance {
        from_site: http::request_from_site(&req, site),
        host: http::host_name(&req),
        client: state.limits.client(&req)?,
        path: crate::service::antispam::Path::Widget,
        lang: http::reader_lang(&req),
    };
    let service = state.service.clone();
    let response = web::block(move || service.post(input, &from)).await??;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/comments/{}", response.comment.id),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .json(response))
}

/// The browser's own comments still awaiting moderation (a read, budgeted like one).
#[utoipa::path(
    post,
    path = "/comments/held",
    tag = "comments",
    request_body = HeldQuery,
    responses(
        (status = 200, description = "Those still awaiting moderation", body = HeldResponse),
        WriteErrors,
    ),
)]
pub(super) async fn held(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<HeldQuery>,
) -> Result<HttpResponse> {
    state.limits.read(&req).await?;
    let service = state.service.clone();
    let held = web::block(move || service.held(&body)).await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(held))
}

/// The edit key the browser that posted a comment keeps.
fn edit_key(req: &HttpRequest) -> String {
    req.headers()
        .get(EDIT_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Edits one's own comment within the edit window.
#[utoipa::path(
    put,
    path = "/comments/{id}",
    tag = "comments",
    params(("id" = u64, Path, description = "The comment's id"), ("X-Talkback-Edit-Key" = String, Header, description = "The `edit_key` the comment was created with"),),
    request_body = EditComment,
    responses(
        (status = 200, description = "Edited", body = EditCommentResponse),
        WriteErrors,
    ),
)]
pub(super) async fn edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<u64>,
    body: web::Json<EditComment>,
) -> Result<HttpResponse> {
    state.limits.write(&req).await?;
    let (id, key, input) = (id.into_inner(), edit_key(&req), body.into_inner());
    let service = state.service.clone();
    let response = web::block(move || service.edit(id, &key, &input)).await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(response))
}

/// Deletes one's own comment (a tombstone stays when it has replies).
#[utoipa::path(
    delete,
    path = "/comments/{id}",
    tag = "comments",
    params(("id" = u64, Path, description = "The comment's id"), ("X-Talkback-Edit-Key" = String, Header, description = "The `edit_key` the comment was created with"),),
    responses(
        (status = 200, description = "Deleted", body = DeleteCommentResponse),
        WriteErrors,
    ),
)]
pub(super) async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<u64>,
) -> Result<HttpResponse> {
    state.limits.write(&req).await?;
    let (id, key) = (id.into_inner(), edit_key(&req));
    let service = state.service.clone();
    let response = web::block(move || service.delete(id, &key)).await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(response))
}
