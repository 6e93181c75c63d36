//! Comment counts for many pages at once (index pages showing "16 Responses", `count.js`).
//! Index pages ask for the same sets again and again, so each set's numbers are cached until
//! the next write to the site, and a cached answer costs no read budget (like a cached thread).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use talkback_api::i18n::pages::PageTexts;
use talkback_api::limits::MAX_COUNT_PAGES;
use talkback_api::{CountsRequest, CountsResponse, ErrorCode};

use super::openapi::WriteErrors;
use crate::AppState;
use crate::content::validate;
use crate::error::{Error, Result};
use crate::http::{json_bytes, parse_json};

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
    payload: web::Payload,
) -> Result<HttpResponse> {
    let body = json_bytes(&req, payload).await?;
    let answer = match state.cache.counts_answer(&body) {
        Some(answer) => answer,
        None => answer(&state, &req, body).await?,
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .content_type("application/json")
        .body(answer))
}

/// The answer to a counts request the memo did not have (kept in it for the next time).
async fn answer(state: &web::Data<AppState>, req: &HttpRequest, body: Bytes) -> Result<Bytes> {
    let request: CountsRequest = parse_json(&body)?;
    let site = state.service.site(&request.site)?;
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
    // Normalised keys only: variants of one key share an entry.
    let cache_key = keys.join("\n");
    let (numbers, ticket) = match state.cache.get_counts(&request.site, &cache_key) {
        (Some(hit), ticket) => (hit, ticket),
        (None, ticket) => {
            state.limits.read(req).await?;
            let (service, site_id) = (state.service.clone(), request.site.clone());
            let numbers = Arc::new(web::block(move || service.counts(&site_id, &keys)).await??);
            state
                .cache
                .put_counts(ticket, &request.site, &cache_key, Arc::clone(&numbers));
            (numbers, ticket)
        }
    };
    let texts = request.lang.as_deref().map(PageTexts::for_lang);
    let mut labels = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for (page, n) in request.pages.iter().zip(numbers.iter().copied()) {
        if let Some(texts) = texts {
            labels.insert(page.clone(), responses(texts, n));
        }
        counts.insert(page.clone(), n);
    }
    let answer = Bytes::from(serde_json::to_vec(&CountsResponse { counts, labels })?);
    state
        .cache
        .keep_counts_answer(ticket, &request.site, body, answer.clone());
    Ok(answer)
}

/// "16 Responses", "One Response", "No Responses". (Here rather than beside the words: a
/// function in the wire crate changes how the widget's shared code is optimised, and costs it
/// bytes even unused.)
fn responses(texts: &PageTexts, n: u32) -> String {
    match n {
        0 => texts.responses_zero.to_owned(),
        1 => texts.responses_one.to_owned(),
        _ => texts.responses_many.replace("{n}", &n.to_string()),
    }
}
