//! What the server does as an HTTP server, whatever the resource: errors as status codes and
//! stable JSON bodies (`error`), per-client budgets (`limit`), the widget's assets (`assets`),
//! cached thread pages (`cache`), which origins may call the API and for which site, how
//! request bodies are read (JSON, query, path; compressed bodies refused) and which response
//! encoding a client gets.

pub mod assets;
pub(crate) mod cache;
mod error;
pub(crate) mod limit;
pub(crate) mod request_id;

use actix_web::http::header;
use actix_web::{HttpRequest, middleware, web};
use talkback_api::ErrorCode;
use talkback_api::i18n::errors::ErrorTexts;

use crate::error::{Error, Result};

pub use error::status_of;

use crate::config::{SiteConfig, is_own_origin};

/// The request's `Host`, as bytes.
fn host(req: &HttpRequest) -> Option<&[u8]> {
    req.headers().get(header::HOST).map(|h| h.as_bytes())
}

/// Byte strings compared in time that depends on their length only (secrets, their hashes).
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a browser request from `req` may act on `site`: no `Origin` (not a browser),
/// a configured origin, or the server's own.
pub(crate) fn origin_allowed(req: &HttpRequest, site: &SiteConfig) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    site.has_origin(origin.as_bytes(), host(req))
}

/// True when the request says it comes from a page of the site itself: its `Origin` is one of
/// the site's configured ones. The server's own origin does not count (its `Host` is the
/// client's to choose), and `Origin` is a browser's word, not proof: what it earns (a page's
/// title and link) is kept only from approved comments.
pub(crate) fn request_from_site(req: &HttpRequest, site: &SiteConfig) -> bool {
    req.headers()
        .get(header::ORIGIN)
        .is_some_and(|origin| site.has_origin(origin.as_bytes(), None))
}

/// The language of the request's `Accept-Language` (its first tag; the widget sends its own
/// language alone), one of those Talkback speaks.
pub(crate) fn reader_lang(req: &HttpRequest) -> &'static str {
    let first = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split([',', ';']).next())
        .unwrap_or_default();
    talkback_api::i18n::Strings::for_lang(first.trim()).lang
}

/// This server as readers reach it: the scheme they used (a trusted proxy's word for it) and
/// the host they asked for.
pub(crate) fn base_url(state: &crate::AppState, req: &HttpRequest) -> String {
    let scheme = if state.limits.is_https(req) {
        "https"
    } else {
        "http"
    };
    let host = host_name(req).unwrap_or_else(|| state.config.bind.clone());
    format!("{scheme}://{host}")
}

/// The request's `Host` header as text (the server's own origin counts as every site's).
pub(crate) fn host_name(req: &HttpRequest) -> Option<String> {
    host(req)
        .and_then(|h| std::str::from_utf8(h).ok())
        .map(str::to_owned)
}

/// CORS for the API: configured origins and the server's own; the methods and headers the
/// widget uses.
pub(crate) fn cors(sites: &[SiteConfig]) -> actix_cors::Cors {
    let allowed: Vec<String> = sites.iter().flat_map(|s| s.origins.clone()).collect();
    debug_assert_eq!(
        talkback_api::limits::EDIT_KEY_HEADER.to_ascii_lowercase(),
        "x-talkback-edit-key"
    );
    actix_cors::Cors::default()
        .allowed_origin_fn(move |origin, head| {
            let origin = origin.as_bytes();
            allowed.iter().any(|o| o.as_bytes() == origin)
                || is_own_origin(origin, head.headers.get(header::HOST).map(|h| h.as_bytes()))
        })
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::ACCEPT_LANGUAGE,
            header::HeaderName::from_static("x-talkback-edit-key"),
        ])
        .expose_headers([header::ETAG, header::LOCATION])
        .max_age(3600)
}

/// The API takes plain request bodies only: a compressed one could inflate far past the
/// size limits (a 58 KB gzip body inflates to 60 MB), so it is refused before anything reads it.
pub(crate) async fn refuse_encoded_bodies(
    req: actix_web::dev::ServiceRequest,
    next: middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let encoded = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded {
        return Err(Error::client(
            ErrorCode::UnsupportedEncoding,
            "Send the request body uncompressed (no Content-Encoding).",
        )
        .into());
    }
    next.call(req).await
}

/// Words errors a reader can act on in the request's language (`Accept-Language`, which the
/// widget sets to its own language); English needs nothing, it is what handlers answer.
pub(crate) async fn localise_errors(
    req: actix_web::dev::ServiceRequest,
    next: middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let texts = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(&talkback_api::i18n::errors::EN, ErrorTexts::for_lang);
    let response = next.call(req).await?.map_into_boxed_body();
    if texts.lang == talkback_api::i18n::errors::EN.lang {
        return Ok(response);
    }
    let localised = response
        .response()
        .error()
        .and_then(|e| e.as_error::<Error>())
        .map(|e| e.response_in(texts).map_into_boxed_body());
    Ok(match localised {
        Some(localised) => response.into_response(localised),
        None => response,
    })
}

/// Most bytes of a JSON request body.
const MAX_JSON_BYTES: usize = 64 * 1024;

pub(crate) fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BYTES)
        .error_handler(|err, _req| json_error(&err).into())
}

/// Why a JSON request body was refused, in words a client can act on.
fn json_error(err: &actix_web::error::JsonPayloadError) -> Error {
    use actix_web::error::JsonPayloadError as J;
    match err {
        J::Overflow { .. } | J::OverflowKnownLength { .. } => {
            Error::client(ErrorCode::PayloadTooLarge, "The request body is too large.")
        }
        J::ContentType => Error::client(
            ErrorCode::InvalidJson,
            "Send the request body as application/json.",
        ),
        J::Deserialize(e) => Error::client(
            ErrorCode::InvalidJson,
            format!("The request body is not valid: {e}"),
        ),
        other => Error::client(
            ErrorCode::InvalidJson,
            format!("The request body could not be read: {other}"),
        ),
    }
}

/// A JSON request body's bytes, read as `web::Json` reads them (its content type, size limit
/// and errors), for a handler that may answer the very same bytes from a memo before parsing.
pub(crate) async fn json_bytes(req: &HttpRequest, mut payload: web::Payload) -> Result<web::Bytes> {
    use actix_web::HttpMessage;
    use actix_web::error::JsonPayloadError as J;
    use actix_web::mime::JSON;
    use futures_util::StreamExt;
    let json = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.subtype() == JSON || m.suffix() == Some(JSON));
    if !json {
        return Err(json_error(&J::ContentType));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| json_error(&J::Payload(e)))?;
        if body.len() + chunk.len() > MAX_JSON_BYTES {
            return Err(json_error(&J::Overflow {
                limit: MAX_JSON_BYTES,
            }));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a body read by [`json_bytes`].
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| json_error(&actix_web::error::JsonPayloadError::Deserialize(e)))
}

pub(crate) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        Error::client(
            ErrorCode::InvalidQuery,
            format!("The query string is not valid: {err}"),
        )
        .into()
    })
}

pub(crate) fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|_err, _req| Error::reader(ErrorCode::CommentNotFound).into())
}
