//! The one owner of which addresses may become links: in comment bodies (`http`, `https`,
//! `mailto`) and as a reader's website or a page's URL (`http`, `https` with a host). The
//! server's parsers, its tree check, its validation and the widget's renderer all ask here.

/// Schemes a link inside a comment may have.
pub const LINK_SCHEMES: [&str; 3] = ["http://", "https://", "mailto:"];

/// Schemes of a web address (a reader's website, a page's URL).
pub const WEB_SCHEMES: [&str; 2] = ["http://", "https://"];

/// The scheme of `text` among `schemes` (case-insensitive), when something follows it.
/// Nothing is trimmed: text with a leading space has no scheme.
fn scheme_of<'a>(text: &str, schemes: &[&'a str]) -> Option<&'a str> {
    let bytes = text.as_bytes();
    schemes.iter().copied().find(|s| {
        bytes.len() > s.len()
            && bytes
                .get(..s.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(s.as_bytes()))
    })
}

/// True when `text` starts with one of `schemes` and something follows. The widget's check
/// before it makes a link of a stored value (which the server already passed through
/// [`link_href`] or [`is_web_address`]).
pub fn has_scheme(text: &str, schemes: &[&str]) -> bool {
    scheme_of(text, schemes).is_some()
}

/// `href` as a link in a comment may carry it: trimmed, with an allowed scheme and something
/// after it, and no whitespace or control characters inside; `None` when it may not be a link.
pub fn link_href(href: &str) -> Option<&str> {
    let href = href.trim();
    scheme_of(href, &LINK_SCHEMES)?;
    let clean = !href.chars().any(|c| c.is_control() || c.is_whitespace());
    clean.then_some(href)
}

/// What follows the `http://` or `https://` of `text` (any case); `None` for other schemes.
pub fn after_web_scheme(text: &str) -> Option<&str> {
    let scheme = scheme_of(text, &WEB_SCHEMES)?;
    text.get(scheme.len()..)
}

/// True when `url` (already trimmed) is an http or https address with a host and nothing that
/// could break out of an attribute (whitespace, control characters, quotes, `<`, `>`, `` ` ``,
/// `\`).
pub fn is_web_address(url: &str) -> bool {
    let Some(rest) = after_web_scheme(url) else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let clean = !url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>\"'`\\".contains(c));
    !host.is_empty() && clean
}
