//! What the widget remembers in localStorage: the reader's name, e-mail and website, drafts,
//! and the edit keys of their own comments. Storage may be unavailable (privacy modes,
//! sandboxed frames); everything still works, it is just forgotten.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub(crate) fn load<T: DeserializeOwned>(key: &str) -> Option<T> {
    let text = local()?.get_item(key).ok()??;
    crate::json::from_str(&text)
}

pub(crate) fn save<T: Serialize>(key: &str, value: &T) {
    if let (Some(storage), Some(text)) = (local(), crate::json::to_string(value)) {
        let _ = storage.set_item(key, &text);
    }
}

pub(crate) fn remove(key: &str) {
    if let Some(storage) = local() {
        let _ = storage.remove_item(key);
    }
}

/// Name, e-mail and website, remembered for the next comment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Identity {
    pub name: String,
    pub email: String,
    pub website: String,
}

pub(crate) const IDENTITY_KEY: &str = "talkback:identity";

/// An unsent comment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Draft {
    pub identity: Identity,
    pub body: String,
}

/// What lets the reader edit their own comment: the key, its deadline and the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OwnComment {
    pub id: u64,
    pub key: String,
    pub until: i64,
    pub source: String,
    /// Held for moderation: remembered past the edit window, until a moderator decides.
    #[serde(default)]
    pub held: bool,
}

/// The reader's own comments on this page, without the expired ones.
pub(crate) fn own_comments(scope: &str, now: i64) -> Vec<OwnComment> {
    let mut all: Vec<OwnComment> = load(&own_key(scope)).unwrap_or_default();
    all.retain(|c| c.until > now || c.held);
    all
}

pub(crate) fn save_own_comments(scope: &str, all: &[OwnComment]) {
    save(&own_key(scope), &all);
}

/// A list rather than a map keyed by id: JSON object keys are strings, list items keep the id
/// a number. (Edit keys live 15 minutes, so entries in the old map form are simply dropped.)
fn own_key(scope: &str) -> String {
    format!("{scope}:own")
}
