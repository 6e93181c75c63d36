//! The store kernel's view of the threads on sled ([`View`]): reads of the committed trees.

use talkback_store::kernel::View;
use talkback_store::{CommentRecord, Error, Order, PageRecord, Reads, Result};

use crate::{Db, SledStore, id_from_index_key, index_key};

/// The threads as sled has them now.
pub(crate) struct SledView<'a>(pub(crate) &'a SledStore);

impl View for SledView<'_> {
    fn page(&mut self, site: &str, key: &str) -> Result<Option<PageRecord>> {
        Reads::page(self.0, site, key)
    }

    fn comment(&mut self, id: u64) -> Result<Option<CommentRecord>> {
        self.0.load_comment(id)
    }

    fn pinned(&mut self, page_id: u64) -> Result<Vec<CommentRecord>> {
        let mut out = Vec::new();
        for key in self.0.pins.scan_prefix(page_id.to_be_bytes()).keys() {
            let key = key.db()?;
            let id = key
                .get(8..16)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| Error::Corrupt("short pin key".into()))?;
            out.extend(self.0.load_comment(id)?);
        }
        Ok(out)
    }

    fn top_level(
        &mut self,
        page_id: u64,
        order: Order,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<CommentRecord>> {
        let range = match (order, after) {
            (Order::OldestFirst, Some(a)) => {
                index_key(page_id, 0, a.saturating_add(1))..=index_key(page_id, 0, u64::MAX)
            }
            (Order::NewestFirst, Some(a)) => {
                index_key(page_id, 0, 0)..=index_key(page_id, 0, a.saturating_sub(1))
            }
            (_, None) => index_key(page_id, 0, 0)..=index_key(page_id, 0, u64::MAX),
        };
        let keys = self.0.index.range(range).keys();
        let keys: Box<dyn Iterator<Item = sled::Result<sled::IVec>>> = match order {
            Order::OldestFirst => Box::new(keys),
            Order::NewestFirst => Box::new(keys.rev()),
        };
        let mut out = Vec::with_capacity(limit.min(64));
        for key in keys {
            let id = id_from_index_key(&key.db()?)?;
            if let Some(rec) = self.0.load_comment(id)?
                && !rec.pinned
            {
                out.push(rec);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn replies(
        &mut self,
        top: &CommentRecord,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<CommentRecord>, bool)> {
        let range = index_key(top.page_id, top.id, after.saturating_add(1))
            ..=index_key(top.page_id, top.id, u64::MAX);
        let mut out = Vec::with_capacity(limit.min(64));
        for key in self.0.replies.range(range).keys() {
            if out.len() >= limit {
                return Ok((out, false));
            }
            let id = id_from_index_key(&key.db()?)?;
            out.extend(self.0.load_comment(id)?);
        }
        Ok((out, true))
    }
}
