//! Markdown preview: the same parser as posting, nothing stored.

use actix_web::{HttpResponse, web};
use talkback_api::{PreviewRequest, PreviewResponse};

use crate::error::Result;
use crate::validate;

pub(super) async fn preview(body: web::Json<PreviewRequest>) -> Result<HttpResponse> {
    let (_, body) = validate::body(&body.body)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(PreviewResponse { body }))
}
