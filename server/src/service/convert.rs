//! Store records → wire types: what readers may see of a stored comment.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use talkback_api::{Block, Comment, CommentId, Inline};
use talkback_store::{CommentRecord, Status};

/// The server's secret for identicon seeds, created with the database (so seeds stay stable
/// across restarts and cannot be computed by anyone else).
#[derive(Clone)]
pub(crate) struct AvatarKey(pub(crate) Vec<u8>);

/// Converts a stored comment for readers: never includes the e-mail or the edit-key hash.
pub(crate) fn comment(record: &CommentRecord, key: &AvatarKey) -> Comment {
    let deleted = record.status == Status::Deleted;
    let body: Vec<Block> = if deleted {
        Vec::new()
    } else {
        body_or_placeholder(record)
    };
    Comment {
        id: CommentId(record.id),
        parent: record.parent.map(CommentId),
        author: record.author.clone(),
        website: record.website.clone(),
        avatar: if deleted {
            String::new()
        } else {
            avatar_seed(key, &record.author, record.email.as_deref())
        },
        body,
        created: record.created,
        edited: record.edited,
        deleted,
        // Spam (a ban, say) looks to its author just like a comment awaiting moderation.
        pending: matches!(record.status, Status::Pending | Status::Spam),
        pinned: record.pinned,
        moderator_edit: record.moderator_edit,
        replies: Vec::new(),
        more_replies: 0,
        replies_cursor: None,
    }
}

/// A comment as a thread shows it: a hidden one (pending or spam, read only because it has
/// replies) becomes a placeholder like a tombstone, so nothing of it reaches readers.
pub(crate) fn shown(record: &CommentRecord, key: &AvatarKey) -> Comment {
    if record.is_visible() {
        return comment(record, key);
    }
    Comment {
        author: String::new(),
        website: None,
        avatar: String::new(),
        body: Vec::new(),
        edited: None,
        deleted: true,
        pending: false,
        pinned: false,
        moderator_edit: false,
        ..comment(record, key)
    }
}

/// The stored tree, or, when it cannot be decoded (a record written by a buggy or foreign
/// build), a placeholder for this one comment: one bad record never fails a whole page.
fn body_or_placeholder(record: &CommentRecord) -> Vec<Block> {
    match serde_json::from_str(&record.body_tree) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(comment = record.id, %error, "stored comment body cannot be decoded");
            vec![Block::Paragraph(vec![Inline::Emph(vec![Inline::Text(
                UNREADABLE_BODY.to_owned(),
            )])])]
        }
    }
}

/// Shown instead of a body the server cannot decode.
pub(crate) const UNREADABLE_BODY: &str = "This comment cannot be shown.";

/// Seed of the identicon: 32 bits of an HMAC keyed with the server's secret, so it stays
/// stable for an author but cannot confirm a guessed e-mail address (as Gravatar hashes can)
/// or link one person's comments across servers.
fn avatar_seed(key: &AvatarKey, author: &str, email: Option<&str>) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key.0) else {
        return String::new();
    };
    match email {
        Some(e) => {
            mac.update(b"email\0");
            mac.update(e.trim().to_lowercase().as_bytes());
        }
        None => {
            mac.update(b"name\0");
            mac.update(author.as_bytes());
        }
    }
    hex::encode(&mac.finalize().into_bytes()[..4])
}
