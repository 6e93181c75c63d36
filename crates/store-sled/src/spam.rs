//! The spam filter's learned state on sled: token counts, what each comment taught, and the
//! trainer's cursor, changed together in one transaction per decision.
//!
//! Keys: `spam`: `t` + token → spam count, ham count (u32 each, big-endian); `d` → learned
//! spam and ham documents. `trained`: comment id → the label and tokens it taught.
//! `meta`: `spam:cursor` → the last change the trainer handled.

use sled::Transactional;
use sled::transaction::TransactionalTree;
use talkback_store::{Error, Label, Result, SpamFilter, TokenCounts};

use crate::codec::{decode, encode};
use crate::{Db, SledStore, TxError, abort, tx_result};

const CURSOR: &[u8] = b"spam:cursor";
const DOCS: &[u8] = b"d";

fn token_key(token: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(token.len() + 1);
    k.push(b't');
    k.extend_from_slice(token.as_bytes());
    k
}

fn pair(bytes: Option<&[u8]>) -> Result<(u32, u32)> {
    match bytes {
        None => Ok((0, 0)),
        Some(b) if b.len() == 8 => {
            let (s, h) = b.split_at(4);
            let n = |x: &[u8]| u32::from_be_bytes([x[0], x[1], x[2], x[3]]);
            Ok((n(s), n(h)))
        }
        Some(_) => Err(Error::Corrupt("spam filter count".into())),
    }
}

fn pair_bytes((s, h): (u32, u32)) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&s.to_be_bytes());
    b[4..].copy_from_slice(&h.to_be_bytes());
    b
}

/// Adds `sign` (+1 or -1) of one document under `label` to the counts.
fn count(
    spam: &TransactionalTree,
    tokens: &[String],
    label: Label,
    add: bool,
) -> Result<(), TxError> {
    let step = |(s, h): (u32, u32)| {
        let change = |n: u32| {
            if add {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            }
        };
        match label {
            Label::Spam => (change(s), h),
            Label::Ham => (s, change(h)),
        }
    };
    let docs = pair(spam.get(DOCS)?.as_deref()).map_err(abort)?;
    spam.insert(DOCS, &pair_bytes(step(docs)))?;
    for token in tokens {
        let key = token_key(token);
        let (s, h) = step(pair(spam.get(&key)?.as_deref()).map_err(abort)?);
        if s == 0 && h == 0 {
            spam.remove(key)?;
        } else {
            spam.insert(key, &pair_bytes((s, h)))?;
        }
    }
    Ok(())
}

impl SpamFilter for SledStore {
    fn train(
        &self,
        comment: u64,
        tokens: &[String],
        label: Option<Label>,
        cursor: u64,
    ) -> Result<()> {
        let _writer = self.writer()?;
        tx_result(
            (&self.spam, &self.trained, &self.meta).transaction(|(spam, trained, meta)| {
                let id = comment.to_be_bytes();
                let before: Option<(Label, Vec<String>)> = match trained.get(id)? {
                    Some(bytes) => Some(decode(&bytes).map_err(abort)?),
                    None => None,
                };
                // The same label again (or still none) changes no count.
                if before.as_ref().map(|(was, _)| *was) != label {
                    if let Some((was, old_tokens)) = &before {
                        count(spam, old_tokens, *was, false)?;
                        trained.remove(&id)?;
                    }
                    if let Some(now) = label {
                        count(spam, tokens, now, true)?;
                        let record = encode(&(now, tokens)).map_err(abort)?;
                        trained.insert(&id, record)?;
                    }
                }
                meta.insert(CURSOR, &cursor.to_be_bytes())?;
                Ok(())
            }),
        )?;
        self.disk.sync(&self.db)?;
        Ok(())
    }

    fn set_training_cursor(&self, cursor: u64) -> Result<()> {
        self.meta.insert(CURSOR, &cursor.to_be_bytes()).db()?;
        Ok(())
    }

    fn training_cursor(&self) -> Result<u64> {
        match self.meta.get(CURSOR).db()? {
            None => Ok(0),
            Some(b) => <[u8; 8]>::try_from(b.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| Error::Corrupt("spam filter cursor".into())),
        }
    }

    fn token_counts(&self, tokens: &[String]) -> Result<TokenCounts> {
        let (spam_docs, ham_docs) = pair(self.spam.get(DOCS).db()?.as_deref())?;
        let tokens = tokens
            .iter()
            .map(|t| pair(self.spam.get(token_key(t)).db()?.as_deref()))
            .collect::<Result<_>>()?;
        Ok(TokenCounts {
            tokens,
            spam_docs,
            ham_docs,
        })
    }
}
