//! The storage rules, written once: what a new comment, an edit, a deletion, a status change,
//! a pin, a lock and the owner's page operations do to records and counts, over the few
//! primitives of one write transaction ([`Tx`]) that each backend implements.
//!
//! A backend runs each rule inside one of its transactions and keeps its own indexes (which
//! comments a page, a parent, a status or a pin lists) behind `put_*` and `remove_*`; the rule
//! keeps what readers see as counts (a page's totals, a parent's replies, an author's approved
//! comments) and appends the one [`Change`](crate::Change) of the write.

use crate::{
    ChangeKind, CommentRecord, Deleted, Edit, Error, NewComment, PageRecord, ParentProblem, Result,
    Status, SubscriptionRecord, author_identity,
};

/// One write transaction of a backend: the primitives the rules are written against. Reads see
/// this transaction's own writes (except [`Tx::page_comments`]), and every write lands or
/// none does.
pub trait Tx {
    /// A comment (tombstones included).
    fn comment(&mut self, id: u64) -> Result<Option<CommentRecord>>;
    /// A page by its key.
    fn page(&mut self, site: &str, key: &str) -> Result<Option<PageRecord>>;
    /// A page by its id.
    fn page_by_id(&mut self, id: u64) -> Result<Option<PageRecord>>;
    /// Every comment of a page as stored when the transaction began (rules ask before they
    /// change any of them).
    fn page_comments(&mut self, page_id: u64) -> Result<Vec<CommentRecord>>;
    /// Whether an import already brought the comment found at `source` on `site`.
    fn source_seen(&mut self, site: &str, source: &str) -> Result<bool>;
    /// A fresh comment id, above every one given out.
    fn next_comment_id(&mut self) -> Result<u64>;
    /// A fresh page id, above every one given out.
    fn next_page_id(&mut self) -> Result<u64>;
    /// Stores a page, new or changed (its key may change: a page moved).
    fn put_page(&mut self, page: &PageRecord) -> Result<()>;
    fn remove_page(&mut self, page: &PageRecord) -> Result<()>;
    /// Stores a comment of `site`, new or changed, with the backend's indexes of it.
    fn put_comment(&mut self, site: &str, rec: &CommentRecord) -> Result<()>;
    /// Removes a comment of `site` and the backend's indexes of it.
    fn remove_comment(&mut self, site: &str, rec: &CommentRecord) -> Result<()>;
    /// Remembers that an import brought `comment` from `source` (kept after the comment goes).
    fn add_source(&mut self, site: &str, source: &str, comment: u64) -> Result<()>;
    /// Adds `delta` to the approved comments of the author (`email` and `name` lowercase) on
    /// `site`; a count that reaches 0 leaves nothing stored.
    fn count_author(&mut self, site: &str, email: &str, name: &str, delta: i32) -> Result<()>;
    /// Appends the write's one change (the page key empty for a whole site).
    fn append(
        &mut self,
        site: &str,
        page_key: &str,
        comment: Option<u64>,
        kind: ChangeKind,
    ) -> Result<()>;
    /// Reads ahead, in one go, what [`Tx::insert_comment`] will ask about `new` (its source,
    /// page, parent and the parent's top-level comment), for a backend whose reads are round
    /// trips.
    fn prefetch_insert(&mut self, new: &NewComment) -> Result<()> {
        let _ = new;
        Ok(())
    }

