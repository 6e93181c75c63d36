//! Isso's SQLite database (`threads` and `comments`): mode 1 accepted, 2 pending, 4 deleted
//! (kept as a tombstone when it has replies). Bodies are Markdown, times Unix seconds.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use talkback_store::Status;

use super::pipeline::{ImportReport, SourceBody, SourceComment, SourceThread};

pub(crate) fn parse(path: &Path, report: &mut ImportReport) -> Vec<SourceThread> {
    match read(path, report) {
        Ok(threads) => threads,
        Err(e) => {
            report.problem(format!("not a readable Isso database: {e}"));
            Vec::new()
        }
    }
}

fn read(path: &Path, report: &mut ImportReport) -> rusqlite::Result<Vec<SourceThread>> {
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut threads: Vec<(i64, SourceThread)> = db
        .prepare("SELECT id, uri, title FROM threads ORDER BY id")?
        .query_map([], |r| {
            let uri: String = r.get(1)?;
            Ok((
                r.get(0)?,
                SourceThread {
                    page: uri,
                    title: r.get(2)?,
                    url: None,
                    locked: false,
                    comments: Vec::new(),
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let index: HashMap<i64, usize> = threads
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let mut rows = db.prepare(
        "SELECT tid, id, parent, created, modified, mode, text, author, email, website, remote_addr FROM comments ORDER BY id",
    )?;
    let mut rows = rows.query([])?;
    while let Some(r) = rows.next()? {
        report.items += 1;
        let tid: i64 = r.get(0)?;
        let id = format!("isso:{}", r.get::<_, i64>(1)?);
        let seconds = |v: Option<f64>| {
            v.filter(|s| s.is_finite() && *s > 0.0)
                .map(|s| (s * 1000.0) as i64)
        };
        let Some(created) = seconds(r.get(3).ok()) else {
            report.reject(&id, "no creation time");
            continue;
        };
        let status = match r.get::<_, i64>(5)? {
            1 => Status::Approved,
            2 => Status::Pending,
            4 => Status::Deleted,
            other => {
                report.reject(&id, format!("unknown mode {other}"));
                continue;
            }
        };
        let comment = SourceComment {
            id: id.clone(),
            parent: r.get::<_, Option<i64>>(2)?.map(|p| format!("isso:{p}")),
            author: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
            email: r.get(8)?,
            website: r.get(9)?,
            body: SourceBody::Markdown(r.get::<_, Option<String>>(6)?.unwrap_or_default()),
            created,
            edited: seconds(r.get(4).ok()),
            status,
            ip: r.get(10)?,
            legacy_id: None,
            held_for: Vec::new(),
            pinned: false,
            moderator_edit: false,
        };
        match index.get(&tid) {
            Some(&i) => threads[i].1.comments.push(comment),
            None => report.reject(&id, format!("its thread {tid} does not exist")),
        }
    }
    Ok(threads
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| !t.comments.is_empty())
        .collect())
}
