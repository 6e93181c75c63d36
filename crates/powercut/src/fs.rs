//! The FUSE operations: each goes straight through to the backing directory (so reads see
//! everything) and records in the undo log how to take back what is not durable yet.

use std::ffi::OsStr;
use std::fs::{self, Metadata, OpenOptions, Permissions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::fs::{PermissionsExt, lchown, symlink};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use nix::fcntl::{FallocateFlags, fallocate};
use nix::libc;
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, mknod, utimensat};
use nix::sys::time::TimeSpec;

use crate::state::{Handle, Op, ROOT, State, TRASH, read_at};

/// Nothing but this file system changes the backing directory while it is mounted.
const TTL: Duration = Duration::from_secs(1);

pub(crate) struct PowerCut {
    state: Arc<Mutex<State>>,
}

impl PowerCut {
    pub(crate) fn new(state: Arc<Mutex<State>>) -> PowerCut {
        PowerCut { state }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one operation on the state; after a cut everything fails with EIO.
    fn run<T>(&self, op: impl FnOnce(&mut State) -> io::Result<T>) -> Result<T, Errno> {
        let mut state = self.lock();
        if state.dead {
            return Err(Errno::EIO);
        }
        op(&mut state).map_err(Errno::from)
    }
}

fn errno(e: nix::errno::Errno) -> io::Error {
    e.into()
}

fn time(secs: i64, nsecs: i64) -> SystemTime {
    match u64::try_from(secs) {
        Ok(secs) => UNIX_EPOCH + Duration::new(secs, nsecs as u32),
        Err(_) => UNIX_EPOCH,
    }
}

fn attr(ino: u64, m: &Metadata) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: m.size(),
        blocks: m.blocks(),
        atime: time(m.atime(), m.atime_nsec()),
        mtime: time(m.mtime(), m.mtime_nsec()),
        ctime: time(m.ctime(), m.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind: FileType::from_std(m.file_type()).unwrap_or(FileType::RegularFile),
        perm: (m.mode() & 0o7777) as u16,
        nlink: m.nlink() as u32,
        uid: m.uid(),
        gid: m.gid(),
        rdev: m.rdev() as u32,
        blksize: m.blksize() as u32,
        flags: 0,
    }
}

/// Looks `rel` up in the backing directory and gives it a FUSE inode.
fn entry(state: &mut State, rel: &Path) -> io::Result<FileAttr> {
    let meta = fs::symlink_metadata(state.abs(rel))?;
    Ok(attr(state.intern(rel), &meta))
}