    /// Stores a new comment, creating its page on first use: the parent must exist, be visible,
    /// be on the same page and leave room below the depth cap; the page's, the parent's and
    /// the top-level comment's counts follow. [`Error::Locked`] on a locked thread, unless it
    /// comes from an import; [`Error::Conflict`] for an import source seen before.
    fn insert_comment(&mut self, new: &NewComment) -> Result<CommentRecord> {
        self.prefetch_insert(new)?;
        if let Some(source) = &new.source
            && self.source_seen(&new.site, source)?
        {
            return Err(Error::Conflict);
        }
        let mut page = match self.page(&new.site, &new.page_key)? {
            Some(page) => page,
            None => PageRecord {
                id: self.next_page_id()?,
                site: new.site.clone(),
                key: new.page_key.clone(),
                title: None,
                url: None,
                count: 0,
                created: new.created,
                comments: 0,
                title_by_owner: false,
                url_by_owner: false,
                locked: false,
            },
        };
        // Checked here too, so a lock racing a reader's post always wins.
        if page.locked && new.source.is_none() {
            return Err(Error::Locked);
        }
        page.learn_from(new);
        if new.status == Status::Approved {
            page.count += 1;
        }
        page.comments += 1;
        let id = self.next_comment_id()?;
        let (depth, root) = match new.parent {
            None => (0, None),
            Some(parent) => {
                let (depth, root) = self.attach_reply(&page, parent, new.max_depth)?;
                (depth, Some(root))
            }
        };
        let record = CommentRecord {
            id,
            page_id: page.id,
            parent: new.parent,
            depth,
            author: new.author.clone(),
            email: new.email.clone(),
            website: new.website.clone(),
            body_source: new.body_source.clone(),
            body_tree: new.body_tree.clone(),
            created: new.created,
            edited: new.edited,
            status: new.status,
            edit_key_hash: new.edit_key_hash.clone(),
            children: 0,
            root,
            descendants: 0,
            source: new.source.clone(),
            ip: new.ip.clone(),
            held_for: new.held_for.clone(),
            pinned: new.pinned && new.parent.is_none(),
            moderator_edit: new.moderator_edit,
        };
        self.put_page(&page)?;
        self.put_comment(&page.site, &record)?;
        if let Some(source) = &record.source {
            self.add_source(&page.site, source, id)?;
        }
        self.count_approval(&page.site, &record, None, Some(record.status))?;
        self.append(
            &page.site,
            &page.key,
            Some(id),
            ChangeKind::Created {
                status: record.status,
                parent: record.parent,
                imported: record.source.is_some(),
            },
        )?;
        Ok(record)
    }

    /// Replaces a comment's body (and, with a new status, its status, counts following);
    /// `NotFound` for tombstones.
    fn edit_comment(&mut self, id: u64, edit: &Edit) -> Result<CommentRecord> {
        let mut rec = self.live_comment(id)?;
        let was = rec.status;
        rec.body_source.clone_from(&edit.body_source);
        rec.body_tree.clone_from(&edit.body_tree);
        rec.edited = Some(edit.edited_at);
        rec.moderator_edit = edit.by_moderator;
        let mut page = self.page_of_comment(&rec)?;
        if let Some(status) = edit.status.filter(|s| *s != rec.status) {
            self.recount(&mut page, &rec, status)?;
            rec.status = status;
            if let Some(reasons) = &edit.held_for {
                rec.held_for.clone_from(reasons);
            }
            self.put_page(&page)?;
        }
        self.put_comment(&page.site, &rec)?;
        let kind = ChangeKind::Edited {
            status: rec.status,
            was,
        };
        self.append(&page.site, &page.key, Some(id), kind)?;
        Ok(rec)
    }

    /// Approves a comment, marks it spam or sends it back to pending, counts following; does
    /// nothing (appends nothing) when the status is already that. `NotFound` for tombstones.
    fn set_status(&mut self, id: u64, status: Status) -> Result<CommentRecord> {
        if !matches!(status, Status::Approved | Status::Pending | Status::Spam) {
            return Err(Error::Internal(format!(
                "set_status cannot set {status:?}; delete the comment instead"
            )));
        }
        let mut rec = self.live_comment(id)?;
        let was = rec.status;
        if was == status {
            return Ok(rec);
        }
        let mut page = self.page_of_comment(&rec)?;
        self.recount(&mut page, &rec, status)?;
        if status == Status::Approved {
            rec.held_for.clear();
        }
        rec.status = status;
        self.put_page(&page)?;
        self.put_comment(&page.site, &rec)?;
        let kind = ChangeKind::StatusChanged { status, was };
        self.append(&page.site, &page.key, Some(id), kind)?;
        Ok(rec)
    }

    /// Pins a top-level comment to the top of its thread or unpins it (nothing appended when
    /// it already is).
    fn set_pinned(&mut self, id: u64, pinned: bool) -> Result<CommentRecord> {
        let mut rec = self.live_comment(id)?;
        if rec.parent.is_some() && pinned {
            return Err(Error::Internal(
                "only top-level comments can be pinned".into(),
            ));
        }
        if rec.pinned == pinned {
            return Ok(rec);
        }
        rec.pinned = pinned;
        let page = self.page_of_comment(&rec)?;
        self.put_comment(&page.site, &rec)?;
        let kind = ChangeKind::Pinned { pinned };
        self.append(&page.site, &page.key, Some(id), kind)?;
        Ok(rec)
    }

