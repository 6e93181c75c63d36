//! The thread as reactive state: every comment is a [`Node`] holding its own signals, so
//! posting, editing or deleting one re-renders that comment only.

use std::collections::{BTreeMap, HashMap};

use leptos::prelude::*;
use talkback_api::{Comment, CommentId, Sort};

use crate::config::WidgetConfig;
use crate::storage::{self, OwnComment};

/// One comment and its replies.
#[derive(Clone, Copy)]
pub(crate) struct Node {
    pub id: CommentId,
    pub parent: Option<CommentId>,
    /// The comment without its replies.
    pub data: RwSignal<Comment>,
    pub replies: RwSignal<Vec<Node>>,
}

/// Everything the components share, provided as context.
#[derive(Clone, Copy)]
pub(crate) struct ThreadState {
    pub config: StoredValue<WidgetConfig>,
    pub top: RwSignal<Vec<Node>>,
    index: StoredValue<HashMap<CommentId, Node>>,
    pub total: RwSignal<u32>,
    pub title: RwSignal<Option<String>>,
    pub next_cursor: RwSignal<Option<String>>,
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
    pub own: RwSignal<BTreeMap<u64, OwnComment>>,
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
            index: StoredValue::new(HashMap::new()),
            total: RwSignal::new(0),
            next_cursor: RwSignal::new(None),
            sort: RwSignal::new(Sort::Oldest),
            loading: RwSignal::new(true),
            load_error: RwSignal::new(None),
            announce: RwSignal::new(String::new()),
            replying_to: RwSignal::new(None),
            highlight: RwSignal::new(None),
            now: RwSignal::new(now_ms()),
            own: RwSignal::new(own),
        }
    }

    pub(crate) fn cfg(&self) -> WidgetConfig {
        self.config.get_value()
    }

    /// Builds nodes for a comment and its replies, registering each in the index.
    pub(crate) fn node(&self, mut comment: Comment) -> Node {
        let replies = std::mem::take(&mut comment.replies);
        let node = Node {
            id: comment.id,
            parent: comment.parent,
            data: RwSignal::new(comment),
            replies: RwSignal::new(replies.into_iter().map(|r| self.node(r)).collect()),
        };
        self.index.update_value(|i| {
            i.insert(node.id, node);
        });
        node
    }

    pub(crate) fn find(&self, id: CommentId) -> Option<Node> {
        self.index.with_value(|i| i.get(&id).copied())
    }

    /// Replaces the thread (first load or a new sort order).
    pub(crate) fn reset(&self, comments: Vec<Comment>) {
        self.index.update_value(HashMap::clear);
        let nodes = comments.into_iter().map(|c| self.node(c)).collect();
        self.top.set(nodes);
    }

    /// Appends the next page of top-level comments, skipping any already shown (a comment
    /// the reader posted may come back in a later page).
    pub(crate) fn append(&self, comments: Vec<Comment>) {
        let fresh: Vec<Node> = comments
            .into_iter()
            .filter(|c| self.find(c.id).is_none())
            .map(|c| self.node(c))
            .collect();
        self.top.update(|t| t.extend(fresh));
    }

    /// Adds a comment the reader just posted where it belongs.
    pub(crate) fn insert_new(&self, comment: Comment) {
        let parent = comment.parent.and_then(|p| self.find(p));
        let counted = !comment.pending;
        let node = self.node(comment);
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

    /// Removes a comment that had no replies; a tombstone parent left empty goes too.
    pub(crate) fn remove(&self, id: CommentId) {
        let Some(node) = self.find(id) else { return };
        self.index.update_value(|i| {
            i.remove(&id);
        });
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

    pub(crate) fn own_comment(&self, id: CommentId) -> Option<OwnComment> {
        self.own.with(|o| o.get(&id.0).cloned())
    }

    pub(crate) fn remember_own(&self, id: CommentId, own: Option<OwnComment>) {
        self.own.update(|all| {
            match own {
                Some(o) => all.insert(id.0, o),
                None => all.remove(&id.0),
            };
            storage::save_own_comments(&self.config.with_value(WidgetConfig::storage_scope), all);
        });
    }
}
