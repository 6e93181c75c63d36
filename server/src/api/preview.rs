//! Markdown preview: the same parser as posting, nothing stored.

use actix_web::{HttpRequest, HttpResponse, web};
use talkback_api::{PreviewRequest, PreviewResponse};

use super::openapi::WriteErrors;
use crate::AppState;
use crate::content::validate;
use crate::error::Result;

#[utoipa::path(
    post,
    path = "/preview",
    tag = "comments",
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "The body as it would be stored", body = PreviewResponse),
        WriteErrors,
    ),
)]
pub(super) async fn preview(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<PreviewRequest>,
) -> Result<HttpResponse> {
    state.limits.read(&req).await?;
    let (_, body) = validate::body(&body.body)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(PreviewResponse { body }))
}
