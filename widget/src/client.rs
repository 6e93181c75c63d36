//! Calls to the Talkback API with gloo-net. Errors keep the server's stable code so the
//! form can show them next to the right field.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use talkback_api::limits::EDIT_KEY_HEADER;
use talkback_api::*;
use wasm_bindgen_futures::JsFuture;

use crate::config::WidgetConfig;
use crate::json;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum FetchError {
    /// The server could not be reached (offline, blocked, CORS).
    #[error("network error")]
    Network,
    /// The server refused the request with a stable code.
    #[error("{}", .0.message)]
    Api(ErrorBody),
    /// The server answered something this widget does not understand.
    #[error("unexpected response ({0})")]
    Unexpected(u16),
}

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, FetchError> {
    let status = response.status();
    let ok = response.ok();
    let body = match web_sys::Response::from(response).json() {
        Ok(parsing) => JsFuture::from(parsing).await.ok(),
        Err(_) => None,
    };
    if ok {
        return body
            .and_then(json::from_js)
            .ok_or(FetchError::Unexpected(status));
    }
    match body.and_then(json::from_js::<ErrorBody>) {
        Some(body) => Err(FetchError::Api(body)),
        None => Err(FetchError::Unexpected(status)),
    }
}

/// A JSON request body.
fn with_json<T: Serialize>(builder: RequestBuilder, body: &T) -> Result<Request, gloo_net::Error> {
    // Plain structs of strings and integers always serialise; were one not to, the empty
    // body would come back as the server's `invalid_json`, shown like any other error.
    let text = json::to_string(body).unwrap_or_default();
    builder
        .header("Content-Type", "application/json")
        .body(text)
}

async fn send<T: DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Result<T, FetchError> {
    let request = request.map_err(|_| FetchError::Unexpected(0))?;
    read(request.send().await.map_err(|_| FetchError::Network)?).await
}

async fn send_empty<T: DeserializeOwned>(builder: RequestBuilder) -> Result<T, FetchError> {
    read(builder.send().await.map_err(|_| FetchError::Network)?).await
}

/// A request to the API, asking for the reader's language: the server words the errors a
/// reader can act on in it.
fn api(method: fn(&str) -> RequestBuilder, cfg: &WidgetConfig, path: &str) -> RequestBuilder {
    method(&format!("{}/api/v1{path}", cfg.api)).header("Accept-Language", &cfg.lang)
}

pub(crate) async fn thread(
    cfg: &WidgetConfig,
    sort: Sort,
    cursor: Option<String>,
) -> Result<ThreadResponse, FetchError> {
    let sort = match sort {
        Sort::Oldest => "oldest",
        Sort::Newest => "newest",
    };
    let mut query = vec![
        ("site", cfg.site.clone()),
        ("page", cfg.page.clone()),
        ("sort", sort.to_owned()),
    ];
    if let Some(cursor) = cursor {
        query.push(("cursor", cursor));
    }
    send_empty(
        api(Request::get, cfg, "/threads").query(query.iter().map(|(k, v)| (*k, v.as_str()))),
    )
    .await
}

/// The thread's first page from a request the embed script started while the widget loaded
/// (a promise of the parsed JSON of `/threads?site=&page=&sort=oldest`, rejected unless it
/// was a 200).
pub(crate) async fn prefetched(parsed: js_sys::Promise) -> Option<ThreadResponse> {
    JsFuture::from(parsed).await.ok().and_then(json::from_js)
}

/// The next replies under a top-level comment.
pub(crate) async fn replies(
    cfg: &WidgetConfig,
    root: CommentId,
    cursor: String,
) -> Result<RepliesResponse, FetchError> {
    let query = [
        ("site", cfg.site.clone()),
        ("page", cfg.page.clone()),
        ("root", root.to_string()),
        ("cursor", cursor),
    ];
    send_empty(
        api(Request::get, cfg, "/replies").query(query.iter().map(|(k, v)| (*k, v.as_str()))),
    )
    .await
}

pub(crate) async fn create(
    cfg: &WidgetConfig,
    body: &CreateComment,
) -> Result<CreateCommentResponse, FetchError> {
    send(with_json(api(Request::post, cfg, "/comments"), body)).await
}

pub(crate) async fn edit(
    cfg: &WidgetConfig,
    id: CommentId,
    key: &str,
    body: &str,
) -> Result<EditCommentResponse, FetchError> {
    let request = with_json(
        api(Request::put, cfg, &format!("/comments/{id}")).header(EDIT_KEY_HEADER, key),
        &EditComment {
            body: body.to_owned(),
        },
    );
    send(request).await
}

pub(crate) async fn delete(
    cfg: &WidgetConfig,
    id: CommentId,
    key: &str,
) -> Result<DeleteCommentResponse, FetchError> {
    send_empty(api(Request::delete, cfg, &format!("/comments/{id}")).header(EDIT_KEY_HEADER, key))
        .await
}

pub(crate) async fn held(
    cfg: &WidgetConfig,
    comments: Vec<(CommentId, String)>,
) -> Result<HeldResponse, FetchError> {
    send(with_json(
        api(Request::post, cfg, "/comments/held"),
        &HeldQuery {
            site: cfg.site.clone(),
            page: cfg.page.clone(),
            comments,
        },
    ))
    .await
}

pub(crate) async fn preview(cfg: &WidgetConfig, body: &str) -> Result<PreviewResponse, FetchError> {
    send(with_json(
        api(Request::post, cfg, "/preview"),
        &PreviewRequest {
            body: body.to_owned(),
        },
    ))
    .await
}
