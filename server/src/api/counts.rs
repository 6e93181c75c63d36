//! Comment counts for many pages at once (index pages showing "16 Responses").

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use talkback_api::limits::MAX_COUNT_PAGES;
use talkback_api::{CountsRequest, CountsResponse, ErrorCode};

use super::openapi::WriteErrors;
use super::site;
use crate::AppState;
use crate::content::validate;
use crate::http::{Error, Result};

#[utoipa::path(
    post,
    path = "/counts",
    tag = "threads",
    request_body = CountsRequest,
    responses(
        (status = 200, description = "Visible comments per page", body = CountsResponse),
        WriteErrors,
    ),
)]
pub(super) async fn counts(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CountsRequest>,
) -> Result<HttpResponse> {
    let request = body.into_inner();
    let site = site(&state, &request.site)?;
    state.limits.read(&req)?;
    if request.pages.len() > MAX_COUNT_PAGES {
        return Err(Error::client(
            ErrorCode::TooManyPages,
            format!("Ask for at most {MAX_COUNT_PAGES} pages at once."),
        ));
    }
    let keys = request
        .pages
        .iter()
        .map(|p| validate::page_key(p, site))
        .collect::<Result<Vec<_>>>()?;
    let (service, site_id) = (state.service.clone(), request.site.clone());
    let numbers = web::block(move || service.counts(&site_id, &keys)).await??;
    let counts: BTreeMap<String, u32> = request.pages.into_iter().zip(numbers).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(CountsResponse { counts }))
}
