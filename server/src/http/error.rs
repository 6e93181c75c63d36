//! The server's error type: every failure becomes a status and a stable JSON [`ErrorBody`].
//! Internal causes are logged, never sent. Errors a reader can act on are worded by
//! `talkback_api::i18n::errors`, in the request's language (see `http::localise_errors`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use talkback_api::i18n::errors::{self, ErrorTexts};
use talkback_api::{ErrorBody, ErrorCode, SentError};

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
    #[error("worker pool: {0}")]
    Blocking(#[from] actix_web::error::BlockingError),
    #[error("encoding: {0}")]
    Encoding(#[from] serde_json::Error),
    /// The database cannot be reached for a moment: logged, a 503 with `Retry-After`.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A failure the client cannot fix (storage, no randomness, a broken invariant): logged,
    /// a 500.
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// When a client should try again after a 503 (the pool waits 2 s for a connection, and a
/// restarting PostgreSQL is usually back within seconds).
const RETRY_UNAVAILABLE_SECS: u64 = 5;

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

    pub(crate) fn code(&self) -> ErrorCode {
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

/// The HTTP status for each code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnknownSite
        | ErrorCode::CommentNotFound
        | ErrorCode::ParentNotFound
        | ErrorCode::NotFound
        | ErrorCode::SubscriptionNotFound => StatusCode::NOT_FOUND,
        ErrorCode::OriginNotAllowed
        | ErrorCode::EditKeyInvalid
        | ErrorCode::EditWindowExpired
        | ErrorCode::CommentsClosed => StatusCode::FORBIDDEN,
        ErrorCode::RateLimited | ErrorCode::SignInLocked => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::SignInRequired | ErrorCode::SignInFailed => StatusCode::UNAUTHORIZED,
        ErrorCode::CsrfRejected | ErrorCode::NotPermitted => StatusCode::FORBIDDEN,
        ErrorCode::UnsupportedEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::DuplicateComment => StatusCode::CONFLICT,
        ErrorCode::Internal | ErrorCode::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        status_of(self.code())
    }

    fn error_response(&self) -> HttpResponse {
        self.response_in(&errors::EN)
    }
}

impl Error {
    /// The response, worded in `texts`' language where the table has words for it.
    pub fn response_in(&self, texts: &ErrorTexts) -> HttpResponse {
        let message = self.message_in(texts);
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header(("Cache-Control", "no-store"));
        if let Error::RateLimited {
            retry_after_secs, ..
        }
        | Error::Locked { retry_after_secs } = self
        {
            response.insert_header(("Retry-After", retry_after_secs.to_string()));
        }
        if let Error::Unavailable(_) = self {
            response.insert_header(("Retry-After", RETRY_UNAVAILABLE_SECS.to_string()));
        }
        if let Error::WrongMethod { allow } = self {
            response.insert_header(("Allow", *allow));
        }
        response.json(SentError {
            body: ErrorBody {
                error: self.code(),
                message,
            },
            request_id: super::request_id::current(),
        })
    }

    /// What people are told, in `texts`' language where the table has words for it (the JSON
    /// body's `message`, and the error shown in a page).
    pub fn message_in(&self, texts: &ErrorTexts) -> String {
        match self {
            Error::Client { code, message } => texts.message(*code).unwrap_or(message.clone()),
            Error::RateLimited {
                retry_after_secs,
                writes,
            } => texts.too_fast(*writes, *retry_after_secs),
            Error::Locked { .. } | Error::WrongMethod { .. } => self.to_string(),
            Error::Unavailable(_) => {
                if texts.lang == errors::EN.lang {
                    tracing::warn!(error = %self, "the database is unreachable");
                }
                texts
                    .message(ErrorCode::StoreUnavailable)
                    .unwrap_or_default()
            }
            other => {
                if texts.lang == errors::EN.lang {
                    // Logged once: a localised response is the same error answered again.
                    tracing::error!(error = %other, "request failed");
                }
                texts.message(ErrorCode::Internal).unwrap_or_default()
            }
        }
    }
}
