//! What operators and their tools ask of a running server: whether it is alive (`/healthz`)
//! and whether it can serve (`/readyz`: the store answers), and how it stops ([`Shutdown`]).
//! No CORS, no state change, never cached; it reads through the service and touches nothing
//! else.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use talkback_api::ErrorCode;

use crate::AppState;
use crate::error::Result;

pub(crate) mod metrics;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(alive))
        .route("/readyz", web::get().to(ready))
        .route("/metrics", web::get().to(metrics::serve));
}

/// How long a stopping server goes on serving the connections it has, answering every request
/// with `Connection: close`, so clients stop reusing kept-alive connections before the workers
/// close them (a request sent on one as it closed would be cut off).
pub const DRAIN: Duration = Duration::from_millis(1500);

/// Stops the server gracefully: stop accepting, shut the listening sockets (a new client is
/// refused rather than accepted and dropped), then drain (see [`DRAIN`]) and wait for the
/// requests in flight (at most `shutdown_timeout_secs`).
#[derive(Clone)]
pub struct Shutdown {
    pub(crate) handle: ServerHandle,
    pub(crate) draining: Arc<AtomicBool>,
    /// Ends live streams (with a hint to reconnect) when the stop begins.
    pub(crate) stop_streams: Arc<tokio::sync::watch::Sender<bool>>,
    /// The server's listening sockets (duplicates of the ones it accepts on).
    pub(crate) listeners: Arc<Vec<std::net::TcpListener>>,
    pub(crate) stopping: Arc<AtomicBool>,
}

impl Shutdown {
    pub async fn graceful(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        tracing::info!("stopping: refusing new connections, finishing the ones open");
        self.handle.pause().await;
        // Let the accept loop take the pause in before its sockets are shut under it (else it
        // logs errors). Clients go on using their open connections meanwhile, and none is
        // told to reconnect yet, so nobody waits in the listen queue when it is shut.
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        for listener in self.listeners.iter() {
            if let Err(e) = socket2::SockRef::from(listener).shutdown(std::net::Shutdown::Read) {
                tracing::warn!(error = %e, "could not close a listener early");
            }
        }
        self.draining.store(true, Ordering::SeqCst);
        self.stop_streams.send_replace(true);
        actix_web::rt::time::sleep(DRAIN).await;
        self.handle.stop(true).await;
    }
}

/// While draining, every response closes its connection.
pub(crate) async fn close_when_draining(
    req: ServiceRequest,
    next: Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let draining = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.draining.load(Ordering::Relaxed));
    let mut res = next.call(req).await?;
    if draining {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}

/// The process answers HTTP.
async fn alive() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({"status": "alive"}))
}

/// The store answers: a load balancer may send readers here. While the disk under the store
/// is full, reads still work but writes wait: 503, saying since when and how many waited;
/// once it had room again, the last such time stays in the answer (`disk`).
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse> {
    let service = state.service.clone();
    let (answer, disk) = web::block(move || (service.ready(), service.disk())).await?;
    let unready = |message: String| {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({
                "error": ErrorCode::StoreUnavailable,
                "message": message,
                "request_id": crate::http::request_id::current(),
                "disk": disk,
            }))
    };
    match answer {
        Ok(()) if disk.full_since.is_some() => {
            tracing::error!(?disk, "not ready: the disk under the database is full");
            Ok(unready(format!(
                "The disk holding the database is full: comments can be read, but new ones \
                 are refused until space is freed ({} refused so far).",
                disk.refused_writes
            )))
        }
        Ok(()) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({"status": "ready", "disk": disk}))),
        Err(e) => {
            tracing::error!(error = %e, "not ready: the store does not answer");
            Ok(unready("The server cannot reach its database.".into()))
        }
    }
}
