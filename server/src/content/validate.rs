//! Checks on reader input. Each failure names a stable [`ErrorCode`] and says in plain words
//! what to change; nothing is stored until every check has passed.

use talkback_api::limits::{
    MAX_EMAIL_BYTES, MAX_NAME_CHARS, MAX_PAGE_KEY_CHARS, MAX_TITLE_CHARS, MAX_WEBSITE_BYTES,
};
use talkback_api::{ErrorCode, is_web_address, normalize_page_key_keeping, page_url_keeping};

use crate::config::SiteConfig;

use crate::error::{Error, Result};

fn fail<T>(code: ErrorCode, message: impl Into<String>) -> Result<T> {
    Err(Error::client(code, message))
}

/// Drops control characters and Unicode format characters (category Cf: bidi overrides such
/// as U+202E, which shows "nimdA" as "Admin", zero-width spaces and joiners), then trims.
pub(crate) fn visible(text: &str) -> String {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    text.chars()
        .filter(|c| !c.is_control() && c.general_category() != GeneralCategory::Format)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Trims; `None` when empty.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A page key or URL, normalised with the site's own page parameters.
pub(crate) fn page_key(raw: &str, site: &SiteConfig) -> Result<String> {
    // Counted as sent, in characters, as the OpenAPI document's maxLength counts.
    if raw.chars().count() > MAX_PAGE_KEY_CHARS {
        return fail(
            ErrorCode::InvalidPage,
            format!("The page key is longer than {MAX_PAGE_KEY_CHARS} characters."),
        );
    }
    match normalize_page_key_keeping(raw, &site.page_params) {
        Some(key) => Ok(key),
        None => fail(
            ErrorCode::InvalidPage,
            "The page key is empty or contains control characters.",
        ),
    }
}

pub(crate) fn title(raw: Option<&str>) -> Result<Option<String>> {
    match present(raw) {
        Some(t) if t.chars().count() > MAX_TITLE_CHARS => fail(
            ErrorCode::TitleTooLong,
            format!("The page title is longer than {MAX_TITLE_CHARS} characters."),
        ),
        Some(t) => {
            let t = visible(t);
            Ok((!t.is_empty()).then_some(t))
        }
        None => Ok(None),
    }
}

pub(crate) fn author(raw: Option<&str>) -> Result<String> {
    match present(raw) {
        Some(name) if name.chars().count() > MAX_NAME_CHARS => {
            Err(Error::reader(ErrorCode::NameTooLong))
        }
        // Control and format characters have no business in a name; drop them rather than refuse.
        Some(name) => Ok(visible(name)),
        None => Ok(String::new()),
    }
}

pub(crate) fn email(raw: Option<&str>) -> Result<Option<String>> {
    let Some(email) = present(raw) else {
        return Ok(None);
    };
    let bad = || Err(Error::reader(ErrorCode::InvalidEmail));
    if email.len() > MAX_EMAIL_BYTES
        || email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"',;()[]\\".contains(c))
    {
        return bad();
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                // What the mailer will be handed must be what it can send to: the same
                // parser (`a..b@example.com`, which browsers' type=email lets through, once
                // stopped all reader mail), and ASCII only (a relay may lack SMTPUTF8).
                && email.is_ascii()
                && email.parse::<lettre::Address>().is_ok() =>
        {
            Ok(Some(email.to_owned()))
        }
        _ => bad(),
    }
}

/// Accepts http and https URLs only; stored XSS through the website field is a classic.
pub(crate) fn website(raw: Option<&str>) -> Result<Option<String>> {
    website_like(raw, || Error::reader(ErrorCode::InvalidWebsite))
}

/// A page's URL: http or https, recorded without its fragment and with only the query
/// parameters that name the page on this site.
pub(crate) fn page_url(raw: Option<&str>, site: &SiteConfig) -> Result<Option<String>> {
    let url = website_like(raw, || {
        Error::client(
            ErrorCode::InvalidPage,
            "The page URL must be an http:// or https:// address.",
        )
    })?;
    Ok(url.map(|u| page_url_keeping(&u, &site.page_params)))
}

fn website_like(raw: Option<&str>, refusal: impl Fn() -> Error) -> Result<Option<String>> {
    let Some(url) = present(raw) else {
        return Ok(None);
    };
    if is_web_address(url) && url.len() <= MAX_WEBSITE_BYTES {
        Ok(Some(url.to_owned()))
    } else {
        Err(refusal())
    }
}

/// Parses a Markdown body into its trimmed source and document tree.
pub(crate) fn body(source: &str) -> Result<(String, Vec<talkback_api::Block>)> {
    use super::markdown::{MarkdownError, parse};
    let source = source.trim_end();
    // Nothing to see (white space and control characters only): nothing said.
    if !source
        .chars()
        .any(|c| !c.is_whitespace() && !c.is_control())
    {
        return Err(Error::reader(ErrorCode::BodyEmpty));
    }
    let tree = parse(source).map_err(|e| {
        Error::reader(match e {
            MarkdownError::Empty => ErrorCode::BodyEmpty,
            MarkdownError::TooLong => ErrorCode::BodyTooLong,
            MarkdownError::TooDeep => ErrorCode::MarkdownTooDeep,
        })
    })?;
    Ok((source.to_owned(), tree))
}

/// `scheme://host[:port]` of an http or https URL (already checked by [`website`] or
/// [`page_url`]).
pub(crate) fn url_origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..scheme_end + 3 + host_end])
}
