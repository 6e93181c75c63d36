//! `GET /api/v1/live`: a thread's changes as Server-Sent Events. A stream opens with a retry
//! hint, replays what the reader missed when it names the last event it saw (`Last-Event-ID`),
//! says where it stands (a `ready` event whose id a browser reconnects with), then sends each
//! change as it is acknowledged, a comment line as a heartbeat while nothing
//! happens, and, when the server stops, a short retry hint before it ends. Opening one
//! spends the read budget; streams are capped per client address, per site and in all.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use talkback_api::{ErrorCode, LiveQuery};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::openapi::{ReadErrors, ServerSentEvent};
use crate::AppState;
use crate::content::validate;
use crate::error::{Error, Result};
use crate::http::limit::StreamSlot;
use crate::service::{CatchUp, Following, Frame};

/// A heartbeat this often keeps proxies and browsers from taking a quiet stream for dead.
const HEARTBEAT: Duration = Duration::from_secs(20);
/// How long a browser waits before reconnecting after a dropped stream.
const RETRY: &[u8] = b"retry: 3000\n\n";
/// The same when the server stops: the next one (a restart) is usually up within seconds.
const RETRY_AFTER_STOP: &[u8] = b"retry: 1500\n\n";

/// A stream's state between two frames.
struct Stream {
    backlog: VecDeque<Bytes>,
    /// The page's events (and the follower's place, given up when the stream ends).
    following: Following,
    /// The newest change sent: anything up to it is not sent again.
    sent: u64,
    stop: watch::Receiver<bool>,
    ended: bool,
    _slot: StreamSlot,
}

#[utoipa::path(
    get,
    path = "/live",
    tag = "threads",
    params(
        LiveQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "The `id` of the last event seen: what came after it is sent first"),
    ),
    responses(
        (status = 200, description = "Server-Sent Events: each `update` event's `data` is a `LiveEvent`",
            content_type = "text/event-stream", body = ServerSentEvent),
        ReadErrors,
    ),
)]
pub(super) async fn follow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LiveQuery>,
) -> Result<HttpResponse> {
    let site = state.service.site(&query.site)?;
    let page = validate::page_key(&query.page, site)?;
    // Browsers send back only ids this server gave out; anything else is refused, not ignored.
    let last_seen = match req.headers().get("last-event-id") {
        None => query.since,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    Error::client(
                        ErrorCode::InvalidCursor,
                        "The Last-Event-ID is not one this server gave out.",
                    )
                })?,
        ),
    };
    // Opening a stream (and a catch-up, which reads the change log) is an expensive read,
    // budgeted like one.
    state.limits.read(&req).await?;
    let slot = state
        .streams
        .take(state.limits.client(&req)?, &query.site)?;
    // Follow first, then catch up: an event in between comes twice and is sent once.
    let following = state.service.follow(&query.site, &page);
    let (service, site_id) = (state.service.clone(), query.site.clone());
    let (backlog, sent) = web::block(move || -> Result<(VecDeque<Bytes>, u64)> {
        let mut backlog = VecDeque::from([Bytes::from_static(RETRY)]);
        let upto = match last_seen {
            None => service.last_change()?,
            Some(after) => match service.catch_up(&site_id, &page, after)? {
                CatchUp::Frames(frames, upto) => {
                    backlog.extend(frames.iter().map(|f| f.bytes.clone()));
                    upto
                }
                CatchUp::Reload(upto) => {
                    backlog.push_back(Frame::reload());
                    upto
                }
            },
        };
        backlog.push_back(Frame::ready(upto));
        Ok((backlog, upto))
    })
    .await??;
    let stream = Stream {
        backlog,
        following,
        sent,
        stop: state.stop_streams.clone(),
        ended: false,
        _slot: slot,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // nginx: pass each event on as it comes.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::stream::unfold(stream, next)))
}

/// The stream's next bytes, or its end.
async fn next(mut s: Stream) -> Option<(Result<Bytes, actix_web::Error>, Stream)> {
    if s.ended {
        return None;
    }
    if let Some(bytes) = s.backlog.pop_front() {
        return Some((Ok(bytes), s));
    }
    loop {
        if *s.stop.borrow() {
            s.ended = true;
            return Some((Ok(Bytes::from_static(RETRY_AFTER_STOP)), s));
        }
        tokio::select! {
            event = s.following.events.recv() => match event {
                Ok(frame) if frame.seq <= s.sent => continue,
                Ok(frame) => {
                    s.sent = frame.seq;
                    let bytes = frame.bytes.clone();
                    return Some((Ok(bytes), s));
                }
                // Fell behind: the thread is read again rather than patched from a gap.
                Err(RecvError::Lagged(_)) => return Some((Ok(Frame::reload()), s)),
                Err(RecvError::Closed) => return None,
            },
            _ = tokio::time::sleep(HEARTBEAT) => {
                return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), s));
            }
            changed = s.stop.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
        }
    }
}
