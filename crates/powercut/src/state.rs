//! The bookkeeping behind a power cut: the inode table (FUSE inode numbers to paths inside the
//! backing directory), the data undo log (blocks overwritten since each file's last fsync) and
//! the namespace undo log (entries made, removed or renamed since their directory's last fsync),
//! and the rollback that replays both logs backwards.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::CutReport;

/// Undo is kept per 4 KiB block: the unit databases write in, and cheap to save.
const BLOCK: u64 = 4096;
/// Where removed entries wait, inside the backing directory, until their removal is durable.
pub(crate) const TRASH: &str = ".powercut-trash";
/// FUSE's number for the root directory.
pub(crate) const ROOT: u64 = 1;

/// How to put one file's data back as it was at its last fsync.
struct DataUndo {
    /// Our own handle on the backing file, so the undo still works after renames and unlinks.
    file: File,
    durable_len: u64,
    /// Original bytes of the blocks below `durable_len` changed since the last fsync.
    blocks: HashMap<u64, Vec<u8>>,
}

impl DataUndo {
    /// Saves the blocks of `[start, end)` that lie below `durable_len`, unless saved already.
    fn save(&mut self, start: u64, end: u64) -> io::Result<()> {
        let end = end.min(self.durable_len);
        if start >= end {
            return Ok(());
        }
        for block in start / BLOCK..=(end - 1) / BLOCK {
            if !self.blocks.contains_key(&block) {
                let at = block * BLOCK;
                let len = BLOCK.min(self.durable_len - at) as usize;
                let bytes = read_at(&self.file, at, len)?;
                self.blocks.insert(block, bytes);
            }
        }
        Ok(())
    }

    /// Writes the saved blocks back and restores the length; returns the bytes it forgot.
    fn apply(self) -> io::Result<u64> {
        let len = self.file.metadata()?.len();
        let mut forgotten = len.saturating_sub(self.durable_len);
        for (block, bytes) in &self.blocks {
            self.file.write_all_at(bytes, block * BLOCK)?;
            forgotten += bytes.len() as u64;
        }
        self.file.set_len(self.durable_len)?;
        Ok(forgotten)
    }
}

