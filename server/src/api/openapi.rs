//! The OpenAPI 3.1 document of API v1, generated from the handlers' `#[utoipa::path]`
//! annotations and the wire types' schemas (derived in `talkback-api` behind its `openapi`
//! feature), never kept by hand. Served at `GET /api/v1/openapi.json`; `cargo xtask test` runs
//! schemathesis against it.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use talkback_api::{Block, ErrorBody, ErrorCode, Inline, ListItem, LiveEvent, SentError, Sort};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::{IntoResponses, OpenApi};

use super::{challenge, comments, counts, live, preview, recent, threads};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Talkback API",
        description = "The reader's API of Talkback, a self-hosted comment system: threads, \
            comments, counts and previews. Every error is a JSON body with a stable `error` code \
            and a human `message` (in the request's `Accept-Language`), plus the request's id.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    servers((url = "/api/v1")),
    paths(
        threads::read,
        threads::read_html,
        recent::recent,
        threads::replies,
        live::follow,
        challenge::issue,
        comments::create,
        comments::held,
        comments::edit,
        comments::delete,
        counts::counts,
        preview::preview,
    ),
    // Named by reference only (recursive types and the error responses), so listed here.
    components(schemas(
        Block, Inline, ListItem, Sort, SentError, ErrorBody, ErrorCode, LiveEvent
    )),
    tags((name = "threads", description = "Reading a page's comments"),
         (name = "comments", description = "Posting, editing and deleting one's own comments")),
)]
struct ApiDoc;

/// The document, serialised once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let mut doc = ApiDoc::openapi();
    if let Some(components) = doc.components.as_mut() {
        components
            .schemas
            .insert("ErrorCode".into(), error_codes().into());
    }
    doc.to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"internal\",\"message\":\"{e}\"}}"))
});

/// Every code the server sends, by its wire name (serde's, the one owner of the names). The
/// derived schema would leave out the codes the wire crate only serialises.
fn error_codes() -> utoipa::openapi::schema::Object {
    let names = ErrorCode::ALL
        .iter()
        .filter(|code| **code != ErrorCode::Unknown)
        .filter_map(|code| serde_json::to_value(code).ok());
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "Stable and safe to branch on. Codes may be added within v1: treat unknown ones \
             like `internal`.",
        ))
        .enum_values(Some(names))
        .build()
}

/// `GET /api/v1/openapi.json`.
pub(super) async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(DOCUMENT.as_str())
}

/// One Server-Sent Event of `GET /live`, as an EventSource reads it: `event` is `ready` (the
/// stream's position, `data` `{}`) or `update` (`data` is a `LiveEvent` as JSON), `id` the
/// change's sequence number to send back as `Last-Event-ID`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only its shape is used: the document.
pub(super) struct ServerSentEvent {
    event: Option<String>,
    data: String,
    id: Option<String>,
    retry: Option<u64>,
}

/// The errors a read can answer with.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only its shape is used: the document.
pub(super) enum ReadErrors {
    /// A parameter is missing or malformed (`invalid_query`, `invalid_page`, `invalid_cursor` …).
    #[response(status = 400)]
    BadRequest(SentError),
    /// The site is not configured here (`unknown_site`).
    #[response(status = 404)]
    NotFound(SentError),
    /// Over the client's read budget (`rate_limited`); see `Retry-After`.
    #[response(status = 429)]
    RateLimited(SentError),
    /// A failure on the server's side (`internal`), logged with the request id.
    #[response(status = 500)]
    Internal(SentError),
}

/// The errors a request with a JSON body can answer with.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only its shape is used: the document.
pub(super) enum WriteErrors {
    /// The body is not valid JSON for this operation, or a field breaks a rule
    /// (`invalid_json`, `body_empty`, `invalid_email` …).
    #[response(status = 400)]
    BadRequest(SentError),
    /// Not allowed: the page's origin, the edit key, the edit window, a closed thread.
    #[response(status = 403)]
    Forbidden(SentError),
    /// The site, the comment or the parent does not exist.
    #[response(status = 404)]
    NotFound(SentError),
    /// The same text was posted on the site a short while ago (`duplicate_comment`).
    #[response(status = 409)]
    Conflict(SentError),
    /// The body is over 64 KiB (`payload_too_large`).
    #[response(status = 413)]
    TooLarge(SentError),
    /// The body is compressed (`unsupported_encoding`).
    #[response(status = 415)]
    Encoded(SentError),
    /// Over the client's write budget, or the page's burst limit (`rate_limited`).
    #[response(status = 429)]
    RateLimited(SentError),
    /// A failure on the server's side (`internal`), logged with the request id.
    #[response(status = 500)]
    Internal(SentError),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` names a schema the document holds (a missing one makes it unusable).
    fn every_reference_resolves(doc: &serde_json::Value, node: &serde_json::Value) {
        match node {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                    let name = target.trim_start_matches("#/components/schemas/");
                    assert!(
                        doc["components"]["schemas"].get(name).is_some(),
                        "{target} is not in the document"
                    );
                }
                map.values().for_each(|v| every_reference_resolves(doc, v));
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|v| every_reference_resolves(doc, v));
            }
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_and_names_every_route() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).expect("JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        let mut found: Vec<String> = paths
            .iter()
            .flat_map(|(path, ops)| {
                let ops = ops.as_object().cloned().unwrap_or_default();
                ops.keys()
                    .map(|m| format!("{} {path}", m.to_uppercase()))
                    .collect::<Vec<_>>()
            })
            .collect();
        found.sort();
        every_reference_resolves(&doc, &doc);
        let codes = doc["components"]["schemas"]["ErrorCode"]["enum"].to_string();
        for sent_only in ["duplicate_comment", "sign_in_required", "rate_limited"] {
            assert!(codes.contains(sent_only), "{sent_only} in {codes}");
        }
        expect_test::expect![[r#"
            [
                "DELETE /comments/{id}",
                "GET /challenge",
                "GET /live",
                "GET /recent/html",
                "GET /replies",
                "GET /threads",
                "GET /threads/html",
                "POST /comments",
                "POST /comments/held",
                "POST /counts",
                "POST /preview",
                "PUT /comments/{id}",
            ]
        "#]]
        .assert_debug_eq(&found);
    }
}
