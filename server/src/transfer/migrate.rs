//! `talkback migrate-store`: everything a server keeps, moved from a store (sled, say) into an
//! empty PostgreSQL database when a blog outgrows one machine: the secrets (so identicons,
//! signed forms and links in mail already sent stay valid), accounts, bans, each configured
//! site's settings, every page and comment as stored (same ids, so links to comments in mail,
//! feeds and bookmarks still work; checked record for record, and Talkback's export of each
//! site byte for byte), readers' subscriptions with their confirmations, and the audit log.
//! Not moved: dashboard sessions (moderators sign in again), the change log (the target starts
//! its own; consumers start from its head), the spam filter's learned counts (it learns again
//! from new decisions), which subscriber was mailed about which comment, and the import
//! sources of comments deleted since (an import run again could bring those back).

use std::sync::Arc;

use talkback_store::Store;

use crate::config::Config;
use crate::service::Service;
use crate::transfer::talkback;

/// Secrets a server creates on first start (see `Service::new`).
const SECRETS: [&str; 3] = ["avatar", "form", "subscriptions"];

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot open {which}: {source}")]
    Open {
        which: &'static str,
        source: crate::StartError,
    },
    #[error("the target already holds data (change log at {0}): migrate into an empty database")]
    NotEmpty(u64),
    #[error("the target must be a PostgreSQL database (postgres://…)")]
    NotPostgres,
    #[error("storage: {0}")]
    Store(#[from] talkback_store::Error),
    #[error(transparent)]
    Export(#[from] talkback::TalkbackError),
    #[error("site {0}: the target's export differs from the source's")]
    Differs(String),
    #[error("the target kept another {0} secret")]
    Secret(&'static str),
}

/// What moved.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MigrateReport {
    pub sites: usize,
    pub pages: usize,
    pub comments: usize,
    pub accounts: usize,
    pub bans: usize,
    pub subscriptions: usize,
    pub audit_entries: usize,
    /// Bytes of Talkback's export, identical on both sides.
    pub export_bytes: usize,
}

/// Copies what `from` holds into `to` (both as `database` values: a directory or a URL), for
/// the sites `config` lists. `to` must be empty.
pub fn migrate_store(config: &Config, from: &str, to: &str) -> Result<MigrateReport, MigrateError> {
    let with = |database: &str| Config {
        database: database.into(),
        ..config.clone()
    };
    let (source_config, target_config) = (with(from), with(to));
    let crate::config::Backend::Postgres(url) = target_config.backend() else {
        return Err(MigrateError::NotPostgres);
    };
    let source = crate::open_service(&source_config).map_err(|source| MigrateError::Open {
        which: "the source",
        source,
    })?;
    let postgres =
        Arc::new(
            talkback_store_pg::PgStore::open(url, 4).map_err(|e| MigrateError::Open {
                which: "the target",
                source: crate::StartError::Store {
                    path: target_config.database_shown(),
                    source: talkback_store::Error::Backend(Box::new(e)),
                },
            })?,
        );
    let target: Arc<dyn Store> = postgres.clone();
    let head = target.last_change()?;
    if head > 0 || !target.admins()?.is_empty() {
        return Err(MigrateError::NotEmpty(head));
    }
    // Before the target's service starts, which would create secrets of its own.
    for name in SECRETS {
        let kept = source.store().secret(name, &[])?;
        if target.secret(name, &kept)? != kept {
            return Err(MigrateError::Secret(name));
        }
    }
    let mut report = MigrateReport::default();
    for admin in source.store().admins()? {
        target.put_admin(admin)?;
        report.accounts += 1;
    }
    for ban in source.store().bans()? {
        target.put_ban(ban)?;
        report.bans += 1;
    }
    let mut audit = source.store().audit_log(None, usize::MAX)?;
    audit.reverse();
    for entry in audit {
        target.append_audit(entry)?;
        report.audit_entries += 1;
    }
    let target = Service::new(target, target_config, Vec::new())?;
    for site in &config.sites {
        if let Some(settings) = source.store().site_settings(&site.id)? {
            target.store().put_site_settings(&site.id, &settings)?;
        }
        let pages = source.store().export_site(&site.id)?;
        for (page, comments) in &pages {
            postgres.restore_page(page, comments)?;
            report.pages += 1;
            report.comments += comments.len();
        }
        if target.store().export_site(&site.id)? != pages {
            return Err(MigrateError::Differs(site.id.clone()));
        }
        let text = talkback::export(&source, &site.id)?;
        if talkback::export(&target, &site.id)? != text {
            return Err(MigrateError::Differs(site.id.clone()));
        }
        report.sites += 1;
        report.export_bytes += text.len();
        report.subscriptions += copy_subscriptions(source.store(), target.store(), &site.id)?;
    }
    Ok(report)
}

/// Every subscription of every page of `site` with its id, each address's confirmation with
/// it.
fn copy_subscriptions(
    from: &dyn Store,
    to: &dyn Store,
    site: &str,
) -> Result<usize, talkback_store::Error> {
    let mut copied = 0;
    for (page, _) in from.export_site(site)? {
        let mut after: Option<String> = None;
        loop {
            let batch = from.page_subscriptions(site, &page.key, after.as_deref(), 500)?;
            let Some(last) = batch.last() else { break };
            after = Some(last.email.clone());
            for sub in batch {
                // Its id kept: the links already mailed (confirm, unsubscribe) carry it.
                let confirmed = sub.confirmed;
                to.restore_subscription(sub.clone())?;
                if confirmed && !to.address_confirmed(site, &sub.email)? {
                    to.confirm_address(site, &sub.email, sub.created)?;
                }
                copied += 1;
            }
        }
    }
    Ok(copied)
}
