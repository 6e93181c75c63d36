//! The wire contract between the widget and the server.
//!
//! Everything both sides must agree on lives here: request and response types, id newtypes,
//! error codes, limits, the comment document tree and pure helpers such as page-key
//! normalisation and thread assembly. This crate does no IO and depends only on serde, so it
//! builds for wasm32 (CI checks that neither sled, actix nor tokio ever creep in).

pub mod admin;
mod doc;
mod error;
pub mod i18n;
mod identicon;
pub mod limits;
pub mod links;
mod page_key;
mod thread;
mod wire;

pub use doc::{Block, Inline, ListItem, Nesting};
pub use error::{ErrorBody, ErrorCode, Field, SentError};
pub use identicon::Identicon;
pub use links::{LINK_SCHEMES, WEB_SCHEMES, has_scheme, is_web_address, link_href};
pub use page_key::{
    DEFAULT_PAGE_PARAMS, PAGE_KEY_PATTERN, normalize_page_key, normalize_page_key_keeping,
    page_url_keeping,
};
pub use thread::assemble_thread;
pub use wire::*;

#[cfg(test)]
mod tests;
