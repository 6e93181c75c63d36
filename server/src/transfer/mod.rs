//! Moving comments in and out: importers for WordPress WXR, Disqus XML, Isso's SQLite
//! database, Remark42 backups and Talkback's own format, all feeding one pipeline
//! (`pipeline`), and exports and periodic backups in Talkback's format.
//!
//! Writes go through the service's write path; reads (export, import bookkeeping) use the
//! store directly.

pub mod backup;
mod decode;
mod disqus;
mod isso;
pub mod migrate;
mod pipeline;
mod remark42;
pub mod talkback;
mod wordpress;
mod xml;

#[cfg(test)]
pub(crate) use decode::gunzip_capped;
pub use decode::{MAX_DECOMPRESSED_BYTES, gunzip_if_gzip, parse_time, read_text};
pub use pipeline::{ImportReport, SourceBody, SourceComment, SourceThread, import};

use crate::config::SiteConfig;
use crate::service::Service;

/// The formats `talkback import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Wordpress,
    Disqus,
    Isso,
    Remark42,
    Talkback,
}

/// Why an import could not run at all (per-item problems go in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Talkback(#[from] talkback::TalkbackError),
    #[error("storage: {0}")]
    Store(#[from] talkback_store::Error),
}

/// Reads `path` in `format` and imports it into `site`.
pub fn import_file(
    service: &Service,
    site: &SiteConfig,
    format: Format,
    path: &std::path::Path,
    dry_run: bool,
) -> Result<ImportReport, ImportError> {
    let read = || {
        std::fs::read(path).map_err(|source| ImportError::Read {
            path: path.display().to_string(),
            source,
        })
    };
    let mut report = ImportReport::default();
    let threads = match format {
        Format::Talkback => {
            let bytes = gunzip_if_gzip(read()?).map_err(|source| ImportError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let text = read_text(bytes).0;
            return Ok(talkback::import_talkback(service, site, &text, dry_run)?);
        }
        Format::Wordpress | Format::Disqus => {
            let (text, recoded) = read_text(read()?);
            if recoded {
                report.problem("not UTF-8: read as Windows-1252 (check names and accents)");
            }
            // The declared encoding is ignored: the bytes decide (exports often declare wrongly).
            if format == Format::Wordpress {
                wordpress::parse(&text, &mut report)
            } else {
                disqus::parse(&text, &mut report)
            }
        }
        Format::Isso => isso::parse(path, &mut report),
        Format::Remark42 => remark42::parse(&read()?, &mut report),
    };
    pipeline::import(service, site, threads, dry_run, &mut report)?;
    Ok(report)
}