/// A new entry `name` in `parent`, made at its backing path by `make`: pending until the
/// directory is fsynced, and its creator's.
fn new_entry(
    state: &mut State,
    req: &Request,
    parent: u64,
    name: &OsStr,
    mode: Option<u32>,
    make: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<FileAttr> {
    let rel = state.child(parent, name)?;
    let path = state.abs(&rel);
    make(&path)?;
    state.record(Op::Made {
        parent,
        name: name.into(),
    });
    own(&path, req, mode)?;
    entry(state, &rel)
}

/// Gives a new entry to its creator (we create as root), then its mode (chown clears set-id bits).
fn own(path: &Path, req: &Request, mode: Option<u32>) -> io::Result<()> {
    lchown(path, Some(req.uid()), Some(req.gid()))?;
    match mode {
        Some(mode) => fs::set_permissions(path, Permissions::from_mode(mode & 0o7777)),
        None => Ok(()),
    }
}

fn handle(state: &State, fh: FileHandle) -> io::Result<Arc<Handle>> {
    state
        .files
        .get(&fh.0)
        .cloned()
        .ok_or(errno(nix::errno::Errno::EBADF))
}

fn timespec(t: Option<TimeOrNow>) -> TimeSpec {
    match t {
        None => TimeSpec::UTIME_OMIT,
        Some(TimeOrNow::Now) => TimeSpec::UTIME_NOW,
        Some(TimeOrNow::SpecificTime(t)) => {
            TimeSpec::from_duration(t.duration_since(UNIX_EPOCH).unwrap_or_default())
        }
    }
}

/// Registers an opened backing file under a new file handle.
fn open_handle(state: &mut State, file: fs::File) -> io::Result<u64> {
    let backing_ino = file.metadata()?.ino();
    let fh = state.new_fh();
    state
        .files
        .insert(fh, Arc::new(Handle { file, backing_ino }));
    Ok(fh)
}

fn reply_entry(reply: ReplyEntry, result: Result<FileAttr, Errno>) {
    match result {
        Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn reply_empty(reply: ReplyEmpty, result: Result<(), Errno>) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for PowerCut {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        reply_entry(
            reply,
            self.run(|s| {
                let rel = s.child(parent.0, name)?;
                entry(s, &rel)
            }),
        );
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let result = self.run(|s| {
            let meta = match fh.and_then(|fh| s.files.get(&fh.0)) {
                Some(h) => h.file.metadata()?,
                None => fs::symlink_metadata(s.abs(&s.path(ino.0)?))?,
            };
            Ok(attr(ino.0, &meta))
        });
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let result = self.run(|s| {
            let path = s.abs(&s.path(ino.0)?);
            if uid.is_some() || gid.is_some() {
                lchown(&path, uid, gid)?;
            }
            if let Some(mode) = mode {
                fs::set_permissions(&path, Permissions::from_mode(mode & 0o7777))?;
            }
            if let Some(size) = size {
                let h = match fh {
                    Some(fh) => handle(s, fh)?,
                    None => {
                        let file = OpenOptions::new().write(true).open(&path)?;
                        let backing_ino = file.metadata()?.ino();
                        Arc::new(Handle { file, backing_ino })
                    }
                };
                s.set_len(&h.file, h.backing_ino, size)?;
            }
            if atime.is_some() || mtime.is_some() {
                let (a, m) = (timespec(atime), timespec(mtime));
                utimensat(
                    nix::fcntl::AT_FDCWD,
                    &path,
                    &a,
                    &m,
                    UtimensatFlags::NoFollowSymlink,
                )?;
            }
            Ok(attr(ino.0, &fs::symlink_metadata(&path)?))
        });
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.run(|s| fs::read_link(s.abs(&s.path(ino.0)?))) {
            Ok(target) => reply.data(target.as_os_str().as_bytes()),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        reply_entry(
            reply,
            self.run(|s| {
                new_entry(s, req, parent.0, name, Some(mode), |path| {
                    let kind = SFlag::from_bits_truncate(mode & libc::S_IFMT);
                    Ok(mknod(
                        path,
                        kind,
                        Mode::from_bits_truncate(mode),
                        rdev.into(),
                    )?)
                })
            }),
        );
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply_entry(
            reply,
            self.run(|s| {
                new_entry(s, req, parent.0, name, Some(mode), |path| {
                    fs::DirBuilder::new().mode(mode & 0o7777).create(path)
                })
            }),
        );
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.run(|s| remove(s, parent.0, name, false)));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(reply, self.run(|s| remove(s, parent.0, name, true)));
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        reply_entry(
            reply,
            self.run(|s| {
                new_entry(s, req, parent.0, link_name, None, |path| {
                    symlink(target, path)
                })
            }),
        );
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply_empty(
            reply,
            self.run(|s| rename(s, (parent.0, name), (newparent.0, newname), flags)),
        );
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply_entry(
            reply,
            self.run(|s| {
                let (from, to) = (s.path(ino.0)?, s.child(newparent.0, newname)?);
                fs::hard_link(s.abs(&from), s.abs(&to))?;
                s.record(Op::Made {
                    parent: newparent.0,
                    name: newname.into(),
                });
                s.alias(&to, ino.0);
                entry(s, &to)
            }),
        );
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let result = self.run(|s| {
            let path = s.abs(&s.path(ino.0)?);
            let acc = flags.0 & libc::O_ACCMODE;
            let file = OpenOptions::new()
                .read(acc != libc::O_WRONLY)
                .write(acc != libc::O_RDONLY)
                .append(flags.0 & libc::O_APPEND != 0)
                .custom_flags(flags.0 & libc::O_NONBLOCK)
                .open(&path)?;
            let fh = open_handle(s, file)?;
            if flags.0 & libc::O_TRUNC != 0 {
                let h = handle(s, FileHandle(fh))?;
                s.set_len(&h.file, h.backing_ino, 0)?;
            }
            Ok(fh)
        });
        match result {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        match self.run(|s| read_at(&handle(s, fh)?.file, offset, size as usize)) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let result = self.run(|s| {
            let h = handle(s, fh)?;
            let end = offset + data.len() as u64;
            s.before_change(&h.file, h.backing_ino, offset, end)?;
            // With O_APPEND the backing file appends whatever the offset: as the caller asked.
            h.file.write_all_at(data, offset)
        });
        match result {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        reply_empty(reply, self.run(|_| Ok(())));
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().files.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let result = self.run(|s| {
            let h = handle(s, fh)?;
            s.file_synced(h.backing_ino);
            Ok(())
        });
        reply_empty(reply, result);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let result = self.run(|s| {
            let path = s.abs(&s.path(ino.0)?);
            let own = fs::metadata(&path)?.ino();
            let mut entries = vec![
                (own, FileType::Directory, ".".into()),
                (own, FileType::Directory, "..".into()),
            ];
            for e in fs::read_dir(&path)? {
                let e = e?;
                if ino.0 == ROOT && e.file_name() == TRASH {
                    continue;
                }
                let kind = FileType::from_std(e.file_type()?).unwrap_or(FileType::RegularFile);
                entries.push((e.ino(), kind, e.file_name()));
            }
            let fh = s.new_fh();
            s.dirs.insert(fh, entries);
            Ok(fh)
        });
        match result {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let state = self.lock();
        let Some(entries) = state.dirs.get(&fh.0).filter(|_| !state.dead) else {
            return reply.error(Errno::EIO);
        };
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*ino), i as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.lock().dirs.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply_empty(
            reply,
            self.run(|s| {
                s.dir_synced(ino.0);
                Ok(())
            }),
        );
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match self.run(|s| Ok(nix::sys::statvfs::statvfs(&s.root)?)) {
            Ok(v) => reply.statfs(
                v.blocks(),
                v.blocks_free(),
                v.blocks_available(),
                v.files(),
                v.files_free(),
                v.block_size() as u32,
                v.name_max() as u32,
                v.fragment_size() as u32,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let result = self.run(|s| {
            let rel = s.child(parent.0, name)?;
            let path = s.abs(&rel);
            let mut options = OpenOptions::new();
            options
                .read(true)
                .write(true)
                .append(flags & libc::O_APPEND != 0)
                .mode(mode & 0o7777);
            let fh = match options.clone().create_new(true).open(&path) {
                Ok(file) => {
                    s.record(Op::Made {
                        parent: parent.0,
                        name: name.into(),
                    });
                    own(&path, req, Some(mode))?;
                    open_handle(s, file)?
                }
                // Lost a race with another creator: without O_EXCL that is a plain open.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && flags & libc::O_EXCL == 0 => {
                    let fh = open_handle(s, options.open(&path)?)?;
                    if flags & libc::O_TRUNC != 0 {
                        let h = handle(s, FileHandle(fh))?;
                        s.set_len(&h.file, h.backing_ino, 0)?;
                    }
                    fh
                }
                Err(e) => return Err(e),
            };
            Ok((entry(s, &rel)?, fh))
        });
        match result {
            Ok((attr, fh)) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(e),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let result = self.run(|s| {
            let h = handle(s, fh)?;
            let flags = FallocateFlags::from_bits_truncate(mode);
            // Plain allocation changes no data, only (maybe) the size; shifts change all after.
            let changed_to = if flags.intersects(
                FallocateFlags::FALLOC_FL_COLLAPSE_RANGE | FallocateFlags::FALLOC_FL_INSERT_RANGE,
            ) {
                u64::MAX
            } else if flags.intersects(
                FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_ZERO_RANGE,
            ) {
                offset + length
            } else {
                offset
            };
            s.before_change(&h.file, h.backing_ino, offset, changed_to)?;
            fallocate(&h.file, flags, offset as i64, length as i64)?;
            Ok(())
        });
        reply_empty(reply, result);
    }
}

/// unlink and rmdir: the victim goes to the trash, so that a cut can bring it back.
/// (The kernel has already checked file against directory, from the attributes we gave it.)
fn remove(s: &mut State, parent: u64, name: &OsStr, dir: bool) -> io::Result<()> {
    let rel = s.child(parent, name)?;
    if dir && !is_empty_dir(&s.abs(&rel))? {
        return Err(errno(nix::errno::Errno::ENOTEMPTY));
    }
    let trash = s.discard(&rel)?;
    s.record(Op::Removed {
        parent,
        name: name.into(),
        trash,
    });
    Ok(())
}

fn is_empty_dir(path: &Path) -> io::Result<bool> {
    Ok(fs::read_dir(path)?.next().is_none())
}

/// rename: a replaced target goes to the trash first, so that a cut can bring it back.
/// (The kernel has already checked the kinds, NOREPLACE, renames into themselves and
/// renames onto the same inode.)
fn rename(
    s: &mut State,
    from: (u64, &OsStr),
    to: (u64, &OsStr),
    flags: RenameFlags,
) -> io::Result<()> {
    use nix::errno::Errno as E;
    if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
        return Err(errno(E::EINVAL));
    }
    let (src, dst) = (s.child(from.0, from.1)?, s.child(to.0, to.1)?);
    fs::symlink_metadata(s.abs(&src))?;
    let victim = match fs::symlink_metadata(s.abs(&dst)) {
        Ok(meta) if meta.is_dir() && !is_empty_dir(&s.abs(&dst))? => {
            return Err(errno(E::ENOTEMPTY));
        }
        Ok(_) => Some(s.discard(&dst)?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Err(e) = s.move_path(&src, &dst) {
        if let Some(victim) = &victim {
            let _ = s.move_path(victim, &dst);
        }
        return Err(e);
    }
    s.record(Op::Renamed {
        from: (from.0, from.1.into()),
        to: (to.0, to.1.into()),
        victim,
    });
    Ok(())
}