    /// Deletes a comment: one with replies stays as a tombstone (nothing of its author kept);
    /// one without goes, with every tombstone above it left without replies, and a page left
    /// without comments goes too.
    fn delete_comment(&mut self, id: u64) -> Result<Deleted> {
        let mut rec = self.live_comment(id)?;
        let mut page = self.page_of_comment(&rec)?;
        if rec.status == Status::Approved {
            page.count = page.count.saturating_sub(1);
        }
        self.count_approval(&page.site, &rec, Some(rec.status), None)?;
        if rec.children > 0 {
            rec.status = Status::Deleted;
            rec.pinned = false;
            rec.author.clear();
            rec.email = None;
            rec.website = None;
            rec.body_source.clear();
            rec.body_tree = "[]".into();
            rec.edit_key_hash = None;
            rec.ip = None;
            rec.held_for.clear();
            self.put_comment(&page.site, &rec)?;
            self.put_page(&page)?;
            let kind = ChangeKind::Deleted { tombstone: true };
            self.append(&page.site, &page.key, Some(id), kind)?;
            return Ok(Deleted::Tombstone);
        }
        let root = rec.root;
        let mut removed_replies = 0u32;
        let mut root_removed = false;
        let mut current = rec;
        loop {
            self.remove_comment(&page.site, &current)?;
            if current.root.is_some() {
                removed_replies += 1;
            } else {
                root_removed = true;
            }
            page.comments = page.comments.saturating_sub(1);
            let Some(parent_id) = current.parent else {
                break;
            };
            let Some(mut parent) = self.comment(parent_id)? else {
                break;
            };
            parent.children = parent.children.saturating_sub(1);
            if parent.status == Status::Deleted && parent.children == 0 {
                current = parent;
                continue;
            }
            self.put_comment(&page.site, &parent)?;
            break;
        }
        if let Some(root) = root.filter(|_| !root_removed)
            && let Some(mut top) = self.comment(root)?
        {
            top.descendants = top.descendants.saturating_sub(removed_replies);
            self.put_comment(&page.site, &top)?;
        }
        if page.comments == 0 {
            self.remove_page(&page)?;
        } else {
            self.put_page(&page)?;
        }
        let kind = ChangeKind::Deleted { tombstone: false };
        self.append(&page.site, &page.key, Some(id), kind)?;
        Ok(Deleted::Removed)
    }

    /// Locks a thread (readers may no longer comment) or unlocks it.
    fn set_locked(&mut self, site: &str, key: &str, locked: bool) -> Result<PageRecord> {
        let mut page = self.existing_page(site, key)?;
        page.locked = locked;
        self.put_page(&page)?;
        self.append(&page.site, &page.key, None, ChangeKind::PageUpdated)?;
        Ok(page)
    }

    /// Corrects a page's title (kept from then on) and URL.
    fn set_page_meta(
        &mut self,
        site: &str,
        key: &str,
        title: Option<String>,
        url: Option<String>,
    ) -> Result<PageRecord> {
        let mut page = self.existing_page(site, key)?;
        page.set_by_owner(title, url);
        self.put_page(&page)?;
        self.append(&page.site, &page.key, None, ChangeKind::PageUpdated)?;
        Ok(page)
    }

    /// Deletes a page's whole thread; returns how many comments went.
    fn delete_page(&mut self, site: &str, key: &str) -> Result<usize> {
        let page = self.existing_page(site, key)?;
        let comments = self.page_comments(page.id)?;
        for rec in &comments {
            self.count_approval(&page.site, rec, Some(rec.status), None)?;
            self.remove_comment(&page.site, rec)?;
        }
        self.remove_page(&page)?;
        let kind = ChangeKind::PageDeleted {
            comments: page.comments,
        };
        self.append(&page.site, &page.key, None, kind)?;
        Ok(comments.len())
    }

    /// Moves every comment of page `from` to page `to` (created if needed, merged if it
    /// exists), keeping replies and counts; returns how many comments moved.
    fn move_page(&mut self, site: &str, from: &str, to: &str) -> Result<usize> {
        let source = self.existing_page(site, from)?;
        if from == to {
            return Ok(0);
        }
        let kind = ChangeKind::PageMoved {
            to: to.to_owned(),
            comments: source.comments,
        };
        self.append(&source.site, &source.key, None, kind)?;
        let moving = self.page_comments(source.id)?;
        let Some(mut target) = self.page(site, to)? else {
            // No thread there yet: the page simply changes its key.
            let mut renamed = source;
            renamed.key = to.to_owned();
            self.put_page(&renamed)?;
            return Ok(moving.len());
        };
        for mut rec in moving.iter().cloned() {
            rec.page_id = target.id;
            self.put_comment(site, &rec)?;
        }
        target.count += source.count;
        target.comments += source.comments;
        target.title = target.title.or_else(|| source.title.clone());
        self.put_page(&target)?;
        self.remove_page(&source)?;
        Ok(moving.len())
    }

