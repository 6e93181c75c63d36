//! Stable, machine-readable error codes sent with every 4xx and 5xx.

use serde::{Deserialize, Serialize};

/// The JSON body of every error response: `{"error": "body_too_long", "message": "…"}`.
///
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
}

/// What the server sends as an error: an [`ErrorBody`] plus the request's id, as in the
/// `X-Request-Id` header and the server's log (quote it when reporting a problem). Clients
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SentError {
    #[serde(flatten)]
    pub body: ErrorBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Every error the API can return. New codes may be added within v1, so clients must
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    InvalidJson,
    InvalidQuery,
    PayloadTooLarge,
    UnknownSite,
    OriginNotAllowed,
    InvalidPage,
    TitleTooLong,
    ParentNotFound,
    ParentOnOtherPage,
    NestingTooDeep,
    BodyEmpty,
    BodyTooLong,
    MarkdownTooDeep,
    NameTooLong,
    InvalidWebsite,
    InvalidEmail,
    InvalidCursor,
    TooManyPages,
    CommentNotFound,
    EditKeyInvalid,
    EditWindowExpired,
    RateLimited,
    /// A trusted proxy sent an `X-Forwarded-For` the server cannot read.
    InvalidClientAddress,
    /// The request body is compressed (`Content-Encoding`); the API takes plain bodies only.
    UnsupportedEncoding,
    NotFound,
    MethodNotAllowed,
    /// The thread is locked or the site read-only: no new comments.
    CommentsClosed,
    /// The same text was posted on the site a short while ago (kept as spam, not shown).
    /// The widget shows the server's message, so its deserializer leaves the code out
    /// (read back as `Unknown`, like the moderation codes below).
    #[serde(skip_deserializing)]
    DuplicateComment,
    /// A mail's confirm or unsubscribe link that is not valid, or whose subscription has
    /// ended. Sent by the server's pages, never to the widget (read back as `Unknown`).
    #[serde(skip_deserializing)]
    SubscriptionNotFound,
    // The moderation API's codes (`/admin/api`). They are sent like every code but read back
    // as `Unknown` by this crate: the reader's widget never receives them, and leaving them
    // out of its deserializer keeps the WASM within its size budget (measured: 226 bytes
    // brotli). Moderation clients branch on the HTTP status and show `message`.
    /// The moderation API: no valid session (signed out, expired, or the account changed).
    #[serde(skip_deserializing)]
    SignInRequired,
    /// Wrong name or password.
    #[serde(skip_deserializing)]
    SignInFailed,
    /// Too many failed sign-ins: wait (`Retry-After`).
    #[serde(skip_deserializing)]
    SignInLocked,
    /// A state change without the session's CSRF token, or from another origin.
    #[serde(skip_deserializing)]
    CsrfRejected,
    /// The account may not act on that site, or only an owner may do that.
    #[serde(skip_deserializing)]
    NotPermitted,
    /// The server cannot reach its database for a moment (`503` with `Retry-After`): the
    /// request was not carried out; send it again shortly. The widget shows the message (read
    /// back as `Unknown`, which costs its WASM nothing).
    #[serde(skip_deserializing)]
    StoreUnavailable,
    Internal,
    /// A code this build does not know yet (sent by a newer server).
    #[serde(other)]
    Unknown,
}

/// The form field an error belongs to, so the widget can show it inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Email,
    Website,
    Body,
}

impl ErrorCode {
    /// Every code, as declared (the server's API document lists their wire names from this).
    pub const ALL: [ErrorCode; 37] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidQuery,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnknownSite,
        ErrorCode::OriginNotAllowed,
        ErrorCode::InvalidPage,
        ErrorCode::TitleTooLong,
        ErrorCode::ParentNotFound,
        ErrorCode::ParentOnOtherPage,
        ErrorCode::NestingTooDeep,
        ErrorCode::BodyEmpty,
        ErrorCode::BodyTooLong,
        ErrorCode::MarkdownTooDeep,
        ErrorCode::NameTooLong,
        ErrorCode::InvalidWebsite,
        ErrorCode::InvalidEmail,
        ErrorCode::InvalidCursor,
        ErrorCode::TooManyPages,
        ErrorCode::CommentNotFound,
        ErrorCode::EditKeyInvalid,
        ErrorCode::EditWindowExpired,
        ErrorCode::RateLimited,
        ErrorCode::InvalidClientAddress,
        ErrorCode::UnsupportedEncoding,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::CommentsClosed,
        ErrorCode::DuplicateComment,
        ErrorCode::SubscriptionNotFound,
        ErrorCode::SignInRequired,
        ErrorCode::SignInFailed,
        ErrorCode::SignInLocked,
        ErrorCode::CsrfRejected,
        ErrorCode::NotPermitted,
        ErrorCode::StoreUnavailable,
        ErrorCode::Internal,
        ErrorCode::Unknown,
    ];

    /// Which form field the error is about, if any.
    pub fn field(self) -> Option<Field> {
        match self {
            ErrorCode::NameTooLong => Some(Field::Name),
            ErrorCode::InvalidEmail => Some(Field::Email),
            ErrorCode::InvalidWebsite => Some(Field::Website),
            ErrorCode::BodyEmpty | ErrorCode::BodyTooLong | ErrorCode::MarkdownTooDeep => {
                Some(Field::Body)
            }
            _ => None,
        }
    }
}
