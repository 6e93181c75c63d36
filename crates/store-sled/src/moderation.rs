//! The moderator's facets on sled: status changes (with the held index), listings, accounts,
//! sessions and the audit log.

use std::collections::HashMap;

use sled::transaction::Transactional;
use talkback_store::kernel::Tx;
use talkback_store::{
    Accounts, AdminRecord, AuditRecord, BanRecord, ChangeKind, CommentList, CommentQuery,
    CommentRecord, Error, Listed, Moderation, PageRecord, Reads, Result, SessionRecord, Status,
    WriteSeq,
};

use crate::codec::{decode, encode};
use crate::{
    Db, LAST_SEQ, SledStore, abort, append_site_change, approved_key, held_key, seq_of, tx_result,
};

impl Moderation for SledStore {
    fn set_status(&self, id: u64, status: Status) -> Result<(CommentRecord, WriteSeq)> {
        self.change(|w| w.set_status(id, status))
    }

    fn list_comments(&self, query: &CommentQuery) -> Result<CommentList> {
        let before = query.before.unwrap_or(u64::MAX);
        // Held comments by their index; everything else by one reverse pass over the records
        // themselves (no second lookup per comment).
        // One page of one site (a thread's feed): that page's comments by the thread index,
        // newest first, whatever the rest of the database holds.
        let one_page = match (&query.page, query.sites.as_deref()) {
            (Some(key), Some([site])) => Some(self.page(site, key)?),
            _ => None,
        };
        let records: Box<dyn Iterator<Item = Result<(u64, Option<CommentRecord>)>>> =
            if let Some(page) = one_page {
                let Some(page) = page else {
                    return Ok(CommentList {
                        items: Vec::new(),
                        next_before: None,
                    });
                };
                let mut ids: Vec<u64> = self
                    .page_comment_ids(page.id)?
                    .into_iter()
                    .map(|(_, id)| id)
                    .filter(|id| *id < before)
                    .collect();
                ids.sort_unstable_by(|a, b| b.cmp(a));
                Box::new(ids.into_iter().map(|id| Ok((id, self.load_comment(id)?))))
            } else if let (Some([site]), [Status::Approved]) =
                (query.sites.as_deref(), query.statuses.as_slice())
            {
                // A site's approved comments (feeds, recent comments): by the site's listing.
                let range =
                    crate::site_approved_key(site, 0)..crate::site_approved_key(site, before);
                Box::new(self.held.range(range).keys().rev().map(|key| {
                    let key = key.db()?;
                    let id = key
                        .len()
                        .checked_sub(8)
                        .and_then(|at| <[u8; 8]>::try_from(&key[at..]).ok())
                        .map(u64::from_be_bytes)
                        .ok_or_else(|| Error::Corrupt("bad site listing key".into()))?;
                    Ok((id, self.load_comment(id)?))
                }))
            } else if query.only_held() {
                Box::new(
                    self.held_ids_before(&query.statuses, before)
                        .map(|id| id.and_then(|id| Ok((id, self.load_comment(id)?)))),
                )
            } else {
                Box::new(
                    self.comments
                        .range(..before.to_be_bytes())
                        .rev()
                        .map(|entry| {
                            let (key, value) = entry.db()?;
                            let id = <[u8; 8]>::try_from(key.as_ref())
                                .map(u64::from_be_bytes)
                                .map_err(|_| Error::Corrupt("bad comment key".into()))?;
                            Ok((id, Some(decode(&value)?)))
                        }),
                )
            };
        let mut pages: HashMap<u64, Option<PageRecord>> = HashMap::new();
        query.collect(records.map(|entry| {
            let (id, comment) = entry?;
            let Some(comment) = comment else {
                return Ok((id, None));
            };
            let page = match pages.get(&comment.page_id) {
                Some(page) => page.clone(),
                None => {
                    let page = self.page_by_id(comment.page_id)?;
                    pages.insert(comment.page_id, page.clone());
                    page
                }
            };
            Ok((id, page.map(|page| Listed { comment, page })))
        }))
    }

    fn approved_comments_by(&self, site: &str, email: &str, name: &str) -> Result<u32> {
        let Some(key) = approved_key(site, Some(email), name) else {
            return Ok(0);
        };
        Ok(self
            .held
            .get(key)
            .db()?
            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
            .map_or(0, u32::from_be_bytes))
    }

    fn set_pinned(&self, id: u64, pinned: bool) -> Result<(CommentRecord, WriteSeq)> {
        self.change(|w| w.set_pinned(id, pinned))
    }

    fn set_locked(
        &self,
        site: &str,
        page_key: &str,
        locked: bool,
    ) -> Result<(PageRecord, WriteSeq)> {
        self.change(|w| w.set_locked(site, page_key, locked))
    }

    fn put_ban(&self, mut ban: BanRecord) -> Result<BanRecord> {
        ban.id = self.db.generate_id().db()? + 1;
        self.bans.insert(ban.id.to_be_bytes(), encode(&ban)?).db()?;
        self.disk.sync(&self.db)?;
        Ok(ban)
    }

    fn bans(&self) -> Result<Vec<BanRecord>> {
        self.bans
            .iter()
            .values()
            .map(|v| decode(&v.db()?))
            .collect()
    }

    fn remove_ban(&self, id: u64) -> Result<bool> {
        let existed = self.bans.remove(id.to_be_bytes()).db()?.is_some();
        self.disk.sync(&self.db)?;
        Ok(existed)
    }

