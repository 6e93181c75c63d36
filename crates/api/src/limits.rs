//! Limits enforced by the server and mirrored by the widget's form hints.

/// Largest Markdown body accepted, in bytes (checked before any parsing).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest author name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest website URL, in bytes.
pub const MAX_WEBSITE_BYTES: usize = 512;
/// Longest e-mail address (RFC 5321 path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Longest page key or URL as sent, in characters (the key it normalises to may have one
/// more, a leading `/`).
pub const MAX_PAGE_KEY_CHARS: usize = 512;
/// Longest page title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Deepest reply chain: a comment at this depth cannot be replied to.
pub const MAX_REPLY_DEPTH: u32 = 32;
/// Deepest nesting of block quotes and lists inside one body.
pub const MAX_MARKDOWN_DEPTH: usize = 8;
/// Deepest nesting of emphasis, strong, strikethrough and links inside one paragraph; deeper
/// markup keeps its text but not its formatting. With the block cap this bounds every
/// recursion over a stored tree (decoding, rendering, exporting, dropping).
pub const MAX_INLINE_DEPTH: usize = 8;
/// Most pages in one counts request.
pub const MAX_COUNT_PAGES: usize = 100;
/// Top-level comments per thread page when the client does not say.
pub const DEFAULT_PAGE_LIMIT: u32 = 20;
/// Most top-level comments per thread page.
pub const MAX_PAGE_LIMIT: u32 = 100;
/// Replies carried under each top-level comment of a thread page; the rest are paged.
pub const REPLIES_PER_COMMENT: usize = 10;
/// Replies per `GET /api/v1/replies` page.
pub const REPLIES_PAGE_LIMIT: usize = 50;
/// Header carrying the edit key for edit and delete requests.
/// Held comments one browser asks about at once (`POST /api/v1/comments/held`).
pub const HELD_QUERY_LIMIT: usize = 20;
/// The header carrying a comment's edit key.
pub const EDIT_KEY_HEADER: &str = "X-Talkback-Edit-Key";
/// Replies nest visually this deep; deeper ones are listed flat with "in reply to NAME".
pub const VISUAL_DEPTH: usize = 4;
/// Reply lists longer than this start collapsed behind "show N more replies"...
pub const COLLAPSE_REPLIES_OVER: usize = 5;
/// ...showing this many.
pub const COLLAPSED_REPLIES_SHOWN: usize = 3;