/// Reads up to `len` bytes at `offset`, fewer only at the end of the file.
pub(crate) fn read_at(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

/// A namespace change not yet made durable by an fsync of its directory (a FUSE inode).
#[derive(Debug)]
pub(crate) enum Op {
    /// create, mknod, mkdir, symlink, link.
    Made { parent: u64, name: OsString },
    /// unlink, rmdir: the victim waits in the trash.
    Removed {
        parent: u64,
        name: OsString,
        trash: PathBuf,
    },
    /// A replaced target waits in the trash as `victim`.
    Renamed {
        from: (u64, OsString),
        to: (u64, OsString),
        victim: Option<PathBuf>,
    },
}

impl Op {
    fn involves(&self, dir: u64) -> bool {
        match self {
            Op::Made { parent, .. } | Op::Removed { parent, .. } => *parent == dir,
            Op::Renamed { from, to, .. } => from.0 == dir || to.0 == dir,
        }
    }

    fn trash(&self) -> Option<&Path> {
        match self {
            Op::Removed { trash, .. } => Some(trash),
            Op::Renamed { victim, .. } => victim.as_deref(),
            Op::Made { .. } => None,
        }
    }
}

/// An open file: the backing file and its inode number there (the data undo key).
pub(crate) struct Handle {
    pub(crate) file: File,
    pub(crate) backing_ino: u64,
}

/// Everything the file system knows, behind one lock.
pub(crate) struct State {
    /// The backing directory, absolute; table paths are relative to it.
    pub(crate) root: PathBuf,
    paths: HashMap<u64, PathBuf>,
    inos: HashMap<PathBuf, u64>,
    next_ino: u64,
    undo: HashMap<u64, DataUndo>,
    ops: Vec<Op>,
    next_trash: u64,
    pub(crate) files: HashMap<u64, std::sync::Arc<Handle>>,
    /// Open directories: a snapshot of (backing inode, kind, name) taken at opendir.
    pub(crate) dirs: HashMap<u64, Vec<(u64, fuser::FileType, OsString)>>,
    next_fh: u64,
    /// Set by a cut or an unmount: from then on every operation fails with EIO.
    pub(crate) dead: bool,
}

impl State {
    pub(crate) fn new(root: PathBuf) -> State {
        State {
            root,
            paths: HashMap::from([(ROOT, PathBuf::new())]),
            inos: HashMap::from([(PathBuf::new(), ROOT)]),
            next_ino: ROOT + 1,
            undo: HashMap::new(),
            ops: Vec::new(),
            next_trash: 0,
            files: HashMap::new(),
            dirs: HashMap::new(),
            next_fh: 1,
            dead: false,
        }
    }

    pub(crate) fn abs(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    /// The path (relative to the backing directory) of a FUSE inode.
    pub(crate) fn path(&self, ino: u64) -> io::Result<PathBuf> {
        self.paths.get(&ino).cloned().ok_or(Errno::ENOENT.into())
    }

    /// The path of `name` inside directory `parent`; the trash is invisible.
    pub(crate) fn child(&self, parent: u64, name: &std::ffi::OsStr) -> io::Result<PathBuf> {
        if parent == ROOT && name == TRASH {
            return Err(Errno::ENOENT.into());
        }
        Ok(self.path(parent)?.join(name))
    }

    /// The FUSE inode for a path, allocated on first sight.
    pub(crate) fn intern(&mut self, rel: &Path) -> u64 {
        let ino = match self.inos.get(rel) {
            Some(&ino) => ino,
            None => {
                let ino = self.next_ino;
                self.next_ino += 1;
                self.inos.insert(rel.to_path_buf(), ino);
                ino
            }
        };
        // A hard link may have been looked up under another name: remember the latest.
        self.paths.insert(ino, rel.to_path_buf());
        ino
    }

    /// A new hard link: its name leads to the FUSE inode the file already has.
    pub(crate) fn alias(&mut self, rel: &Path, ino: u64) {
        self.inos.insert(rel.to_path_buf(), ino);
    }

    pub(crate) fn new_fh(&mut self) -> u64 {
        self.next_fh += 1;
        self.next_fh
    }

    /// Renames in the backing directory and moves the inode table along (descendants too).
    pub(crate) fn move_path(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(self.abs(from), self.abs(to))?;
        if from == to {
            return Ok(());
        }
        let moved = |path: &Path| -> Option<PathBuf> {
            let rest = path.strip_prefix(from).ok()?;
            Some(match rest.as_os_str().is_empty() {
                true => to.to_path_buf(),
                false => to.join(rest),
            })
        };
        for path in self.paths.values_mut() {
            if let Some(new) = moved(path) {
                *path = new;
            }
        }
        // Whatever the table still had at the destination is stale: it was not there.
        self.inos.retain(|path, _| !path.starts_with(to));
        self.inos = std::mem::take(&mut self.inos)
            .into_iter()
            .map(|(path, ino)| (moved(&path).unwrap_or(path), ino))
            .collect();
        Ok(())
    }

    /// Moves an entry into the trash, returning where it went.
    pub(crate) fn discard(&mut self, rel: &Path) -> io::Result<PathBuf> {
        let trash = Path::new(TRASH).join(self.next_trash.to_string());
        self.next_trash += 1;
        self.move_path(rel, &trash)?;
        Ok(trash)
    }

    pub(crate) fn record(&mut self, op: Op) {
        self.ops.push(op);
    }

    /// Starts (if needed) the data undo of the file behind `handle`.
    fn undo_of(&mut self, file: &File, backing_ino: u64) -> io::Result<&mut DataUndo> {
        Ok(match self.undo.entry(backing_ino) {
            Entry::Occupied(undo) => undo.into_mut(),
            Entry::Vacant(slot) => {
                // Reopening through /proc gives a read-write handle whatever the caller's mode.
                let own = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
                let durable_len = own.metadata()?.len();
                slot.insert(DataUndo {
                    file: own,
                    durable_len,
                    blocks: HashMap::new(),
                })
            }
        })
    }

    /// Saves what a change to `[start, end)` of the file is about to overwrite.
    pub(crate) fn before_change(
        &mut self,
        file: &File,
        backing_ino: u64,
        start: u64,
        end: u64,
    ) -> io::Result<()> {
        self.undo_of(file, backing_ino)?.save(start, end)
    }

    /// Truncates (or extends) a file, saving the blocks a shrink cuts off.
    pub(crate) fn set_len(&mut self, file: &File, backing_ino: u64, size: u64) -> io::Result<()> {
        self.before_change(file, backing_ino, size, u64::MAX)?;
        file.set_len(size)
    }

    /// fsync or fdatasync of a file: its data and size are durable now.
    pub(crate) fn file_synced(&mut self, backing_ino: u64) {
        self.undo.remove(&backing_ino);
    }

    /// fsync of a directory: every pending change of its entries is durable now.
    pub(crate) fn dir_synced(&mut self, dir: u64) {
        let (durable, pending) = std::mem::take(&mut self.ops)
            .into_iter()
            .partition::<Vec<_>, _>(|op| op.involves(dir));
        self.ops = pending;
        for op in durable {
            if let Some(trash) = op.trash() {
                // Failing to reclaim space is harmless: the whole trash goes at unmount.
                let _ = remove_any(&self.abs(trash));
            }
        }
    }

    /// Counts of volatile files and namespace operations.
    pub(crate) fn pending(&self) -> crate::Pending {
        crate::Pending {
            files: self.undo.len(),
            ops: self.ops.len(),
        }
    }

    /// Forgets everything volatile: data first (through our own handles), then the
    /// namespace changes newest first, skipping any whose precondition no longer holds.
    pub(crate) fn rollback(&mut self) -> CutReport {
        let mut report = CutReport::default();
        for (backing_ino, undo) in std::mem::take(&mut self.undo) {
            let changed = !undo.blocks.is_empty();
            match undo.apply() {
                Ok(0) if !changed => {}
                Ok(bytes) => {
                    report.files += 1;
                    report.bytes += bytes;
                }
                Err(e) => report
                    .skipped
                    .push(format!("data of backing inode {backing_ino}: {e}")),
            }
        }
        while let Some(op) = self.ops.pop() {
            match self.undo_op(&op) {
                Ok(()) => report.ops += 1,
                Err(e) => report.skipped.push(format!("{op:?}: {e}")),
            }
        }
        report
    }

    fn undo_op(&mut self, op: &Op) -> io::Result<()> {
        match op {
            Op::Made { parent, name } => {
                let made = self.child(*parent, name)?;
                self.discard(&made).map(drop)
            }
            Op::Removed {
                parent,
                name,
                trash,
            } => {
                let back = self.child(*parent, name)?;
                self.vacant(&back)?;
                self.move_path(trash, &back)
            }
            Op::Renamed { from, to, victim } => {
                let (now, back) = (self.child(to.0, &to.1)?, self.child(from.0, &from.1)?);
                self.vacant(&back)?;
                self.move_path(&now, &back)?;
                match victim {
                    Some(victim) => self.move_path(victim, &now),
                    None => Ok(()),
                }
            }
        }
    }

    /// Fails with EEXIST when something is at `rel`: an undo never overwrites.
    fn vacant(&self, rel: &Path) -> io::Result<()> {
        match fs::symlink_metadata(self.abs(rel)) {
            Ok(_) => Err(Errno::EEXIST.into()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Removes a file, a symlink or a whole directory tree.
pub(crate) fn remove_any(path: &Path) -> io::Result<()> {
    if fs::symlink_metadata(path)?.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}
