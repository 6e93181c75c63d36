//! Markdown preview: the same parser as posting, nothing stored.

use actix_web::{HttpRequest, HttpResponse, web};
use talkback_api::{PreviewRequest, PreviewResponse};

use crate::AppState;
use crate::content::validate;
use crate::http::Result;

pub(super) async fn preview(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<PreviewRequest>,
) -> Result<HttpResponse> {
    state.limits.read(&req)?;
    let (_, body) = validate::body(&body.body)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(PreviewResponse { body }))
}
