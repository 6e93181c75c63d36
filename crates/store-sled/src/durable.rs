//! Durability on sled in the fsync sense, and writes kept off a full disk.
//!
//! sled 0.34 makes its log "stable" on Linux with `sync_file_range`, which writes neither the
//! file's metadata (the log grows) nor the drive's cache, and calls `sync_all` only every
//! 500 ms; blobs (values past 128 KiB) and snapshots' renames are never synced at all. So
//! [`Disk::sync`] follows sled's flush with an fsync of every new blob and of the blobs'
//! directory, then an `fdatasync` of the log, then an fsync of the database directory when
//! its listing changed (a snapshot renamed in): a write flushed through it survives a power
//! cut, not only a killed process. Blobs come first because the log points at them.
//!
//! sled also poisons itself for good after a failed write, so [`Disk::check_space`] refuses a
//! write before it starts while less than [`RESERVE_BYTES`] is free, and accepts again once
//! space comes back; what it refused is told by [`Disk::state`].

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use talkback_store::{DiskState, Error, Result};

use crate::now_ms;

/// Writes are refused while the file system holding the database has less free than this:
/// room for sled to finish what it has buffered (a few 512 KiB segments) and for a snapshot.
pub const RESERVE_BYTES: u64 = 64 * 1024 * 1024;

/// Written (durably) into the database directory once the store's format key is durable: a
/// directory holding it whose database opens empty was cut off, not new.
pub(crate) const MARKER: &str = "talkback-store";

pub(crate) struct Disk {
    /// `None` for a temporary database (tests), which has nothing to make durable.
    files: Option<Files>,
    space: Mutex<DiskState>,
}

struct Files {
    dir: PathBuf,
    log: File,
    /// What the directories held at the last sync, to fsync them only when that changed.
    listed: Mutex<Listed>,
}

#[derive(Default)]
struct Listed {
    root: BTreeSet<OsString>,
    blobs: BTreeSet<OsString>,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Backend(format!("{what} {}: {e}", path.display()).into())
}

fn listing(dir: &Path) -> Result<BTreeSet<OsString>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .map_err(|e| io("cannot list", dir, e)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(io("cannot list", dir, e)),
    }
}

/// fsync of a directory: makes the entries created, renamed or removed in it durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Disk {
    pub(crate) fn temporary() -> Self {
        Self {
            files: None,
            space: Mutex::default(),
        }
    }

    /// For the database sled opened in `dir`; makes the directory's entry durable (a database
    /// created a moment before a power cut must not vanish with its parent's entry).
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let log_path = dir.join("db");
        let log = File::open(&log_path).map_err(|e| io("cannot open", &log_path, e))?;
        // The directory and those above it, which may have been created with it: its own and
        // its parent's entries must be durable; higher ones (perhaps not ours to open, like a
        // systemd unit's private state directory) as far as we may.
        let absolute = std::path::absolute(dir).map_err(|e| io("cannot resolve", dir, e))?;
        for (n, ancestor) in absolute.ancestors().enumerate() {
            match sync_dir(ancestor) {
                Err(e) if n < 2 => return Err(io("cannot sync", ancestor, e)),
                _ => {}
            }
        }
        Ok(Self {
            files: Some(Files {
                dir: dir.to_owned(),
                log,
                listed: Mutex::default(),
            }),
            space: Mutex::default(),
        })
    }

    /// Flushes sled and makes what it wrote durable (see the module's documentation).
    pub(crate) fn sync(&self, db: &sled::Db) -> Result<()> {
        db.flush().map_err(|e| Error::Backend(Box::new(e)))?;
        let Some(files) = &self.files else {
            return Ok(());
        };
        if cfg!(feature = "unsynced-flush") {
            return Ok(());
        }
        let mut listed = files
            .listed
            .lock()
            .map_err(|_| Error::Internal("sync lock poisoned".into()))?;
        let blobs_dir = files.dir.join("blobs");
        let blobs = listing(&blobs_dir)?;
        for name in blobs.difference(&listed.blobs) {
            let path = blobs_dir.join(name);
            match File::open(&path).and_then(|f| f.sync_all()) {
                // sled removed it meanwhile (garbage): nothing left to keep.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                other => other.map_err(|e| io("cannot sync", &path, e))?,
            }
        }
        if blobs != listed.blobs {
            sync_dir(&blobs_dir).map_err(|e| io("cannot sync", &blobs_dir, e))?;
            listed.blobs = blobs;
        }
        files
            .log
            .sync_data()
            .map_err(|e| io("cannot sync", &files.dir.join("db"), e))?;
        let root = listing(&files.dir)?;
        if root != listed.root {
            sync_dir(&files.dir).map_err(|e| io("cannot sync", &files.dir, e))?;
            listed.root = root;
        }
        Ok(())
    }

    /// Refuses a write (before it starts) while the disk has less than [`RESERVE_BYTES`] free.
    pub(crate) fn check_space(&self) -> Result<()> {
        match self.probe()? {
            None => Ok(()),
            Some(reason) => {
                if let Ok(mut state) = self.space.lock() {
                    state.refused(now_ms());
                }
                Err(Error::Full(reason))
            }
        }
    }

    /// Reads the free space and notes when the disk filled up or had room again; says why
    /// writes must wait, if they must.
    fn probe(&self) -> Result<Option<String>> {
        let Some(files) = &self.files else {
            return Ok(None);
        };
        let free = fs2::available_space(&files.dir)
            .map_err(|e| io("cannot read the free space of", &files.dir, e))?;
        let mut state = self
            .space
            .lock()
            .map_err(|_| Error::Internal("disk state lock poisoned".into()))?;
        if free < RESERVE_BYTES {
            // Counted as refused by the caller that refuses; `state()` only looks.
            state.full_since.get_or_insert_with(now_ms);
            return Ok(Some(format!(
                "{} MiB free on the file system of {}, {} MiB are kept in reserve",
                free / (1024 * 1024),
                files.dir.display(),
                RESERVE_BYTES / (1024 * 1024)
            )));
        }
        state.room(now_ms());
        Ok(None)
    }

    /// What [`Disk::check_space`] saw, brought up to date.
    pub(crate) fn state(&self) -> DiskState {
        let _ = self.probe();
        self.space.lock().map(|s| s.clone()).unwrap_or_default()
    }
}
