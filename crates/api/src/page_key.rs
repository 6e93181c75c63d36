//! Page keys: how a blog post is named in Talkback.

/// Normalises a page key or URL so that `https://blog/a/?utm=1#c5`, `/a` and `/a/` name
/// the same thread: scheme and host are dropped, as are query and fragment, repeated slashes
/// collapse, and a trailing slash is removed except on the root.
///
/// Returns `None` for a key that is empty after normalisation or contains control characters.
pub fn normalize_page_key(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.chars().any(char::is_control) {
        return None;
    }
    let without_origin = match raw.find("://") {
        Some(i)
            if raw[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            let rest = &raw[i + 3..];
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        _ => raw,
    };
    let path = without_origin.split(['?', '#']).next().unwrap_or_default();
    let mut key = String::with_capacity(path.len() + 1);
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        key.push('/');
        key.push_str(segment);
    }
    if key.is_empty() {
        if path.starts_with('/') {
            key.push('/');
        } else {
            return None;
        }
    }
    Some(key)
}
