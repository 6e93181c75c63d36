//! `/metrics` in Prometheus' text format: requests by route, method and status, their
//! latency by route, open live streams, the thread cache's hits, misses, evictions and size, writes made durable
//! and how long the flush took, and the anti-spam layers' outcomes by site, outcome and reason. Served to this machine (loopback), to the
//! addresses in `metrics_allow`, or to whoever sends `TALKBACK_METRICS_TOKEN` as a bearer
//! token; a client behind a trusted proxy counts as its forwarded address.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use talkback_api::ErrorCode;

use crate::AppState;
use crate::error::{Error, Result};
use crate::http::cache::CacheMetrics;
use crate::notify::Deliveries;
use crate::service::Service;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.1 ms to about 3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

/// The server's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    token: Option<String>,
}

impl Metrics {
    pub(crate) fn new(service: &Service, cache: &CacheMetrics, mail: &Deliveries) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        registry.register(
            "talkback_http_requests",
            "HTTP requests answered, by route pattern, method and status",
            requests.clone(),
        );
        registry.register(
            "talkback_http_request_duration_seconds",
            "Time to answer HTTP requests, by route pattern",
            latency.clone(),
        );
        let writes = service.write_metrics();
        registry.register(
            "talkback_write_commits",
            "Groups of writes made durable",
            writes.commits.clone(),
        );
        registry.register(
            "talkback_write_flush_seconds",
            "Time to make writes durable (shared by concurrent writers)",
            writes.flush_seconds.clone(),
        );
        registry.register(
            "talkback_comments_judged",
            "Comments the anti-spam layers judged, by site, outcome and reason (all: every one)",
            service.spam_metrics().clone(),
        );
        registry.register(
            "talkback_mail_sent",
            "Mails to site owners the relay accepted",
            mail.sent.clone(),
        );
        registry.register(
            "talkback_mail_failed_attempts",
            "Attempts to mail that failed (each retry counts)",
            mail.failed_attempts.clone(),
        );
        registry.register(
            "talkback_mail_given_up",
            "Mails given up after a day of retries",
            mail.given_up.clone(),
        );
        registry.register(
            "talkback_webhooks_delivered",
            "Webhook requests answered with 2xx",
            mail.hooks_delivered.clone(),
        );
        registry.register(
            "talkback_webhooks_failed_attempts",
            "Webhook attempts refused or unanswered (each retry counts)",
            mail.hooks_failed_attempts.clone(),
        );
        registry.register(
            "talkback_webhooks_given_up",
            "Webhook deliveries given up after a day of retries",
            mail.hooks_given_up.clone(),
        );
        registry.register(
            "talkback_mail_outbox_depth",
            "Changes the mailer has not looked at yet",
            mail.depth.clone(),
        );
        registry.register(
            "talkback_live_followers",
            "Open live update streams (readers following a thread)",
            service.live_followers().clone(),
        );
        registry.register(
            "talkback_thread_cache_hits",
            "Thread reads answered from the cache",
            cache.hits.clone(),
        );
        registry.register(
            "talkback_thread_cache_misses",
            "Thread reads the store had to answer",
            cache.misses.clone(),
        );
        registry.register(
            "talkback_thread_cache_evictions",
            "Cached pages dropped to stay within thread_cache_mb",
            cache.evictions.clone(),
        );
        registry.register(
            "talkback_thread_cache_bytes",
            "Bytes the thread cache holds (bodies, compressed copies, bookkeeping)",
            cache.bytes.clone(),
        );
        registry.register(
            "talkback_thread_cache_pages",
            "Pages the thread cache holds",
            cache.pages.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            token: std::env::var("TALKBACK_METRICS_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
        }
    }
}

/// Counts and times every request by the route it matched.
pub(crate) async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method()).to_owned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let m = &state.metrics;
        m.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method,
                status: res.status().as_u16(),
            })
            .inc();
        m.latency
            .get_or_create(&RouteLabels { route })
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}

/// The method as a label: HTTP's own by name, anything a client invents as `other` (each
/// invented method would otherwise be a series kept for ever).
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ]
    .into_iter()
    .find(|(known, _)| known == method)
    .map_or("other", |(_, label)| label)
}

fn allowed(state: &AppState, req: &HttpRequest) -> Result<bool> {
    if let Some(token) = &state.metrics.token {
        let presented = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if presented.is_some_and(|p| {
            p.len() == token.len()
                && p.bytes()
                    .zip(token.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        }) {
            return Ok(true);
        }
    }
    let Some(client) = state.limits.client(req)? else {
        return Ok(false);
    };
    Ok(client.is_loopback()
        || state
            .config
            .metrics_allow
            .iter()
            .filter_map(|a| crate::service::antispam::parse_network(a))
            .any(|net| net.contains(&client)))
}

pub(super) async fn serve(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse> {
    if !allowed(&state, &req)? {
        return Err(Error::client(
            ErrorCode::NotPermitted,
            "Metrics are served to this machine, the addresses in metrics_allow, and the metrics token.",
        ));
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &state.metrics.registry)
        .map_err(|e| Error::Internal(format!("encoding metrics: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}