    /// A comment that is not a tombstone (`NotFound` otherwise).
    fn live_comment(&mut self, id: u64) -> Result<CommentRecord> {
        match self.comment(id)? {
            Some(rec) if rec.status != Status::Deleted => Ok(rec),
            _ => Err(Error::comment_not_found(id)),
        }
    }

    /// The page of a stored comment (it must be there).
    fn page_of_comment(&mut self, rec: &CommentRecord) -> Result<PageRecord> {
        self.page_by_id(rec.page_id)?
            .ok_or_else(|| Error::Corrupt(format!("page {} missing", rec.page_id)))
    }

    /// A page by its key (`NotFound` otherwise).
    fn existing_page(&mut self, site: &str, key: &str) -> Result<PageRecord> {
        self.page(site, key)?
            .ok_or_else(|| Error::page_not_found(site, key))
    }

    /// Counts a comment's status change to `now` on its page and its author.
    fn recount(&mut self, page: &mut PageRecord, rec: &CommentRecord, now: Status) -> Result<()> {
        if rec.status == Status::Approved {
            page.count = page.count.saturating_sub(1);
        }
        if now == Status::Approved {
            page.count += 1;
        }
        self.count_approval(&page.site, rec, Some(rec.status), Some(now))
    }

    /// Counts a status change from `was` to `now` (`None`: not stored) in the author's
    /// approved comments on `site`.
    fn count_approval(
        &mut self,
        site: &str,
        rec: &CommentRecord,
        was: Option<Status>,
        now: Option<Status>,
    ) -> Result<()> {
        let (before, after) = (was == Some(Status::Approved), now == Some(Status::Approved));
        if before == after {
            return Ok(());
        }
        let Some((email, name)) = author_identity(rec.email.as_deref(), &rec.author) else {
            return Ok(());
        };
        self.count_author(site, &email, &name, if after { 1 } else { -1 })
    }

    /// Checks a reply's parent and counts the reply on it (and on its top-level comment);
    /// returns the reply's depth and top-level comment.
    fn attach_reply(
        &mut self,
        page: &PageRecord,
        parent_id: u64,
        max_depth: u32,
    ) -> Result<(u32, u64)> {
        let Some(mut parent) = self.comment(parent_id)? else {
            return Err(Error::Parent(ParentProblem::Missing));
        };
        if parent.page_id != page.id {
            return Err(Error::Parent(ParentProblem::OtherPage));
        }
        if !parent.is_visible() {
            return Err(Error::Parent(ParentProblem::Missing));
        }
        if parent.depth + 1 > max_depth {
            return Err(Error::Parent(ParentProblem::TooDeep));
        }
        parent.children += 1;
        let root = parent.root.unwrap_or(parent_id);
        if root == parent_id {
            parent.descendants += 1;
        }
        self.put_comment(&page.site, &parent)?;
        if root != parent_id {
            let Some(mut top) = self.comment(root)? else {
                return Err(Error::Corrupt(format!("top-level comment {root} missing")));
            };
            top.descendants += 1;
            self.put_comment(&page.site, &top)?;
        }
        Ok((parent.depth + 1, root))
    }
}

/// Comments read per step when a rule filters what a backend reads (thread pages, replies).
pub const BATCH: usize = 200;

