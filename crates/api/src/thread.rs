//! Turning flat comment lists into the nested thread readers see.

use std::collections::HashMap;

use crate::{Comment, CommentId};

/// Nests `replies` under `top_level`, keeping `top_level` in the given order and each
/// comment's replies oldest first. Replies whose parent is in neither list are dropped.
pub fn assemble_thread(top_level: Vec<Comment>, replies: Vec<Comment>) -> Vec<Comment> {
    let mut children: HashMap<CommentId, Vec<Comment>> = HashMap::new();
    for reply in replies {
        if let Some(parent) = reply.parent {
            children.entry(parent).or_default().push(reply);
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|c| c.id);
    }
    top_level
        .into_iter()
        .map(|c| attach(c, &mut children))
        .collect()
}

fn attach(mut comment: Comment, children: &mut HashMap<CommentId, Vec<Comment>>) -> Comment {
    if let Some(kids) = children.remove(&comment.id) {
        comment.replies = kids.into_iter().map(|k| attach(k, children)).collect();
    }
    comment
}
