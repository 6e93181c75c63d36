//! What the widget remembers in localStorage: the reader's name, e-mail and website, drafts,
//! and the edit keys of their own comments. Storage may be unavailable (privacy modes,
//! sandboxed frames); everything still works, it is just forgotten.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub(crate) fn load<T: DeserializeOwned>(key: &str) -> Option<T> {
    let text = local()?.get_item(key).ok()??;
    serde_json::from_str(&text).ok()
}

pub(crate) fn save<T: Serialize>(key: &str, value: &T) {
    if let (Some(storage), Ok(text)) = (local(), serde_json::to_string(value)) {
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
    pub key: String,
    pub until: i64,
    pub source: String,
}

/// Own comments by id, dropping the expired ones.
pub(crate) fn own_comments(scope: &str, now: i64) -> BTreeMap<u64, OwnComment> {
    let mut all: BTreeMap<u64, OwnComment> = load(&format!("{scope}:own")).unwrap_or_default();
    all.retain(|_, c| c.until > now);
    all
}

pub(crate) fn save_own_comments(scope: &str, all: &BTreeMap<u64, OwnComment>) {
    save(&format!("{scope}:own"), all);
}
