//! A request id for every request: taken from a trusted proxy's `X-Request-Id` (so one id
//! follows the request through nginx and Talkback), else made here. It is the `request`
//! span's `id` in every log line the request causes, the response's `X-Request-Id` header,
//! and `request_id` in every error body, so a reader's report finds its log lines.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being answered, if any.
pub(crate) fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// A proxy's id is kept when it is short and plain.
fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A new id: a random number drawn once per process, then a counter, so ids are unique
/// across restarts and cost no system call per request (they are labels, not secrets).
fn fresh() -> String {
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        // Without randomness the counter alone still tells this run's requests apart.
        let _ = getrandom::fill(&mut bytes);
        u32::from_le_bytes(bytes)
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix:08x}{n:08x}")
}

pub(crate) async fn assign(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let trusted = req
        .app_data::<web::Data<crate::AppState>>()
        .is_some_and(|s| s.limits.trusts(req.peer_addr()));
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| trusted && acceptable(id))
        .map_or_else(fresh, str::to_owned);
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.path());
    let mut res = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span))
        .await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(HEADER), value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_short_plain_ids_are_taken_from_a_proxy() {
        let cases = [
            ("5f0c2a9e1b7d4c36", true),
            ("req-1.abc_DEF", true),
            ("", false),
            ("has space", false),
            ("new\nline", false),
            ("<script>", false),
        ];
        for (id, ok) in cases {
            assert_eq!(super::acceptable(id), ok, "{id:?}");
        }
        assert!(!super::acceptable(&"a".repeat(65)));
        let (a, b) = (super::fresh(), super::fresh());
        assert!(a.len() == 16 && b.len() == 16 && a != b && a[..8] == b[..8]);
    }
}
