//! The thread as reactive state: every comment is a [`Node`] holding its own signals, so
//! posting, editing or deleting one re-renders that comment only.

use leptos::prelude::*;
use talkback_api::{Comment, CommentId, Sort};

use crate::config::WidgetConfig;
use crate::storage::{self, OwnComment};

/// One comment and its replies.
#[derive(Clone, Copy)]
pub(crate) struct Node {
    pub id: CommentId,
    pub parent: Option<CommentId>,
    /// 0 for a top-level comment.
    pub depth: usize,
    /// The comment without its replies.
    pub data: RwSignal<Comment>,
    pub replies: RwSignal<Vec<Node>>,
}

/// Everything the components share, provided as context.
#[derive(Clone, Copy)]
pub(crate) struct ThreadState {
    pub config: StoredValue<WidgetConfig>,
    pub top: RwSignal<Vec<Node>>,
    pub total: RwSignal<u32>,
    pub title: RwSignal<Option<String>>,
    pub next_cursor: RwSignal<Option<String>>,
    /// No new comments (locked thread or read-only site).
    pub closed: RwSignal<bool>,
    /// The server mails follow-up comments: the form offers them.
    pub mail: RwSignal<bool>,
    pub sort: RwSignal<Sort>,
    pub loading: RwSignal<bool>,
    pub load_error: RwSignal<Option<String>>,
    /// Text for the aria-live region.
    pub announce: RwSignal<String>,
    pub replying_to: RwSignal<Option<CommentId>>,
    /// The comment just posted: scrolled to, focused and briefly highlighted.
    pub highlight: RwSignal<Option<CommentId>>,
    /// Wall-clock time in ms, ticking so relative times and edit countdowns stay current.
    pub now: RwSignal<i64>,
    /// Few at a time: a list is smaller WASM than a map and fast enough.
    pub own: RwSignal<Vec<OwnComment>>,
    /// Comments that arrived live, shown when the reader asks ("Show new comments").
    pub incoming: RwSignal<Vec<Comment>>,
}

pub(crate) fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

impl ThreadState {
    pub(crate) fn new(config: WidgetConfig) -> Self {
        let own = storage::own_comments(&config.storage_scope(), now_ms());
        Self {
            title: RwSignal::new(config.title.clone()),
            config: StoredValue::new(config),
            top: RwSignal::new(Vec::new()),
            total: RwSignal::new(0),
            next_cursor: RwSignal::new(None),
            closed: RwSignal::new(false),
            mail: RwSignal::new(false),
            sort: RwSignal::new(Sort::Oldest),
            loading: RwSignal::new(true),
            load_error: RwSignal::new(None),
            announce: RwSignal::new(String::new()),
            replying_to: RwSignal::new(None),
            highlight: RwSignal::new(None),
            now: RwSignal::new(now_ms()),
            own: RwSignal::new(own),
            incoming: RwSignal::new(Vec::new()),
        }
    }

    pub(crate) fn cfg(&self) -> WidgetConfig {
        self.config.get_value()
    }

    /// Builds nodes for a comment and its replies.
    pub(crate) fn node(mut comment: Comment, depth: usize) -> Node {
        let replies = std::mem::take(&mut comment.replies);
        Node {
            id: comment.id,
            parent: comment.parent,
            depth,
            data: RwSignal::new(comment),
            replies: RwSignal::new(
                replies
                    .into_iter()
                    .map(|r| Self::node(r, depth + 1))
                    .collect(),
            ),
        }
    }

    /// The shown comment with this id. A walk, not an index: threads hold hundreds of
    /// comments at most, and a hash map costs kilobytes of WASM.
    pub(crate) fn find(&self, id: CommentId) -> Option<Node> {
        fn walk(nodes: &[Node], id: CommentId) -> Option<Node> {
            nodes.iter().find_map(|n| {
                if n.id == id {
                    Some(*n)
                } else {
                    n.replies.with_untracked(|r| walk(r, id))
                }
            })
        }
        self.top.with_untracked(|t| walk(t, id))
    }

    /// Replaces the thread (first load or a new sort order).
    pub(crate) fn reset(&self, comments: Vec<Comment>) {
        let nodes = comments.into_iter().map(|c| Self::node(c, 0)).collect();
        self.top.set(nodes);
        // Events that came before this read may name comments it shows already.
        self.incoming
            .update(|i| i.retain(|c| self.find(c.id).is_none()));
    }

    /// Whether a shown comment counts in "16 Responses" (tombstones and placeholders do not).
    pub(crate) fn counted(c: &Comment) -> bool {
        !c.deleted && !c.pending
    }

    /// Shows a new version of a shown comment, keeping the count right when it became a
    /// tombstone or placeholder, or visible again.
    fn replace(&self, node: Node, comment: Comment) {
        let before = node.data.with_untracked(Self::counted);
        match (before, Self::counted(&comment)) {
            (true, false) => self.total.update(|t| *t = t.saturating_sub(1)),
            (false, true) => self.total.update(|t| *t += 1),
            _ => {}
        }
        node.data.set(comment);
    }

    /// Appends the next page of top-level comments, skipping any already shown (a comment
    /// the reader posted may come back in a later page).
    pub(crate) fn append(&self, comments: Vec<Comment>) {
        let fresh: Vec<Node> = comments
            .into_iter()
            .filter(|c| self.find(c.id).is_none())
            .map(|c| Self::node(c, 0))
            .collect();
        self.top.update(|t| t.extend(fresh));
    }