/// A consistent view of the threads (one snapshot where the backend has them): the primitives
/// the read rules are written against.
pub trait View {
    /// A page by its key.
    fn page(&mut self, site: &str, key: &str) -> Result<Option<PageRecord>>;
    /// A comment (tombstones included).
    fn comment(&mut self, id: u64) -> Result<Option<CommentRecord>>;
    /// The pinned top-level comments of a page, any status, by id.
    fn pinned(&mut self, page_id: u64) -> Result<Vec<CommentRecord>>;
    /// Up to `limit` top-level comments of a page that are not pinned, any status, after the
    /// cursor in `order`.
    fn top_level(
        &mut self,
        page_id: u64,
        order: crate::Order,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<CommentRecord>>;
    /// Up to `limit` replies (any status) under the top-level comment `top` with ids above
    /// `after`, by id; `true` with them when none follows.
    fn replies(
        &mut self,
        top: &CommentRecord,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<CommentRecord>, bool)>;
    /// Reads ahead, in one go, the first `each` replies under each of `tops`, for a backend
    /// whose reads are round trips.
    fn prefetch_replies(&mut self, tops: &[&CommentRecord], each: usize) -> Result<()> {
        let _ = (tops, each);
        Ok(())
    }

    /// One page of a thread (see [`ThreadPage`](crate::ThreadPage)): pinned comments open the
    /// first page; paging skips them.
    fn thread_page(
        &mut self,
        site: &str,
        key: &str,
        order: crate::Order,
        limit: usize,
        after: Option<u64>,
        replies_each: usize,
    ) -> Result<crate::ThreadPage> {
        let Some(page) = self.page(site, key)? else {
            return Ok(crate::ThreadPage {
                page: None,
                top_level: vec![],
                replies: vec![],
                more_replies: vec![],
                next_after: None,
            });
        };
        let mut top_level = Vec::new();
        if after.is_none() {
            let pinned = self.pinned(page.id)?;
            top_level.extend(pinned.into_iter().filter(CommentRecord::in_thread));
        }
        let mut rest = Vec::with_capacity(limit + 1);
        let mut cursor = after;
        'read: loop {
            let batch = self.top_level(page.id, order, cursor, BATCH)?;
            let full = batch.len() == BATCH;
            for rec in batch {
                cursor = Some(rec.id);
                if rec.in_thread() {
                    rest.push(rec);
                    if rest.len() > limit {
                        break 'read;
                    }
                }
            }
            if !full {
                break;
            }
        }
        let next_after = if rest.len() > limit {
            rest.truncate(limit);
            rest.last().map(|c| c.id)
        } else {
            None
        };
        top_level.append(&mut rest);
        let with_replies: Vec<&CommentRecord> =
            top_level.iter().filter(|c| c.descendants > 0).collect();
        self.prefetch_replies(&with_replies, replies_each)?;
        let mut replies = Vec::new();
        let mut more_replies = Vec::new();
        for top in with_replies {
            let run = self.replies_after(top, 0, 0, replies_each)?;
            replies.extend(run.replies);
            more_replies.extend(run.more);
        }
        replies.sort_by_key(|c| c.id);
        Ok(crate::ThreadPage {
            page: Some(page),
            top_level,
            replies,
            more_replies,
            next_after,
        })
    }

    /// The next replies under the top-level comment `root` of a page (none for a comment that
    /// is not a top-level one of that page's thread).
    fn replies_page(
        &mut self,
        site: &str,
        key: &str,
        root: u64,
        after: u64,
        seen: u32,
        limit: usize,
    ) -> Result<crate::RepliesPage> {
        let empty = crate::RepliesPage {
            replies: vec![],
            more: None,
        };
        let Some(page) = self.page(site, key)? else {
            return Ok(empty);
        };
        match self.comment(root)? {
            Some(top) if top.page_id == page.id && top.parent.is_none() && top.in_thread() => {
                self.replies_after(&top, after, seen, limit)
            }
            _ => Ok(empty),
        }
    }

    /// Up to `limit` replies in the thread under `top` after the cursor (`after`, with `seen`
    /// replies before it), read in batches as the page fills.
    fn replies_after(
        &mut self,
        top: &CommentRecord,
        after: u64,
        seen: u32,
        limit: usize,
    ) -> Result<crate::RepliesPage> {
        let mut batch = std::collections::VecDeque::new();
        let (mut last, mut complete) = (after, false);
        let stored = std::iter::from_fn(|| {
            if batch.is_empty() && !complete {
                match self.replies(top, last, BATCH) {
                    Ok((records, done)) => {
                        complete = done;
                        batch.extend(records);
                    }
                    Err(e) => return Some(Err(e)),
                }
            }
            let record = batch.pop_front()?;
            last = record.id;
            Some(Ok((record.id, Some(record))))
        });
        crate::RepliesPage::collect(top, after, seen, limit, stored)
    }
}

