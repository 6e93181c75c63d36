//! A site's settings in force: the config file's values, with what a moderator changed from
//! the dashboard or the command line on top. Changes are kept in the store (so every server
//! on the database agrees and they survive restarts); the file's values stay the defaults, so
//! editing the file still works for anything nobody changed by hand.

use talkback_api::ErrorCode;
use talkback_api::admin::{ModerationMode, SiteSettings};

use super::{Actor, Service, moderation::not_permitted};
use crate::config::SiteConfig;
use crate::error::{Error, Result};

/// Longest edit window a site may give readers (a week).
const MAX_EDIT_WINDOW_SECS: u64 = 7 * 24 * 3600;

/// The settings a write or read of a site obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub moderation: ModerationMode,
    pub edit_window_secs: u64,
    pub read_only: bool,
}

impl Settings {
    pub fn edit_window_ms(&self) -> i64 {
        i64::try_from(self.edit_window_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    fn wire(&self) -> SiteSettings {
        SiteSettings {
            moderation: Some(self.moderation),
            edit_window_secs: Some(self.edit_window_secs),
            read_only: Some(self.read_only),
        }
    }
}

impl Service {
    /// What `site` obeys now.
    pub fn settings(&self, site: &SiteConfig) -> Result<Settings> {
        let stored: SiteSettings = match self.store.site_settings(&site.id)? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| Error::Internal(format!("stored settings of {}: {e}", site.id)))?,
            None => SiteSettings::default(),
        };
        Ok(Settings {
            moderation: stored.moderation.unwrap_or(site.moderation),
            edit_window_secs: stored
                .edit_window_secs
                .unwrap_or(self.config.edit_window_secs),
            read_only: stored.read_only.unwrap_or(false),
        })
    }

    /// The settings of a site by id, for the dashboard.
    pub fn site_settings(&self, actor: &Actor, site: &str) -> Result<SiteSettings> {
        let config = self.moderated_site(actor, site)?;
        Ok(self.settings(config)?.wire())
    }

    /// Changes what `change` names (the rest stays) and returns the settings in force.
    pub fn change_settings(
        &self,
        actor: &Actor,
        site: &str,
        change: &SiteSettings,
    ) -> Result<SiteSettings> {
        let config = self.moderated_site(actor, site)?;
        if change
            .edit_window_secs
            .is_some_and(|s| s > MAX_EDIT_WINDOW_SECS)
        {
            return Err(Error::client(
                ErrorCode::InvalidJson,
                format!("The edit window is at most {MAX_EDIT_WINDOW_SECS} seconds (a week)."),
            ));
        }
        let mut stored: SiteSettings = match self.store.site_settings(site)? {
            Some(text) => serde_json::from_str(&text).unwrap_or_default(),
            None => SiteSettings::default(),
        };
        if change.moderation.is_some() {
            stored.moderation = change.moderation;
        }
        if change.edit_window_secs.is_some() {
            stored.edit_window_secs = change.edit_window_secs;
        }
        if change.read_only.is_some() {
            stored.read_only = change.read_only;
        }
        self.store
            .put_site_settings(site, &serde_json::to_string(&stored)?)?;
        for listener in &self.listeners {
            listener.site_changed(site);
        }
        let now = self.settings(config)?;
        self.audit_event(
            &actor.name,
            &format!(
                "settings {site}: moderation {:?}, edit window {} s, read-only {}",
                now.moderation, now.edit_window_secs, now.read_only
            ),
        )?;
        Ok(now.wire())
    }

    /// The configured site, if `actor` may moderate it.
    pub(super) fn moderated_site(&self, actor: &Actor, site: &str) -> Result<&SiteConfig> {
        let config = self.site(site)?;
        if !actor.may_see(site) {
            return Err(not_permitted());
        }
        Ok(config)
    }
}
