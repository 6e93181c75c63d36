//! The owner's operations on stored comments and pages (for now from the command line, on a
//! stopped server): deleting a comment or a whole thread, and correcting a page's title or URL.
//! Each checks its input with the API's rules and flushes before it reports success.

use talkback_store::{CommentStore, Deleted, WriteSeq};

use crate::config::Config;
use crate::validate;

/// Why an owner's operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("site {0:?} has no comment {1}")]
    NoComment(String, u64),
    #[error("site {0:?} has no comments on page {1:?}")]
    NoPage(String, String),
    #[error("site {0:?} is not configured")]
    UnknownSite(String),
    #[error("{0}")]
    Invalid(String),
    #[error("storage: {0}")]
    Store(#[from] talkback_store::Error),
}

fn invalid(e: crate::error::Error) -> AdminError {
    AdminError::Invalid(e.to_string())
}

/// Deletes comment `id` of `site` (a tombstone stays when it has replies), or every comment of
/// `page`. Returns what happened, in words.
pub fn delete(
    config: &Config,
    store: &dyn CommentStore,
    site: &str,
    id: Option<u64>,
    page: Option<&str>,
) -> Result<String, AdminError> {
    let site_config = config
        .site(site)
        .ok_or_else(|| AdminError::UnknownSite(site.into()))?;
    let said = match (id, page) {
        (Some(id), _) => {
            let on_site = store
                .comment(id)?
                .and_then(|c| store.page_by_id(c.page_id).ok().flatten())
                .is_some_and(|p| p.site == site);
            if !on_site {
                return Err(AdminError::NoComment(site.into(), id));
            }
            let (outcome, _) = store.delete_comment(id).map_err(|e| match e {
                talkback_store::Error::NotFound => AdminError::NoComment(site.into(), id),
                other => other.into(),
            })?;
            match outcome {
                Deleted::Tombstone => {
                    format!("comment {id} deleted; a tombstone keeps its replies")
                }
                Deleted::Removed => format!("comment {id} deleted"),
            }
        }
        (None, Some(page)) => {
            let key = validate::page_key(page, site_config).map_err(invalid)?;
            let (n, _) = store.delete_page(site, &key).map_err(|e| match e {
                talkback_store::Error::NotFound => AdminError::NoPage(site.into(), key.clone()),
                other => other.into(),
            })?;
            format!("{n} comments deleted from {key}")
        }
        (None, None) => return Err(AdminError::Invalid("give --id or --page".into())),
    };
    store.flush_through(WriteSeq(u64::MAX))?;
    Ok(said)
}

/// Sets a page's title (kept from then on: later comments no longer change it) and URL (which
/// must be on one of the site's origins).
pub fn set_page_meta(
    config: &Config,
    store: &dyn CommentStore,
    site: &str,
    page: &str,
    title: Option<String>,
    url: Option<String>,
) -> Result<talkback_store::PageRecord, AdminError> {
    let site_config = config
        .site(site)
        .ok_or_else(|| AdminError::UnknownSite(site.into()))?;
    let key = validate::page_key(page, site_config).map_err(invalid)?;
    let title = validate::title(title.as_deref()).map_err(invalid)?;
    let url = validate::page_url(url.as_deref(), site_config).map_err(invalid)?;
    if let Some(url) = &url
        && !site_config
            .origins
            .iter()
            .any(|o| crate::url_origin(url).is_some_and(|u| u.eq_ignore_ascii_case(o)))
    {
        return Err(AdminError::Invalid(format!(
            "{url} is not on one of the site's origins ({})",
            site_config.origins.join(", ")
        )));
    }
    let (record, seq) = store
        .set_page_meta(site, &key, title, url)
        .map_err(|e| match e {
            talkback_store::Error::NotFound => AdminError::NoPage(site.into(), key.clone()),
            other => other.into(),
        })?;
    store.flush_through(seq)?;
    Ok(record)
}
