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
    serde_json::to_value(&doc)
        .map(|mut value| {
            constrain(&mut value);
            value
        })
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|e| format!("{{\"error\":\"internal\",\"message\":\"{e}\"}}"))
});

/// A site id, as configured.
const SITE_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";
/// An e-mail address the server takes (`content::validate::email`: one `@`, ASCII, lettre's
/// dot-atom local part of at most 64 characters, a domain of two to four labels). Somewhat
/// narrower than the server, never wider: what it describes is always accepted.
const EMAIL_PATTERN: &str = concat!(
    r"^(?:[A-Za-z0-9!#$%&*+/=?^_`{|}~-]{1,64}",
    r"|[A-Za-z0-9!#$%&*+/=?^_`{|}~-]{1,16}(?:\.[A-Za-z0-9!#$%&*+/=?^_`{|}~-]{1,15}){1,3})",
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,60}[A-Za-z0-9])?",
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,60}[A-Za-z0-9])?){1,3}$"
);
/// An http or https address the server takes as a website or a page's URL (`is_web_address`:
/// a host, no white space, quotes, angle brackets or backslashes), in ASCII.
const WEB_PATTERN: &str = concat!(
    r"^\s*$|^[Hh][Tt][Tt][Pp][Ss]?://[!$%&()*+,.0-9:;=@A-Z\[\]^_a-z{|}~-]+",
    r"(?:[/?#][!#$%&()*+,./0-9:;=?@A-Z\[\]^_a-z{|}~-]*)?$"
);

/// States in the document what the wire types' derives cannot: page keys as the normaliser
/// takes them, site ids in query strings, how many pages a counts request names, e-mail
/// addresses and web addresses as the server checks them, and that `notify` needs `email`.
/// Schemathesis checks both ways that the server keeps to it (`cargo xtask check-api`).
fn constrain(doc: &mut serde_json::Value) {
    use serde_json::json;
    use talkback_api::limits::{
        HELD_QUERY_LIMIT, MAX_COUNT_PAGES, MAX_EMAIL_BYTES, MAX_NAME_CHARS, MAX_PAGE_KEY_CHARS,
        MAX_TITLE_CHARS, MAX_WEBSITE_BYTES,
    };
    let page = json!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_PAGE_KEY_CHARS,
        "pattern": talkback_api::PAGE_KEY_PATTERN,
        "example": "/2024/05/hello-world/",
    });
    let site = json!({"type": "string", "pattern": SITE_PATTERN, "example": "demo"});
    // Cursors are what earlier responses gave: a thread's a comment id (or empty for the first
    // page), a replies' an id and a count.
    let thread_cursor = json!({"type": "string", "pattern": "^[0-9]{0,19}$"});
    let replies_cursor = json!({"type": "string", "pattern": "^[0-9]{1,19}\\.[0-9]{1,9}$"});
    let event_id = json!({"type": "integer", "minimum": 0, "maximum": u64::MAX});
    if let Some(paths) = doc.pointer_mut("/paths").and_then(|p| p.as_object_mut()) {
        for operation in paths.values_mut().filter_map(|p| p.as_object_mut()) {
            for params in operation
                .values_mut()
                .filter_map(|op| op.get_mut("parameters"))
                .filter_map(|p| p.as_array_mut())
            {
                for param in params.iter_mut() {
                    let named = |n: &str| param.get("name").and_then(|v| v.as_str()) == Some(n);
                    let in_query = param.get("in").and_then(|v| v.as_str()) == Some("query");
                    let replies = param
                        .get("description")
                        .is_some_and(|d| d.as_str().is_some_and(|d| d.contains("replies_cursor")));
                    if in_query && named("page") {
                        param["schema"] = page.clone();
                    } else if in_query && named("site") {
                        param["schema"] = site.clone();
                    } else if in_query && named("cursor") {
                        param["schema"] = if replies {
                            replies_cursor.clone()
                        } else {
                            thread_cursor.clone()
                        };
                    } else if named("Last-Event-ID") {
                        param["schema"] = event_id.clone();
                    }
                    // Numbers within what the server's types hold.
                    let schema = &mut param["schema"];
                    match schema.get("format").and_then(|f| f.as_str()) {
                        Some("u-int32") => schema["maximum"] = json!(u32::MAX),
                        Some("u-int64") => schema["maximum"] = json!(u64::MAX),
                        _ => {}
                    }
                }
            }
        }
    }
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|s| s.as_object_mut())
    else {
        return;
    };
    for schema in schemas.values_mut() {
        // Something to say: a body of white space and control characters alone is refused.
        if let Some(body) = schema.pointer_mut("/properties/body")
            && body.get("type").and_then(|t| t.as_str()) == Some("string")
        {
            body["pattern"] = json!("[^\\s\\x00-\\x1f\\x7f-\\x9f]");
        }
        if let Some(property) = schema.pointer_mut("/properties/page")
            && property.get("type").and_then(|t| t.as_str()) == Some("string")
        {
            let description = property.get("description").cloned();
            *property = page.clone();
            if let Some(description) = description {
                property["description"] = description;
            }
        }
    }
    if let Some(id) = schemas.get_mut("CommentId") {
        id["maximum"] = json!(u64::MAX);
    }
    if let Some(counts) = schemas.get_mut("CountsRequest") {
        counts["properties"]["pages"]["items"] = page.clone();
        counts["properties"]["pages"]["maxItems"] = json!(MAX_COUNT_PAGES);
    }
    if let Some(held) = schemas.get_mut("HeldQuery") {
        held["properties"]["comments"]["maxItems"] = json!(HELD_QUERY_LIMIT);
        // Each an `[id, edit key]` pair.
        held["properties"]["comments"]["items"] = json!({
            "type": "array",
            "prefixItems": [{"type": "integer", "minimum": 0, "maximum": u64::MAX}, {"type": "string"}],
            "minItems": 2,
            "maxItems": 2,
        });
    }
    if let Some(create) = schemas.get_mut("CreateComment") {
        let email =
            json!({"type": "string", "maxLength": MAX_EMAIL_BYTES, "pattern": EMAIL_PATTERN});
        let nullable = |mut schema: serde_json::Value| {
            schema["type"] = json!(["string", "null"]);
            schema
        };
        let properties = &mut create["properties"];
        // Blank is no address (then `notify` is refused, below).
        let mut any_email = email.clone();
        any_email["pattern"] = json!(format!("^\\s*$|{EMAIL_PATTERN}"));
        properties["email"] = nullable(any_email);
        properties["author"]["maxLength"] = json!(MAX_NAME_CHARS);
        properties["title"]["maxLength"] = json!(MAX_TITLE_CHARS);
        let web = json!({"type": "string", "maxLength": MAX_WEBSITE_BYTES, "pattern": WEB_PATTERN});
        properties["website"] = nullable(web.clone());
        properties["url"] = nullable(web);
        // Mail about follow-ups needs an address to send it to.
        create["if"] =
            json!({"properties": {"notify": {"type": "string"}}, "required": ["notify"]});
        create["then"] = json!({"required": ["email"], "properties": {"email": email}});
    }
}

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
