//! A FUSE file system for durability tests that simulates a power cut. It passes every
//! operation through to a backing directory and keeps an undo log of what is not yet durable:
//! a file's data and size until that file is fsynced, a directory entry (create, mkdir, link,
//! unlink, rename, ...) until its directory is fsynced. [`Mounted::cut`] rolls the backing
//! directory back to its durable state and unmounts; a clean unmount keeps everything.

mod fs;
mod state;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fuser::{BackgroundSession, Config, MountOption, SessionACL};

use crate::state::{State, TRASH};

/// What can go wrong mounting or unmounting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backing directory is missing, or its trash cannot be prepared.
    #[error("backing directory {path}: {source}")]
    Backing { path: PathBuf, source: io::Error },
    /// FUSE refused the mount (not root? no /dev/fuse? mount point missing or busy?).
    #[error("mounting at {path}: {source}")]
    Mount { path: PathBuf, source: io::Error },
    /// Even the lazy unmount failed.
    #[error("unmounting {path}: {source}")]
    Unmount { path: PathBuf, source: io::Error },
}

/// What a cut forgot; displayed as "N bytes in F files and O namespace operations".
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CutReport {
    /// Files whose data or size went back to their last fsync.
    pub files: usize,
    /// Bytes restored or cut off in them.
    pub bytes: u64,
    /// Namespace operations undone.
    pub ops: usize,
    /// Undos that could not be applied (their precondition no longer held), and why.
    pub skipped: Vec<String>,
}

impl fmt::Display for CutReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes in {} files and {} namespace operations",
            self.bytes, self.files, self.ops
        )?;
        for skipped in &self.skipped {
            write!(f, "\n  skipped: {skipped}")?;
        }
        Ok(())
    }
}

/// What a cut would forget right now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Files written, truncated or extended since their last fsync.
    pub files: usize,
    /// Namespace operations whose directory has not been fsynced since.
    pub ops: usize,
}

/// A mounted power-cut file system. Dropping it unmounts cleanly, keeping everything.
pub struct Mounted {
    session: Option<BackgroundSession>,
    state: Arc<Mutex<State>>,
    mountpoint: PathBuf,
}

/// Mounts a power-cut view of `backing` at `mountpoint`, served by background threads;
/// returns once the mount is usable. Needs root (files are chowned to their creators).
pub fn mount(backing: &Path, mountpoint: &Path) -> Result<Mounted, Error> {
    let backing_err = |source| Error::Backing {
        path: backing.to_path_buf(),
        source,
    };
    let root = backing.canonicalize().map_err(backing_err)?;
    // A trash left by a process that died mid-test holds nothing anyone can undo any more.
    let trash = root.join(TRASH);
    if trash.exists() {
        std::fs::remove_dir_all(&trash).map_err(backing_err)?;
    }
    std::fs::create_dir(&trash).map_err(backing_err)?;
    let state = Arc::new(Mutex::new(State::new(root)));
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("powercut".into()),
        MountOption::DefaultPermissions,
    ];
    config.acl = SessionACL::All;
    let session = match fuser::spawn_mount(fs::PowerCut::new(state.clone()), mountpoint, &config) {
        Ok(session) => session,
        Err(source) => {
            let _ = std::fs::remove_dir(&trash);
            let path = mountpoint.to_path_buf();
            return Err(Error::Mount { path, source });
        }
    };
    Ok(Mounted {
        session: Some(session),
        state,
        mountpoint: mountpoint.to_path_buf(),
    })
}

impl Mounted {
    /// Cuts the power: every operation fails with EIO from now on, the backing directory
    /// goes back to its durable state, and the file system is unmounted.
    pub fn cut(mut self) -> Result<CutReport, Error> {
        let report = {
            let mut state = self.lock();
            state.dead = true;
            let report = state.rollback();
            drop_trash(&state);
            report
        };
        self.unmount_session()?;
        Ok(report)
    }

    /// Unmounts cleanly, keeping everything written.
    pub fn unmount(mut self) -> Result<(), Error> {
        self.unmount_session()
    }

    /// What a cut would forget right now.
    pub fn pending(&self) -> Pending {
        self.lock().pending()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn unmount_session(&mut self) -> Result<(), Error> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        let result = match session.umount_and_join() {
            // Processes killed before a cut may still pin the mount: detach it instead.
            Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) => self.lazy_unmount(),
            other => other,
        };
        let mut state = self.lock();
        state.dead = true;
        drop_trash(&state);
        result.map_err(|source| Error::Unmount {
            path: self.mountpoint.clone(),
            source,
        })
    }

    fn lazy_unmount(&self) -> io::Result<()> {
        let status = Command::new("fusermount3")
            .args(["-u", "-z", "--"])
            .arg(&self.mountpoint)
            .status();
        match status {
            Ok(status) if status.success() => Ok(()),
            // Without fusermount3, root can detach it directly.
            _ => nix::mount::umount2(&self.mountpoint, nix::mount::MntFlags::MNT_DETACH)
                .map_err(io::Error::from),
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        // Nothing to report to in a drop; unmount() reports errors.
        let _ = self.unmount_session();
    }
}

/// Empties the trash: after a cut or an unmount nothing in it can be needed again.
fn drop_trash(state: &State) {
    let _ = std::fs::remove_dir_all(state.root.join(TRASH));
}
