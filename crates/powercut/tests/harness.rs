//! Power cuts against a real mount: each case prepares durable files in the backing directory,
//! acts through the mount, cuts the power, remounts the same backing directory and checks
//! through the mount what survived. They need root, /dev/fuse and fusermount3, so they run
//! only when TB_POWERCUT is set.
#![allow(clippy::unwrap_used)]

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use talkback_powercut::{CutReport, Mounted, Pending, mount};

const NOBODY: u32 = 65534;

/// A named change made through the mount to a file.
type Change = (&'static str, fn(&Path));

struct Rig {
    _dir: tempfile::TempDir,
    back: PathBuf,
    mnt: PathBuf,
}

/// A fresh backing directory and mount point, or None (said on stderr) without TB_POWERCUT.
fn rig(test: &str) -> Option<Rig> {
    if std::env::var_os("TB_POWERCUT").is_none() {
        eprintln!("{test}: skipped: needs TB_POWERCUT=1 with FUSE (root, /dev/fuse, fusermount3)");
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("pc")
        .tempdir_in("/tmp")
        .unwrap();
    // Other users (case 8) must reach the mount point.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let (back, mnt) = (dir.path().join("b"), dir.path().join("m"));
    fs::create_dir(&back).unwrap();
    fs::create_dir(&mnt).unwrap();
    Some(Rig {
        _dir: dir,
        back,
        mnt,
    })
}

impl Rig {
    fn mount(&self) -> Mounted {
        mount(&self.back, &self.mnt).unwrap()
    }

    /// Writes durable files straight into the backing directory (before mounting).
    fn durable(&self, files: &[(&str, &[u8])]) {
        for (rel, bytes) in files {
            let path = self.back.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        }
    }

    /// Acts through the mount, cuts the power, remounts and checks through the mount.
    fn cut(&self, act: impl FnOnce(&Path), check: impl FnOnce(&Path)) -> CutReport {
        let mounted = self.mount();
        act(&self.mnt);
        let report = mounted.cut().unwrap();
        eprintln!("{report}");
        let mounted = self.mount();
        check(&self.mnt);
        assert!(!names(&self.mnt).iter().any(|n| n.contains("powercut")));
        mounted.unmount().unwrap();
        report
    }
}

/// fsync of a file or a directory.
fn sync(path: &Path) {
    File::open(path).unwrap().sync_all().unwrap();
}

fn read(path: &Path) -> Option<Vec<u8>> {
    fs::read(path).ok()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn unsynced_data_is_lost_in_a_synced_entry() {
    let Some(rig) = rig("case 1") else { return };
    let report = rig.cut(
        |m| {
            fs::write(m.join("f"), b"hello").unwrap();
            sync(m);
        },
        |m| assert_eq!(read(&m.join("f")).unwrap(), b""),
    );
    assert_eq!((report.files, report.bytes, report.ops), (1, 5, 0));
}

#[test]
fn synced_file_in_synced_dir_survives() {
    let Some(rig) = rig("case 2") else { return };
    rig.cut(
        |m| {
            fs::create_dir(m.join("d")).unwrap();
            sync(m);
            fs::write(m.join("d/f"), b"kept").unwrap();
            sync(&m.join("d/f"));
            sync(&m.join("d"));
        },
        |m| assert_eq!(read(&m.join("d/f")).unwrap(), b"kept"),
    );
}

#[test]
fn synced_file_in_unsynced_dir_is_gone() {
    let Some(rig) = rig("case 3") else { return };
    let report = rig.cut(
        |m| {
            fs::write(m.join("f"), b"lost").unwrap();
            sync(&m.join("f"));
        },
        |m| assert!(!m.join("f").exists()),
    );
    assert_eq!((report.files, report.ops), (0, 1));
}

#[test]
fn rename_over_a_durable_file() {
    // (dir fsynced after the rename, what "db" holds after the cut)
    for (dir_synced, expected) in [(true, &b"new"[..]), (false, &b"old"[..])] {
        let Some(rig) = rig("case 4") else { return };
        rig.durable(&[("db", b"old")]);
        rig.cut(
            |m| {
                fs::write(m.join("tmp"), b"new").unwrap();
                sync(&m.join("tmp"));
                fs::rename(m.join("tmp"), m.join("db")).unwrap();
                if dir_synced {
                    sync(m);
                }
            },
            |m| {
                assert_eq!(
                    read(&m.join("db")).unwrap(),
                    expected,
                    "dir synced: {dir_synced}"
                );
                assert_eq!(names(m), ["db"]);
            },
        );
    }
}

#[test]
fn unsynced_changes_to_a_durable_file_are_undone() {
    let original = pattern(10_000);
    let changes: [Change; 4] = [
        ("overwrite and append", |f| {
            let file = OpenOptions::new().write(true).open(f).unwrap();
            file.write_all_at(&[0xff; 300], 4000).unwrap(); // across a block boundary
            let mut file = OpenOptions::new().append(true).open(f).unwrap();
            file.write_all(&[1; 5000]).unwrap();
        }),
        ("O_TRUNC then rewrite", |f| fs::write(f, b"short").unwrap()),
        ("shrink then grow", |f| {
            let mut file = OpenOptions::new().write(true).open(f).unwrap();
            file.set_len(10).unwrap();
            file.seek(SeekFrom::Start(20_000)).unwrap();
            file.write_all(b"far").unwrap();
        }),
        ("fsynced, then changed again", |f| {
            let file = OpenOptions::new().write(true).open(f).unwrap();
            file.write_all_at(b"durable", 0).unwrap();
            file.sync_data().unwrap();
            file.write_all_at(b"volatile", 0).unwrap();
            file.set_len(5).unwrap();
        }),
    ];
    for (name, change) in changes {
        let Some(rig) = rig("case 5") else { return };
        rig.durable(&[("f", &original)]);
        let mut expected = original.clone();
        if name.starts_with("fsynced") {
            expected[..7].copy_from_slice(b"durable");
        }
        let report = rig.cut(
            |m| change(&m.join("f")),
            |m| assert!(read(&m.join("f")).unwrap() == expected, "{name}"),
        );
        assert_eq!(report.files, 1, "{name}");
    }
}

#[test]
fn unsynced_unlink_and_rmdir_come_back() {
    let Some(rig) = rig("case 6") else { return };
    rig.durable(&[("a/f", b"keep"), ("a/d/g", b"inner")]);
    let report = rig.cut(
        |m| {
            fs::remove_file(m.join("a/f")).unwrap();
            fs::remove_dir_all(m.join("a/d")).unwrap();
            assert_eq!(names(&m.join("a")), Vec::<String>::new());
        },
        |m| {
            assert_eq!(read(&m.join("a/f")).unwrap(), b"keep");
            assert_eq!(read(&m.join("a/d/g")).unwrap(), b"inner");
        },
    );
    assert_eq!(report.ops, 3);
}

#[test]
fn synced_unlink_and_rmdir_stay() {
    let Some(rig) = rig("case 6b") else { return };
    rig.durable(&[("a/f", b"keep"), ("a/d/g", b"inner")]);
    rig.cut(
        |m| {
            fs::remove_file(m.join("a/f")).unwrap();
            fs::remove_file(m.join("a/d/g")).unwrap();
            sync(&m.join("a/d"));
            fs::remove_dir(m.join("a/d")).unwrap();
            sync(&m.join("a"));
        },
        |m| assert_eq!(names(&m.join("a")), Vec::<String>::new()),
    );
}

#[test]
fn unsynced_outer_dir_takes_synced_inner_dir_along() {
    let Some(rig) = rig("case 7") else { return };
    rig.cut(
        |m| {
            fs::create_dir_all(m.join("out/in")).unwrap();
            fs::write(m.join("out/in/f"), b"x").unwrap();
            fs::write(m.join("out/g"), b"y").unwrap();
            sync(&m.join("out/in/f"));
            sync(&m.join("out/in"));
        },
        |m| assert_eq!(names(m), Vec::<String>::new()),
    );
}

#[test]
fn unsynced_directory_rename_is_undone() {
    let Some(rig) = rig("case 7b") else { return };
    rig.durable(&[("d/sub/f", b"x")]);
    rig.cut(
        |m| {
            fs::rename(m.join("d"), m.join("e")).unwrap();
            fs::write(m.join("e/sub/f"), b"changed").unwrap();
            fs::rename(m.join("e/sub/f"), m.join("e/f2")).unwrap();
        },
        |m| {
            assert_eq!(names(m), ["d"]);
            assert_eq!(read(&m.join("d/sub/f")).unwrap(), b"x");
        },
    );
}

#[test]
fn new_entries_belong_to_their_creator() {
    let Some(rig) = rig("case 8") else { return };
    let mounted = rig.mount();
    let sub = rig.mnt.join("sub");
    fs::create_dir(&sub).unwrap();
    fs::set_permissions(&sub, fs::Permissions::from_mode(0o777)).unwrap();
    let as_nobody = |args: &[&str]| {
        let status = Command::new(args[0])
            .args(&args[1..])
            .current_dir(&sub)
            .uid(NOBODY)
            .gid(NOBODY)
            .status()
            .unwrap();
        assert!(status.success(), "{args:?}");
    };
    as_nobody(&["touch", "x"]);
    as_nobody(&["mkdir", "-m", "0700", "pg"]);
    as_nobody(&["touch", "pg/inside"]);
    mounted.unmount().unwrap();
    let _mounted = rig.mount();
    for (rel, mode) in [
        ("sub/x", None),
        ("sub/pg", Some(0o700)),
        ("sub/pg/inside", None),
    ] {
        let meta = fs::metadata(rig.mnt.join(rel)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY), "{rel}");
        if let Some(mode) = mode {
            assert_eq!(meta.mode() & 0o7777, mode, "{rel}");
        }
    }
}

#[test]
fn clean_unmount_keeps_everything_and_pending_counts() {
    let Some(rig) = rig("clean unmount") else {
        return;
    };
    let mounted = rig.mount();
    let f = rig.mnt.join("f");
    fs::write(&f, b"unsynced").unwrap();
    assert_eq!(mounted.pending(), Pending { files: 1, ops: 1 });
    sync(&f);
    assert_eq!(mounted.pending(), Pending { files: 0, ops: 1 });
    fs::write(rig.mnt.join("g"), b"unsynced too").unwrap();
    sync(&rig.mnt);
    assert_eq!(mounted.pending(), Pending { files: 1, ops: 0 });
    mounted.unmount().unwrap();
    let _mounted = rig.mount();
    assert_eq!(read(&f).unwrap(), b"unsynced");
    assert_eq!(read(&rig.mnt.join("g")).unwrap(), b"unsynced too");
    assert_eq!(names(&rig.mnt), ["f", "g"]);
}