/// One write transaction over readers' subscriptions: the primitives the subscription rules
/// are written against. Reads see this transaction's own writes.
pub trait SubscriptionTx {
    fn subscription(&mut self, id: u64) -> Result<Option<SubscriptionRecord>>;
    /// The subscription of `email` to a page.
    fn subscription_of(
        &mut self,
        site: &str,
        page_key: &str,
        email: &str,
    ) -> Result<Option<SubscriptionRecord>>;
    /// Every subscription of `email` on `site`.
    fn address_subscriptions(&mut self, site: &str, email: &str)
    -> Result<Vec<SubscriptionRecord>>;
    /// Every subscription to a page.
    fn page_subscriptions(&mut self, site: &str, page_key: &str)
    -> Result<Vec<SubscriptionRecord>>;
    fn address_confirmed(&mut self, site: &str, email: &str) -> Result<bool>;
    /// A fresh subscription id, above every one given out.
    fn next_subscription_id(&mut self) -> Result<u64>;
    /// Gives out later ids above `id`.
    fn ids_above(&mut self, id: u64) -> Result<()>;
    /// Stores a subscription, new or changed (its page may change: a thread moved).
    fn put_subscription(&mut self, sub: &SubscriptionRecord) -> Result<()>;
    /// Removes a subscription and what it was mailed.
    fn remove_subscription(&mut self, sub: &SubscriptionRecord) -> Result<()>;
    /// Remembers that `email` confirmed on `site` at `at`, or (`None`) forgets it.
    fn set_confirmed(&mut self, site: &str, email: &str, at: Option<i64>) -> Result<()>;

    /// Records a reader's wish (see [`Subscriptions::subscribe`](crate::Subscriptions)).
    fn subscribe(&mut self, wish: &SubscriptionRecord) -> Result<SubscriptionRecord> {
        let confirmed = self.address_confirmed(&wish.site, &wish.email)?;
        let stored = match self.subscription_of(&wish.site, &wish.page_key, &wish.email)? {
            Some(mut existing) => {
                existing.widen(wish, confirmed);
                existing
            }
            None => SubscriptionRecord {
                id: self.next_subscription_id()?,
                confirmed,
                asked: None,
                ..wish.clone()
            },
        };
        self.put_subscription(&stored)?;
        Ok(stored)
    }

    /// Stores a subscription as another store had it, its id kept; `Conflict` when the id, or
    /// the subscription of that address to that page, is taken.
    fn restore_subscription(&mut self, sub: &SubscriptionRecord) -> Result<()> {
        if self.subscription(sub.id)?.is_some()
            || self
                .subscription_of(&sub.site, &sub.page_key, &sub.email)?
                .is_some()
        {
            return Err(Error::Conflict);
        }
        self.ids_above(sub.id)?;
        self.put_subscription(sub)
    }

    /// Notes that a confirmation request was mailed for subscription `id` at `at`.
    fn set_asked(&mut self, id: u64, at: i64) -> Result<()> {
        if let Some(mut sub) = self.subscription(id)? {
            sub.asked = Some(at);
            self.put_subscription(&sub)?;
        }
        Ok(())
    }

    /// Remembers that `email` confirmed on `site` and confirms each of its subscriptions there;
    /// returns how many were newly confirmed.
    fn confirm_address(&mut self, site: &str, email: &str, at: i64) -> Result<usize> {
        self.set_confirmed(site, email, Some(at))?;
        let mut newly = 0;
        for mut sub in self.address_subscriptions(site, email)? {
            if !sub.confirmed {
                sub.confirmed = true;
                self.put_subscription(&sub)?;
                newly += 1;
            }
        }
        Ok(newly)
    }

    /// Ends one subscription; false when there was none.
    fn unsubscribe(&mut self, id: u64) -> Result<bool> {
        let Some(sub) = self.subscription(id)? else {
            return Ok(false);
        };
        self.remove_subscription(&sub)?;
        Ok(true)
    }

    /// Ends every subscription of `email` on `site` and forgets its confirmation.
    fn forget_address(&mut self, site: &str, email: &str) -> Result<usize> {
        let gone = self.address_subscriptions(site, email)?;
        for sub in &gone {
            self.remove_subscription(sub)?;
        }
        self.set_confirmed(site, email, None)?;
        Ok(gone.len())
    }

    /// Moves a page's subscriptions with its thread: the same ids, so links in mails already
    /// sent still work; an address subscribed on both keeps one subscription, the wider scope.
    fn move_subscriptions(&mut self, site: &str, from: &str, to: &str) -> Result<usize> {
        if from == to {
            return Ok(0);
        }
        let moving = self.page_subscriptions(site, from)?;
        for sub in &moving {
            match self.subscription_of(site, to, &sub.email)? {
                Some(mut merged) => {
                    merged.absorb(sub);
                    self.put_subscription(&merged)?;
                    self.remove_subscription(sub)?;
                }
                None => {
                    let mut moved = sub.clone();
                    moved.page_key = to.to_owned();
                    self.put_subscription(&moved)?;
                }
            }
        }
        Ok(moving.len())
    }
}
