//! Store records → wire types. The only place both crates meet.

use sha2::{Digest, Sha256};
use talkback_api::{Block, Comment, CommentId};
use talkback_store::{CommentRecord, Status};

use crate::error::Result;

/// Converts a stored comment for readers: never includes the e-mail or the edit-key hash.
pub(crate) fn comment(record: &CommentRecord) -> Result<Comment> {
    let deleted = record.status == Status::Deleted;
    let body: Vec<Block> = if deleted {
        Vec::new()
    } else {
        serde_json::from_str(&record.body_tree)?
    };
    Ok(Comment {
        id: CommentId(record.id),
        parent: record.parent.map(CommentId),
        author: record.author.clone(),
        website: record.website.clone(),
        avatar: if deleted {
            String::new()
        } else {
            avatar_seed(&record.author, record.email.as_deref())
        },
        body,
        created: record.created,
        edited: record.edited,
        deleted,
        pending: record.status == Status::Pending,
        replies: Vec::new(),
    })
}

/// Seed of the identicon: 32 bits of a hash, so it stays stable for an author but cannot be
/// used to confirm an e-mail address the way Gravatar hashes can.
fn avatar_seed(author: &str, email: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"talkback-avatar\0");
    match email {
        Some(e) => hasher.update(e.trim().to_lowercase().as_bytes()),
        None => hasher.update(author.as_bytes()),
    }
    let digest = hasher.finalize();
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}
