//! Calls to the moderation API (same origin, session cookie). Every state change carries the
//! session's CSRF token; errors keep the server's message.

use gloo_net::http::{Request, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use talkback_api::ErrorBody;
use talkback_api::admin::{
    AuditEntry, Ban, CSRF_HEADER, Deliveries, Done, ListQuery, ListResponse, LockPage, ModComment,
    ModEdit, Moderate, ModerateResponse, MovePages, NewBan, PageMeta, SessionInfo, SignIn,
    SiteSettings, SpamCounts, TestWebhooks,
};

/// Why a call failed, in words for the moderator; `signed_out` when the session is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub message: String,
    pub signed_out: bool,
}

fn network() -> Failure {
    Failure {
        message: "The server cannot be reached. Check the connection and try again.".into(),
        signed_out: false,
    }
}

async fn send<T: DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Result<T, Failure> {
    let request = request.map_err(|_| network())?;
    let response = request.send().await.map_err(|_| network())?;
    let status = response.status();
    let text = response.text().await.map_err(|_| network())?;
    if response.ok() {
        if status == 204 {
            return serde_json::from_str("null").map_err(|_| network());
        }
        return serde_json::from_str(&text).map_err(|_| Failure {
            message: format!("The server answered something unexpected ({status})."),
            signed_out: false,
        });
    }
    let body: Option<ErrorBody> = serde_json::from_str(&text).ok();
    Err(Failure {
        signed_out: status == 401,
        message: body.map_or_else(
            || format!("The server refused the request ({status})."),
            |b| b.message,
        ),
    })
}

fn with_json<T: Serialize>(builder: RequestBuilder, body: &T) -> Result<Request, gloo_net::Error> {
    let text = serde_json::to_string(body).unwrap_or_default();
    builder
        .header("Content-Type", "application/json")
        .body(text)
}

pub(crate) async fn session() -> Result<SessionInfo, Failure> {
    send(Request::get("/admin/api/session").build()).await
}

pub(crate) async fn sign_in(name: String, password: String) -> Result<SessionInfo, Failure> {
    send(with_json(
        Request::post("/admin/api/session"),
        &SignIn { name, password },
    ))
    .await
}

pub(crate) async fn sign_out(csrf: &str) -> Result<(), Failure> {
    send::<Option<()>>(
        Request::delete("/admin/api/session")
            .header(CSRF_HEADER, csrf)
            .build(),
    )
    .await
    .map(|_| ())
}

/// A query-string value, percent-encoded.
fn encode(value: &str) -> String {
    js_sys::encode_uri_component(value).into()
}

pub(crate) async fn list(query: &ListQuery) -> Result<ListResponse, Failure> {
    let mut path = String::from("/admin/api/comments?");
    let fields = [
        ("status", &query.status),
        ("site", &query.site),
        ("q", &query.q),
        ("from", &query.from),
        ("to", &query.to),
        ("before", &query.before),
    ];
    for (name, value) in fields {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            path.push_str(&format!("{name}={}&", encode(value)));
        }
    }
    if let Some(limit) = query.limit {
        path.push_str(&format!("limit={limit}"));
    }
    send(Request::get(&path).build()).await
}

pub(crate) async fn moderate(csrf: &str, request: &Moderate) -> Result<ModerateResponse, Failure> {
    send(with_json(
        Request::post("/admin/api/moderate").header(CSRF_HEADER, csrf),
        request,
    ))
    .await
}

pub(crate) async fn edit(csrf: &str, id: u64, body: String) -> Result<ModComment, Failure> {
    send(with_json(
        Request::post(&format!("/admin/api/comments/{id}/edit")).header(CSRF_HEADER, csrf),
        &ModEdit { body },
    ))
    .await
}

pub(crate) async fn lock(csrf: &str, request: &LockPage) -> Result<(), Failure> {
    send::<Option<()>>(with_json(
        Request::post("/admin/api/pages/lock").header(CSRF_HEADER, csrf),
        request,
    ))
    .await
    .map(|_| ())
}

pub(crate) async fn ban(csrf: &str, request: &NewBan) -> Result<Ban, Failure> {
    send(with_json(
        Request::post("/admin/api/bans").header(CSRF_HEADER, csrf),
        request,
    ))
    .await
}

pub(crate) async fn settings(site: &str) -> Result<SiteSettings, Failure> {
    send(Request::get(&format!("/admin/api/sites/{}", encode(site))).build()).await
}

pub(crate) async fn change_settings(
    csrf: &str,
    site: &str,
    change: &SiteSettings,
) -> Result<SiteSettings, Failure> {
    send(with_json(
        Request::put(&format!("/admin/api/sites/{}", encode(site))).header(CSRF_HEADER, csrf),
        change,
    ))
    .await
}

pub(crate) async fn page_meta(csrf: &str, request: &PageMeta) -> Result<Done, Failure> {
    send(with_json(
        Request::post("/admin/api/pages/meta").header(CSRF_HEADER, csrf),
        request,
    ))
    .await
}

pub(crate) async fn move_pages(csrf: &str, request: &MovePages) -> Result<Done, Failure> {
    send(with_json(
        Request::post("/admin/api/pages/move").header(CSRF_HEADER, csrf),
        request,
    ))
    .await
}

pub(crate) async fn spam_counts() -> Result<SpamCounts, Failure> {
    send(Request::get("/admin/api/spam").build()).await
}

pub(crate) async fn audit() -> Result<Vec<AuditEntry>, Failure> {
    send(Request::get("/admin/api/audit").build()).await
}

pub(crate) async fn deliveries() -> Result<Deliveries, Failure> {
    send(Request::get("/admin/api/deliveries").build()).await
}

pub(crate) async fn test_webhooks(csrf: &str, site: &str) -> Result<Deliveries, Failure> {
    send(with_json(
        Request::post("/admin/api/webhooks/test").header(CSRF_HEADER, csrf),
        &TestWebhooks {
            site: site.to_owned(),
        },
    ))
    .await
}
