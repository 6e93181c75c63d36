//! Automatic backups: every `backup_interval_secs`, each site's export, gzipped, into
//! `backup_dir` as `SITE-YYYYMMDDTHHMMSSmmmZ.json.gz`, keeping the newest `backup_keep`.
//! Restoring is `talkback import --format talkback FILE.json.gz --site SITE` into an empty
//! (or the same: imports are idempotent) database.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::talkback::{self, TalkbackError};
use crate::config::Config;
use crate::service::Service;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Export(#[from] TalkbackError),
    #[error("cannot write backups in {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
}

/// Writes one backup per site now and rotates old ones; returns the new files.
pub fn run_once(
    service: &Service,
    sites: &[String],
    dir: &Path,
    keep: usize,
    now_ms: i64,
) -> Result<Vec<PathBuf>, BackupError> {
    let io = |source| BackupError::Io {
        dir: dir.display().to_string(),
        source,
    };
    // Backups hold e-mail and client addresses: readable by this user only.
    crate::private_dir(dir).map_err(io)?;
    let stamp: String = talkback_api::i18n::rfc3339(now_ms)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let stamp = format!(
        "{}{:03}Z",
        stamp.trim_end_matches('Z'),
        now_ms.rem_euclid(1000)
    );
    let mut written = Vec::new();
    for site in sites {
        let text = talkback::export(service, site)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).map_err(io)?;
        let bytes = gz.finish().map_err(io)?;
        let path = dir.join(format!("{site}-{stamp}.json.gz"));
        write_private(&path, &bytes).map_err(io)?;
        rotate(dir, site, keep).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}

/// Writes a file readable by this user only (exports hold e-mail addresses), the way that
/// survives a power cut: into a temporary file beside it, fsynced, renamed over `path`, and
/// the directory fsynced. A crash leaves the old file or the new one, never half of one.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial = write_partial(path, bytes)?;
    std::fs::rename(&partial, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    sync_parent(path)
}

/// [`write_private`] for a file that must not exist yet (`AlreadyExists` if it does): the
/// new file is linked under its name, which fails rather than replace anything.
pub fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial = write_partial(path, bytes)?;
    let linked = std::fs::hard_link(&partial, path);
    let _ = std::fs::remove_file(&partial);
    linked?;
    sync_parent(path)
}

/// `.NAME.PID.partial` beside `path`, written and fsynced.
fn write_partial(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} names no file", path.display())))?;
    let partial = path.with_file_name(format!(
        ".{}.{}.partial",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    match written {
        Ok(()) => Ok(partial),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Makes a new name in `path`'s directory durable.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

fn rotate(dir: &Path, site: &str, keep: usize) -> std::io::Result<()> {
    let prefix = format!("{site}-");
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.strip_prefix(&prefix).is_some_and(|rest| {
                    rest.ends_with(".json.gz") && rest.starts_with(|c: char| c.is_ascii_digit())
                })
            })
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep.max(1));
    for old in backups.into_iter().take(excess) {
        std::fs::remove_file(old)?;
    }
    Ok(())
}

/// Starts the periodic backup task when `backup_dir` is set.
pub(crate) fn spawn(service: Arc<Service>, config: &Config) {
    if config.backup_dir.as_os_str().is_empty() {
        return;
    }
    let dir = config.backup_dir.clone();
    let keep = config.backup_keep;
    let sites: Vec<String> = config.sites.iter().map(|s| s.id.clone()).collect();
    let period = Duration::from_secs(config.backup_interval_secs.max(60));
    actix_web::rt::spawn(async move {
        let mut ticks = actix_web::rt::time::interval(period);
        ticks.tick().await; // the first tick is immediate; the first backup comes one period after start
        loop {
            ticks.tick().await;
            let (service, sites, dir) = (Arc::clone(&service), sites.clone(), dir.clone());
            let now = crate::service::now_ms();
            match actix_web::web::block(move || run_once(&service, &sites, &dir, keep, now)).await {
                Ok(Ok(files)) => tracing::info!(count = files.len(), "backup written"),
                Ok(Err(e)) => tracing::error!(error = %e, "backup failed"),
                Err(e) => tracing::error!(error = %e, "backup task failed"),
            }
        }
    });
}
