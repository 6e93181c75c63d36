//! `GET /api/v1/challenge`: a signed form token and proof-of-work puzzle for a reader about to
//! write on a page. Issuing one changes nothing stored (the token is signed, not recorded); it
//! costs an expensive read's budget, so nobody can stockpile them.

use actix_web::{HttpRequest, HttpResponse, web};
use talkback_api::{ChallengeQuery, ChallengeResponse};

use super::openapi::ReadErrors;

use crate::AppState;
use crate::error::Result;

#[utoipa::path(
    get,
    path = "/challenge",
    tag = "comments",
    params(ChallengeQuery),
    responses(
        (status = 200, description = "A form token and its puzzle", body = ChallengeResponse),
        ReadErrors,
    ),
)]
pub(super) async fn issue(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ChallengeQuery>,
) -> Result<HttpResponse> {
    state.service.site(&query.site)?;
    state.limits.read(&req).await?;
    let client = state.limits.client(&req)?;
    let challenge = state.service.challenge(&query, client)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(challenge))
}
