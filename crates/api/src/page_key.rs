//! Page keys: how a blog post is named in Talkback.

/// Query parameters that name a page on a WordPress blog with plain permalinks (`/?p=4`,
/// `/?page_id=7`, category and tag archives): kept in page keys unless a site says otherwise.
pub const DEFAULT_PAGE_PARAMS: &[&str] = &["p", "page_id", "cat", "tag"];

/// What a page key or URL as sent must look like for [`normalize_page_key_keeping`] to give a
/// key (the OpenAPI document says it): no control characters (white space that is one, like
/// a tab, included), and after any leading white space, a first character other than `?` or
/// `#` (nothing would be left of the key).
pub const PAGE_KEY_PATTERN: &str =
    r"^[^\S\x00-\x1f\x7f-\x9f]*[^\s?#\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// Normalises a page key or URL with [`DEFAULT_PAGE_PARAMS`]; see [`normalize_page_key_keeping`].
pub fn normalize_page_key(raw: &str) -> Option<String> {
    normalize_page_key_keeping(raw, DEFAULT_PAGE_PARAMS)
}

/// Normalises a page key or URL so that `https://blog/a/?utm=1#c5`, `/a` and `/a/` name
/// the same thread: scheme and host are dropped, as is the fragment, repeated slashes
/// collapse, and a trailing slash is removed except on the root. Of the query, only the
/// parameters in `keep` stay (`/?p=4` is its own thread; `utm_*`, `fbclid` and anything not
/// listed go), non-empty, sorted so their order does not matter, with percent-escapes
/// normalised (unreserved characters decoded, hex digits upper case). An empty `keep` means
/// "path only". Keys without kept parameters are exactly what they were before parameters
/// were kept.
///
/// Returns `None` for a key that is empty after normalisation or contains control characters.
pub fn normalize_page_key_keeping(raw: &str, keep: &[impl AsRef<str>]) -> Option<String> {
    // Control characters anywhere, even where trimming would drop them (U+0085 is white space).
    if raw.chars().any(char::is_control) {
        return None;
    }
    let raw = raw.trim();
    let (without_origin, had_origin) = match raw.find("://") {
        Some(i)
            if raw[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            let rest = &raw[i + 3..];
            let path = match rest.find(['/', '?', '#']) {
                Some(at) if rest[at..].starts_with('/') => &rest[at..],
                // `https://blog.example?p=4`: the root, with its query.
                Some(at) if rest[at..].starts_with('?') => &rest[at..],
                _ => "/",
            };
            (path, true)
        }
        _ => (raw, false),
    };
    let without_fragment = without_origin.split('#').next().unwrap_or_default();
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let rooted = path.starts_with('/') || (path.is_empty() && had_origin);
    let mut key = String::with_capacity(path.len() + 1);
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        key.push('/');
        key.push_str(segment);
    }
    if key.is_empty() {
        if rooted {
            key.push('/');
        } else {
            return None;
        }
    }
    push_kept_params(query, keep, &mut key);
    Some(key)
}

/// A page's URL as it is recorded: without its fragment, and with only the query parameters
/// that name the page (as in its key); scheme, host and path stay as they are.
pub fn page_url_keeping(url: &str, keep: &[impl AsRef<str>]) -> String {
    let url = url.split('#').next().unwrap_or_default();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut out = base.to_owned();
    push_kept_params(query, keep, &mut out);
    out
}

/// Appends `?a=1&b=2` made of the parameters of `query` listed in `keep`: non-empty, escapes
/// normalised, sorted and without repeats.
fn push_kept_params(query: &str, keep: &[impl AsRef<str>], out: &mut String) {
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, value) = (normalize_escapes(name), normalize_escapes(value));
            let kept = keep.iter().any(|k| k.as_ref() == name);
            (kept && !value.is_empty()).then_some((name, value))
        })
        .collect();
    params.sort();
    params.dedup();
    for (i, (name, value)) in params.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
}

/// RFC 3986 normalisation of percent-escapes: unreserved characters are decoded, every other
/// escape keeps its byte with upper-case hex digits; a stray `%` is escaped itself.
fn normalize_escapes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                let byte = (h * 16 + l) as u8;
                if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                    out.push(char::from(byte));
                } else {
                    out.push_str(&format!("%{byte:02X}"));
                }
                i += 3;
                continue;
            }
            out.push_str("%25");
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().unwrap_or_default();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod pattern_tests {
    use super::*;

    /// The document's pattern and the normaliser agree: a key matches exactly when it
    /// normalises to something.
    #[test]
    fn the_documented_pattern_accepts_exactly_the_keys_that_normalise() {
        let pattern = regex::Regex::new(PAGE_KEY_PATTERN).unwrap();
        let cases = [
            "/",
            "/a/",
            "a",
            "a/b",
            "  /a  ",
            "https://blog.example",
            "https://blog.example?p=4",
            "://x",
            "x://",
            "//",
            "/?p=4#c",
            "a?",
            "ünïcødé",
            "a b",
            "",
            " ",
            "\t",
            "?p=4",
            "#c5",
            "  ?p",
            " #",
            "/a\u{0}",
            "a\u{7f}",
            "a\u{85}b",
            "\u{9f}",
            "a\nb",
            "\u{3000}/a",
            "?://x",
            "#://x",
            "0",
            "%2F",
            "/\u{200b}",
        ];
        for key in cases {
            assert_eq!(
                pattern.is_match(key),
                normalize_page_key(key).is_some(),
                "{key:?}"
            );
        }
    }
}
