//! Readers' mail subscriptions on sled. Trees: `subs` (id → [`SubscriptionRecord`]),
//! `sub_keys` (`0x01 | site \0 page \0 email` → id, a page's subscribers in address order;
//! `0x02 | site \0 email \0 page` → id, an address's subscriptions on a site), `confirmed`
//! (`site \0 email` → when it confirmed) and `mailed` (`id | comment id` → empty, who was
//! mailed about what). Writes hold the store's write lock, read what they change, then apply
//! it in one transaction.

use sled::transaction::Transactional;
use talkback_store::{Error, Result, SubscriptionRecord, Subscriptions};

use crate::codec::{decode, encode};
use crate::{Db, SledStore, abort, tx_result};

const BY_PAGE: u8 = 1;
const BY_ADDRESS: u8 = 2;

fn key(prefix: u8, parts: &[&str]) -> Vec<u8> {
    let mut k = vec![prefix];
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(part.as_bytes());
    }
    k
}

fn page_key(sub: &SubscriptionRecord) -> Vec<u8> {
    key(BY_PAGE, &[&sub.site, &sub.page_key, &sub.email])
}

fn address_key(sub: &SubscriptionRecord) -> Vec<u8> {
    key(BY_ADDRESS, &[&sub.site, &sub.email, &sub.page_key])
}

fn confirmed_key(site: &str, email: &str) -> Vec<u8> {
    key(0, &[site, email])[1..].to_vec()
}

fn id_of(bytes: &[u8]) -> Result<u64> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .map_err(|_| Error::Corrupt("a subscription id".into()))
}

fn mailed_key(id: u64, comment: u64) -> [u8; 16] {
    let mut k = [0; 16];
    k[..8].copy_from_slice(&id.to_be_bytes());
    k[8..].copy_from_slice(&comment.to_be_bytes());
    k
}

impl SledStore {
    fn subscription_at(&self, index_key: &[u8]) -> Result<Option<SubscriptionRecord>> {
        match self.sub_keys.get(index_key).db()? {
            Some(id) => self.subscription(id_of(&id)?),
            None => Ok(None),
        }
    }

    /// The subscriptions of `email` on `site`.
    fn address_subscriptions(&self, site: &str, email: &str) -> Result<Vec<SubscriptionRecord>> {
        let mut prefix = key(BY_ADDRESS, &[site, email]);
        prefix.push(0);
        let mut found = Vec::new();
        for entry in self.sub_keys.scan_prefix(&prefix) {
            let (_, id) = entry.db()?;
            if let Some(sub) = self.subscription(id_of(&id)?)? {
                found.push(sub);
            }
        }
        Ok(found)
    }

    /// Removes the subscriptions `gone` and stores `keep`, in one transaction.
    fn replace_subscriptions(
        &self,
        gone: &[SubscriptionRecord],
        keep: &[SubscriptionRecord],
    ) -> Result<()> {
        // What an ended subscription was mailed is forgotten; a moved one keeps it.
        let mailed: Vec<Vec<u8>> = gone
            .iter()
            .filter(|sub| keep.iter().all(|k| k.id != sub.id))
            .flat_map(|sub| {
                self.mailed
                    .scan_prefix(sub.id.to_be_bytes())
                    .keys()
                    .filter_map(|k| k.ok().map(|k| k.to_vec()))
            })
            .collect();
        tx_result((&self.subs, &self.sub_keys, &self.mailed).transaction(
            |(subs, keys, was_mailed)| {
                for sub in gone {
                    subs.remove(&sub.id.to_be_bytes())?;
                    keys.remove(page_key(sub))?;
                    keys.remove(address_key(sub))?;
                }
                for k in &mailed {
                    was_mailed.remove(k.as_slice())?;
                }
                for sub in keep {
                    subs.insert(&sub.id.to_be_bytes(), encode(sub).map_err(abort)?)?;
                    keys.insert(page_key(sub), &sub.id.to_be_bytes())?;
                    keys.insert(address_key(sub), &sub.id.to_be_bytes())?;
                }
                Ok(())
            },
        ))?;
        self.disk.sync(&self.db)?;
        Ok(())
    }
}

impl Subscriptions for SledStore {
    fn subscribe(&self, mut wish: SubscriptionRecord) -> Result<SubscriptionRecord> {
        let _writer = self.writer()?;
        let stored = match self.subscription_at(&page_key(&wish))? {
            Some(mut existing) => {
                existing.widen(&wish, self.address_confirmed(&wish.site, &wish.email)?);
                existing
            }
            None => {
                wish.id = self.db.generate_id().db()? + 1;
                wish.confirmed = self.address_confirmed(&wish.site, &wish.email)?;
                wish.asked = None;
                wish
            }
        };
        self.replace_subscriptions(&[], std::slice::from_ref(&stored))?;
        Ok(stored)
    }

