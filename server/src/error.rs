//! The server's one error type, with no HTTP in it: what went wrong, the stable code a client's
//! error carries, and the cause of a failure the client cannot fix (kept, not flattened into a
//! string). `http::error` alone turns it into a status and a JSON body, and logs what it hides.

use talkback_api::ErrorCode;
use talkback_api::i18n::errors;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request the client can fix; the message is shown to people.
    #[error("{message}")]
    Client { code: ErrorCode, message: String },
    /// Over a rate limit: `429` with `Retry-After`.
    #[error("{}", errors::EN.too_fast(*writes, *retry_after_secs))]
    RateLimited { retry_after_secs: u64, writes: bool },
    /// Too many failed sign-ins from this client or for this account: `429` with `Retry-After`.
    #[error("Too many failed sign-ins. Try again in {retry_after_secs} seconds.")]
    Locked { retry_after_secs: u64 },
    /// The path exists, but not for this method: `405` with `Allow`.
    #[error("This endpoint takes {allow} only.")]
    WrongMethod { allow: &'static str },
    /// The pool that runs blocking work refused it (the server is stopping).
    #[error("worker pool: {0}")]
    Blocking(#[source] Cause),
    #[error("encoding: {0}")]
    Encoding(#[from] serde_json::Error),
    /// The database cannot be reached for a moment, or its disk is full: logged, a 503 with
    /// `Retry-After`.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// The store failed in a way the client cannot fix: logged, a 500.
    #[error("storage: {0}")]
    Store(#[source] Cause),
    /// A failure the client cannot fix (no randomness, a broken invariant): logged, a 500.
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The cause of a failure, kept whole for the log (the store's error, which only the write
/// path names).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

impl Error {
    pub fn client(code: ErrorCode, message: impl Into<String>) -> Self {
        Error::Client {
            code,
            message: message.into(),
        }
    }

    /// An error a reader can act on, worded by the shared table (in English here; the
    /// response is worded in the request's language).
    pub fn reader(code: ErrorCode) -> Self {
        let message = errors::EN.message(code).unwrap_or_default();
        debug_assert!(!message.is_empty(), "{code:?} has no entry in the table");
        Error::client(code, message)
    }

    /// The stable code a client is given.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Client { code, .. } => *code,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Locked { .. } => ErrorCode::SignInLocked,
            Error::WrongMethod { .. } => ErrorCode::MethodNotAllowed,
            Error::Unavailable(_) => ErrorCode::StoreUnavailable,
            _ => ErrorCode::Internal,
        }
    }
}
