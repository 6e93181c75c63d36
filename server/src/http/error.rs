//! The server's errors over HTTP: every failure becomes a status and a stable JSON
//! [`ErrorBody`]. Internal causes are logged, never sent. Errors a reader can act on are worded by
//! `talkback_api::i18n::errors`, in the request's language (see `http::localise_errors`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use talkback_api::i18n::errors::{self, ErrorTexts};
use talkback_api::{ErrorBody, ErrorCode, SentError};

use crate::error::Error;

impl From<actix_web::error::BlockingError> for Error {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Error::Blocking(Box::new(e))
    }
}

/// When a client should try again after a 503 (the pool waits 2 s for a connection, and a
/// restarting PostgreSQL is usually back within seconds).
const RETRY_UNAVAILABLE_SECS: u64 = 5;

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