    fn restore_subscription(&self, sub: SubscriptionRecord) -> Result<()> {
        let _writer = self.writer()?;
        if self.subscription(sub.id)?.is_some() || self.subscription_at(&page_key(&sub))?.is_some()
        {
            return Err(Error::Conflict);
        }
        // One counter gives out every id of the database: move it past this one.
        while self.db.generate_id().db()? < sub.id {}
        self.replace_subscriptions(&[], std::slice::from_ref(&sub))
    }

    fn subscription(&self, id: u64) -> Result<Option<SubscriptionRecord>> {
        self.subs
            .get(id.to_be_bytes())
            .db()?
            .map(|b| decode(&b))
            .transpose()
    }

    fn subscription_of(
        &self,
        site: &str,
        page_key: &str,
        email: &str,
    ) -> Result<Option<SubscriptionRecord>> {
        self.subscription_at(&key(BY_PAGE, &[site, page_key, email]))
    }

    fn page_subscriptions(
        &self,
        site: &str,
        page_key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SubscriptionRecord>> {
        let mut prefix = key(BY_PAGE, &[site, page_key]);
        prefix.push(0);
        let start = match after {
            // The first key after that address's.
            Some(email) => {
                let mut k = prefix.clone();
                k.extend_from_slice(email.as_bytes());
                k.push(0);
                k
            }
            None => prefix.clone(),
        };
        let mut found = Vec::new();
        for entry in self.sub_keys.range(start..) {
            let (k, id) = entry.db()?;
            if !k.starts_with(&prefix) || found.len() >= limit {
                break;
            }
            if let Some(sub) = self.subscription(id_of(&id)?)? {
                found.push(sub);
            }
        }
        Ok(found)
    }

    fn set_asked(&self, id: u64, at: i64) -> Result<()> {
        let _writer = self.writer()?;
        if let Some(mut sub) = self.subscription(id)? {
            sub.asked = Some(at);
            self.replace_subscriptions(&[], &[sub])?;
        }
        Ok(())
    }

    fn confirm_address(&self, site: &str, email: &str, at: i64) -> Result<usize> {
        let _writer = self.writer()?;
        let pending: Vec<SubscriptionRecord> = self
            .address_subscriptions(site, email)?
            .into_iter()
            .filter(|s| !s.confirmed)
            .map(|mut s| {
                s.confirmed = true;
                s
            })
            .collect();
        let confirmed_key = confirmed_key(site, email);
        tx_result(
            (&self.subs, &self.confirmed).transaction(|(subs, confirmed)| {
                confirmed.insert(confirmed_key.as_slice(), &at.to_be_bytes())?;
                for sub in &pending {
                    subs.insert(&sub.id.to_be_bytes(), encode(sub).map_err(abort)?)?;
                }
                Ok(())
            }),
        )?;
        self.disk.sync(&self.db)?;
        Ok(pending.len())
    }

    fn address_confirmed(&self, site: &str, email: &str) -> Result<bool> {
        self.confirmed.contains_key(confirmed_key(site, email)).db()
    }

    fn unsubscribe(&self, id: u64) -> Result<bool> {
        let _writer = self.writer()?;
        let Some(sub) = self.subscription(id)? else {
            return Ok(false);
        };
        self.replace_subscriptions(&[sub], &[])?;
        Ok(true)
    }

    fn forget_address(&self, site: &str, email: &str) -> Result<usize> {
        let _writer = self.writer()?;
        let gone = self.address_subscriptions(site, email)?;
        self.replace_subscriptions(&gone, &[])?;
        self.confirmed.remove(confirmed_key(site, email)).db()?;
        self.disk.sync(&self.db)?;
        Ok(gone.len())
    }

    fn move_subscriptions(&self, site: &str, from: &str, to: &str) -> Result<usize> {
        if from == to {
            return Ok(0);
        }
        let _writer = self.writer()?;
        let mut prefix = key(BY_PAGE, &[site, from]);
        prefix.push(0);
        let mut gone = Vec::new();
        let mut keep = Vec::new();
        for entry in self.sub_keys.scan_prefix(&prefix) {
            let (_, id) = entry.db()?;
            let Some(sub) = self.subscription(id_of(&id)?)? else {
                continue;
            };
            let mut moved = sub.clone();
            moved.page_key = to.to_owned();
            if let Some(there) = self.subscription_at(&page_key(&moved))? {
                // Already subscribed there: one subscription, the wider scope.
                let mut merged = there;
                merged.absorb(&sub);
                keep.push(merged);
            } else {
                // Same id, so the links in mails already sent still work.
                keep.push(moved);
            }
            gone.push(sub);
        }
        let moved = gone.len();
        self.replace_subscriptions(&gone, &keep)?;
        Ok(moved)
    }

    fn was_mailed(&self, id: u64, comment: u64) -> Result<bool> {
        self.mailed.contains_key(mailed_key(id, comment)).db()
    }

    fn set_mailed(&self, id: u64, comment: u64) -> Result<()> {
        self.mailed.insert(mailed_key(id, comment), &[]).db()?;
        self.disk.sync(&self.db)?;
        Ok(())
    }
}
