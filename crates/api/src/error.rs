//! Stable, machine-readable error codes sent with every 4xx and 5xx.

use serde::{Deserialize, Serialize};

/// The JSON body of every error response: `{"error": "body_too_long", "message": "…"}`.
///
/// `error` is stable and safe to branch on; `message` is for humans and may change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
}

/// Every error the API can return. New codes may be added within v1, so clients must
/// treat unknown ones as [`ErrorCode::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// The snake_case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnknownSite => "unknown_site",
            ErrorCode::OriginNotAllowed => "origin_not_allowed",
            ErrorCode::InvalidPage => "invalid_page",
            ErrorCode::TitleTooLong => "title_too_long",
            ErrorCode::ParentNotFound => "parent_not_found",
            ErrorCode::ParentOnOtherPage => "parent_on_other_page",
            ErrorCode::NestingTooDeep => "nesting_too_deep",
            ErrorCode::BodyEmpty => "body_empty",
            ErrorCode::BodyTooLong => "body_too_long",
            ErrorCode::MarkdownTooDeep => "markdown_too_deep",
            ErrorCode::NameTooLong => "name_too_long",
            ErrorCode::InvalidWebsite => "invalid_website",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::TooManyPages => "too_many_pages",
            ErrorCode::CommentNotFound => "comment_not_found",
            ErrorCode::EditKeyInvalid => "edit_key_invalid",
            ErrorCode::EditWindowExpired => "edit_window_expired",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InvalidClientAddress => "invalid_client_address",
            ErrorCode::UnsupportedEncoding => "unsupported_encoding",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }

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