    /// Adds a comment the reader just posted (or one that arrived live) where it belongs.
    pub(crate) fn insert_new(&self, comment: Comment) {
        // Its live event may have come before the answer to the POST.
        self.incoming.update(|i| i.retain(|c| c.id != comment.id));
        if let Some(shown) = self.find(comment.id) {
            self.replace(shown, comment);
            return;
        }
        let parent = comment.parent.and_then(|p| self.find(p));
        let counted = !comment.pending;
        let node = Self::node(comment, parent.map_or(0, |p| p.depth + 1));
        match parent {
            Some(parent) => parent.replies.update(|r| r.push(node)),
            None if self.sort.get_untracked() == Sort::Newest => {
                self.top.update(|t| t.insert(0, node))
            }
            None => self.top.update(|t| t.push(node)),
        }
        if counted {
            self.total.update(|t| *t += 1);
        }
    }

    /// Adds a reply fetched later under its parent (skipped when shown already or orphaned).
    pub(crate) fn attach(&self, comment: Comment) {
        if self.find(comment.id).is_some() {
            return;
        }
        if let Some(parent) = comment.parent.and_then(|p| self.find(p)) {
            let node = Self::node(comment, parent.depth + 1);
            parent.replies.update(|r| r.push(node));
        }
    }

    /// Applies a live event (`kind` `added`, `changed`, `removed` or `reload`, as
    /// `talkback_api::LiveEvent` names them); true when the thread must be read again. A
    /// comment already shown is replaced; a new reply to the reader's own comment appears at
    /// once, any other new comment waits behind "Show new comments".
    pub(crate) fn apply_live(
        &self,
        kind: &str,
        comment: Option<Comment>,
        id: Option<CommentId>,
    ) -> bool {
        match (kind, comment) {
            ("added" | "changed", Some(comment)) => match self.find(comment.id) {
                Some(node) => self.replace(node, comment),
                None if kind == "changed" => {}
                None if comment
                    .parent
                    .is_some_and(|p| self.own_comment(p).is_some()) =>
                {
                    self.insert_new(comment)
                }
                None => self.incoming.update(|i| {
                    if i.iter().all(|c| c.id != comment.id) {
                        i.push(comment)
                    }
                }),
            },
            ("removed", _) => {
                let id = id.unwrap_or(CommentId(0));
                if let Some(node) = self.find(id) {
                    if node.data.with_untracked(Self::counted) {
                        self.total.update(|t| *t = t.saturating_sub(1));
                    }
                    self.remove(id);
                }
                self.incoming.update(|i| i.retain(|c| c.id != id));
            }
            ("reload", _) => return true,
            _ => {}
        }
        false
    }

    /// Shows the comments that arrived live, in order (skipping any shown meanwhile).
    pub(crate) fn show_incoming(&self) {
        for comment in self.incoming.try_update(std::mem::take).unwrap_or_default() {
            if self.find(comment.id).is_none() {
                let id = comment.id;
                self.insert_new(comment);
                self.highlight.set(Some(id));
            }
        }
    }

    /// Removes a comment that had no replies; a tombstone parent left empty goes too.
    pub(crate) fn remove(&self, id: CommentId) {
        let Some(node) = self.find(id) else { return };
        match node.parent.and_then(|p| self.find(p)) {
            Some(parent) => {
                parent.replies.update(|r| r.retain(|n| n.id != id));
                let empty_tombstone = parent.data.with_untracked(|d| d.deleted)
                    && parent.replies.with_untracked(Vec::is_empty);
                if empty_tombstone {
                    self.remove(parent.id);
                }
            }
            None => self.top.update(|t| t.retain(|n| n.id != id)),
        }
    }

    /// Shows the reader's own comments that still await moderation (they are in no thread
    /// response), and forgets those a moderator has decided on.
    pub(crate) fn show_held(self) {
        let keys: Vec<(CommentId, String)> = self.own.with_untracked(|o| {
            o.iter()
                .filter(|c| c.held)
                .map(|c| (CommentId(c.id), c.key.clone()))
                .collect()
        });
        if keys.is_empty() {
            return;
        }
        leptos::task::spawn_local(async move {
            let Ok(held) = crate::client::held(&self.cfg(), keys).await else {
                return;
            };
            self.own.update(|all| {
                for c in all.iter_mut() {
                    c.held = held.comments.iter().any(|h| h.id.0 == c.id);
                }
                storage::save_own_comments(
                    &self.config.with_value(WidgetConfig::storage_scope),
                    all,
                );
            });
            // Never in a thread response, so never shown twice (a new sort reloads the list).
            for comment in held.comments {
                self.insert_new(comment);
            }
        });
    }

    pub(crate) fn own_comment(&self, id: CommentId) -> Option<OwnComment> {
        self.own.with(|o| o.iter().find(|c| c.id == id.0).cloned())
    }

    pub(crate) fn remember_own(&self, id: CommentId, own: Option<OwnComment>) {
        self.own.update(|all| {
            all.retain(|c| c.id != id.0);
            all.extend(own);
            storage::save_own_comments(&self.config.with_value(WidgetConfig::storage_scope), all);
        });
    }
}
