//! The owner's operations on stored comments and pages (for now from the command line, on a
//! stopped server): deleting a comment or a whole thread, correcting a page's title or URL,
//! and moving threads to new page keys. Each checks its input with the API's rules and goes
//! through the one write path, so it is flushed, logged and published like a reader's write.

use talkback_store::Deleted;

use super::Service;
use crate::content::validate;

/// Why an owner's operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
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

fn invalid(e: crate::error::Error) -> OwnerError {
    OwnerError::Invalid(e.to_string())
}

impl Service {
    fn owned_site(&self, site: &str) -> Result<&crate::config::SiteConfig, OwnerError> {
        self.config
            .site(site)
            .ok_or_else(|| OwnerError::UnknownSite(site.into()))
    }

    /// Deletes comment `id` of `site` (a tombstone stays when it has replies), or every comment
    /// of `page`. Returns what happened, in words.
    pub fn delete_as_owner(
        &self,
        site: &str,
        id: Option<u64>,
        page: Option<&str>,
    ) -> Result<String, OwnerError> {
        let site_config = self.owned_site(site)?;
        let mut batch = self.batch();
        let said = match (id, page) {
            (Some(id), _) => {
                let page = self
                    .store
                    .comment(id)?
                    .and_then(|c| self.store.page_by_id(c.page_id).ok().flatten())
                    .filter(|p| p.site == site)
                    .ok_or_else(|| OwnerError::NoComment(site.into(), id))?;
                let (outcome, seq) = self.store.delete_comment(id).map_err(|e| match e {
                    talkback_store::Error::NotFound(_) => OwnerError::NoComment(site.into(), id),
                    other => other.into(),
                })?;
                batch.wrote(seq, site, &page.key);
                match outcome {
                    Deleted::Tombstone => {
                        format!("comment {id} deleted; a tombstone keeps its replies")
                    }
                    Deleted::Removed => format!("comment {id} deleted"),
                }
            }
            (None, Some(page)) => {
                let key = validate::page_key(page, site_config).map_err(invalid)?;
                let (n, seq) = self.store.delete_page(site, &key).map_err(|e| match e {
                    talkback_store::Error::NotFound(_) => {
                        OwnerError::NoPage(site.into(), key.clone())
                    }
                    other => other.into(),
                })?;
                batch.wrote(seq, site, &key);
                format!("{n} comments deleted from {key}")
            }
            (None, None) => return Err(OwnerError::Invalid("give --id or --page".into())),
        };
        batch.commit()?;
        Ok(said)
    }

    /// Sets a page's title (kept from then on: later comments no longer change it) and URL
    /// (which must be on one of the site's origins).
    pub fn set_page_meta(
        &self,
        site: &str,
        page: &str,
        title: Option<String>,
        url: Option<String>,
    ) -> Result<talkback_store::PageRecord, OwnerError> {
        let site_config = self.owned_site(site)?;
        let key = validate::page_key(page, site_config).map_err(invalid)?;
        let title = validate::title(title.as_deref()).map_err(invalid)?;
        let url = validate::page_url(url.as_deref(), site_config).map_err(invalid)?;
        if let Some(url) = &url
            && !validate::url_origin(url)
                .is_some_and(|o| site_config.has_origin(o.as_bytes(), None))
        {
            return Err(OwnerError::Invalid(format!(
                "{url} is not on one of the site's origins ({})",
                site_config.origins.join(", ")
            )));
        }
        let mut batch = self.batch();
        let (record, seq) =
            self.store
                .set_page_meta(site, &key, title, url)
                .map_err(|e| match e {
                    talkback_store::Error::NotFound(_) => {
                        OwnerError::NoPage(site.into(), key.clone())
                    }
                    other => other.into(),
                })?;
        batch.wrote(seq, site, &key);
        batch.commit()?;
        Ok(record)
    }

    /// Moves threads to new page keys (after a URL change), keeping replies and counts; each
    /// pair is a page key or URL, old then new. Returns a line per pair. A site no longer
    /// configured keeps its threads in the store, so they can still be moved (keys normalised
    /// with the default page parameters).
    pub fn move_pages(
        &self,
        site: &str,
        pairs: &[(String, String)],
    ) -> Result<Vec<String>, OwnerError> {
        let unlisted;
        let site_config = match self.config.site(site) {
            Some(s) => s,
            None => {
                unlisted = crate::config::SiteConfig::new(site, &[]);
                &unlisted
            }
        };
        let mut batch = self.batch();
        let mut said = Vec::new();
        for (from, to) in pairs {
            let (Ok(old), Ok(new)) = (
                validate::page_key(from, site_config),
                validate::page_key(to, site_config),
            ) else {
                said.push(format!("skipped {from} -> {to}: not a page key or URL"));
                continue;
            };
            match self.store.move_page(site, &old, &new) {
                Ok((n, seq)) => {
                    batch.wrote(seq, site, &old);
                    batch.wrote(seq, site, &new);
                    said.push(format!("moved {n} comments {old} -> {new}"));
                }
                Err(talkback_store::Error::NotFound(_)) => {
                    said.push(format!("skipped {old}: no comments there"));
                }
                Err(e) => return Err(e.into()),
            }
        }
        batch.commit()?;
        Ok(said)
    }
}
