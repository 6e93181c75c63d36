//! Comment content: Markdown and imported HTML into the document tree (one builder, `tree`,
//! which also holds the rules every stored tree obeys), the checks on every field a reader
//! sends (`validate`), and the one renderer of comment HTML (`render`).
//!
//! Pure code: no IO, no store. Everything a reader wrote that ends up in HTML passes through
//! `render::escape`.

pub mod feed;
pub(crate) mod html;
pub mod markdown;
pub mod render;
pub(crate) mod tree;
pub(crate) mod validate;