    fn site_settings(&self, site: &str) -> Result<Option<String>> {
        self.settings
            .get(site.as_bytes())
            .db()?
            .map(|v| {
                String::from_utf8(v.to_vec()).map_err(|_| Error::Corrupt("site settings".into()))
            })
            .transpose()
    }

    fn put_site_settings(&self, site: &str, settings: &str) -> Result<()> {
        let _writer = self.writer()?;
        tx_result(
            (&self.settings, &self.changes).transaction(|(stored, changes)| {
                stored.insert(site.as_bytes(), settings.as_bytes())?;
                append_site_change(changes, site, ChangeKind::SiteChanged)
            }),
        )?;
        self.note_write();
        self.disk.sync(&self.db)?;
        Ok(())
    }
}

impl SledStore {
    /// Ids of held comments with one of `statuses` below `before`, newest first (the held
    /// index keeps one run per status; the runs are merged).
    fn held_ids_before(
        &self,
        statuses: &[Status],
        before: u64,
    ) -> impl Iterator<Item = Result<u64>> + use<> {
        let mut runs: Vec<std::iter::Peekable<Box<dyn Iterator<Item = Result<u64>>>>> = statuses
            .iter()
            .filter_map(|s| {
                let start = held_key(*s, 0)?;
                let end = held_key(*s, before)?;
                let run: Box<dyn Iterator<Item = Result<u64>>> =
                    Box::new(self.held.range(start..end).keys().rev().map(|k| {
                        let k = k.db()?;
                        k.get(1..9)
                            .and_then(|b| <[u8; 8]>::try_from(b).ok())
                            .map(u64::from_be_bytes)
                            .ok_or_else(|| Error::Corrupt("bad held key".into()))
                    }));
                Some(run.peekable())
            })
            .collect();
        std::iter::from_fn(move || {
            // The run whose next id is largest goes first; an error surfaces at once.
            let mut best: Option<(usize, u64)> = None;
            for (i, run) in runs.iter_mut().enumerate() {
                match run.peek() {
                    Some(Ok(id)) if best.is_none_or(|(_, b)| *id > b) => best = Some((i, *id)),
                    Some(Err(_)) => return run.next(),
                    _ => {}
                }
            }
            let (i, _) = best?;
            runs[i].next()
        })
    }
}

impl Accounts for SledStore {
    fn put_admin(&self, admin: AdminRecord) -> Result<()> {
        self.admins
            .insert(admin.name.as_bytes(), encode(&admin)?)
            .db()?;
        self.disk.sync(&self.db)?;
        Ok(())
    }

    fn admin(&self, name: &str) -> Result<Option<AdminRecord>> {
        self.admins
            .get(name.as_bytes())
            .db()?
            .map(|v| decode(&v))
            .transpose()
    }

    fn admins(&self) -> Result<Vec<AdminRecord>> {
        self.admins
            .iter()
            .values()
            .map(|v| decode(&v.db()?))
            .collect()
    }

    fn remove_admin(&self, name: &str) -> Result<bool> {
        let existed = self.admins.remove(name.as_bytes()).db()?.is_some();
        for entry in self.sessions.iter() {
            let (key, value) = entry.db()?;
            let session: SessionRecord = decode(&value)?;
            if session.admin == name {
                self.sessions.remove(key).db()?;
            }
        }
        self.disk.sync(&self.db)?;
        Ok(existed)
    }

    fn put_session(&self, session: SessionRecord) -> Result<()> {
        self.sessions
            .insert(session.id_hash.as_bytes(), encode(&session)?)
            .db()?;
        Ok(())
    }

    fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>> {
        self.sessions
            .get(id_hash.as_bytes())
            .db()?
            .map(|v| decode(&v))
            .transpose()
    }

    fn remove_session(&self, id_hash: &str) -> Result<()> {
        self.sessions.remove(id_hash.as_bytes()).db()?;
        self.disk.sync(&self.db)?;
        Ok(())
    }

    fn prune_sessions(&self, seen_before: i64) -> Result<usize> {
        let mut removed = 0;
        for entry in self.sessions.iter() {
            let (key, value) = entry.db()?;
            let session: SessionRecord = decode(&value)?;
            if session.seen < seen_before {
                self.sessions.remove(key).db()?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn append_audit(&self, entry: AuditRecord) -> Result<u64> {
        let seq = tx_result(self.audit.transaction(|audit| {
            let last = match audit.get(LAST_SEQ)? {
                Some(bytes) => seq_of(&bytes).map_err(abort)?,
                None => 0,
            };
            let numbered = AuditRecord {
                seq: last + 1,
                ..entry.clone()
            };
            audit.insert(LAST_SEQ, &numbered.seq.to_be_bytes())?;
            audit.insert(
                &numbered.seq.to_be_bytes(),
                encode(&numbered).map_err(abort)?,
            )?;
            Ok(numbered.seq)
        }))?;
        self.disk.sync(&self.db)?;
        Ok(seq)
    }

    fn audit_log(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditRecord>> {
        let end = before.unwrap_or(u64::MAX);
        self.audit
            .range(1u64.to_be_bytes()..end.to_be_bytes())
            .values()
            .rev()
            .take(limit)
            .map(|v| decode(&v.db()?))
            .collect()
    }
}
