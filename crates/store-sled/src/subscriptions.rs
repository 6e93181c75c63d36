//! Readers' mail subscriptions on sled. Trees: `subs` (id → [`SubscriptionRecord`]),
//! `sub_keys` (`0x01 | site \0 page \0 email` → id, a page's subscribers in address order;
//! `0x02 | site \0 email \0 page` → id, an address's subscriptions on a site), `confirmed`
//! (`site \0 email` → when it confirmed) and `mailed` (`id | comment id` → empty, who was
//! mailed about what). The rules are the store kernel's (`SubscriptionTx`); a write holds the
//! store's write lock, reads, then applies what it changed in one transaction.

use std::collections::BTreeMap;

use sled::transaction::Transactional;
use talkback_store::kernel::SubscriptionTx;
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

/// A write over subscriptions in progress: reads see the trees as committed with this write's
/// changes over them; the changes are applied in one transaction when it ends (sled cannot
/// scan inside a transaction, and the write holds the turn to write, so nothing else changes
/// the trees meanwhile).
struct Subs<'a> {
    store: &'a SledStore,
    /// The latest state of each subscription this write changed (`None`: removed).
    changed: BTreeMap<u64, Option<SubscriptionRecord>>,
    /// Confirmations remembered (`Some`) or forgotten.
    confirmations: Vec<(Vec<u8>, Option<i64>)>,
}

impl Subs<'_> {
    /// Subscriptions as committed, with this write's changes over them, keeping those `wanted`.
    fn overlaid(
        &self,
        committed: Vec<SubscriptionRecord>,
        wanted: impl Fn(&SubscriptionRecord) -> bool,
    ) -> Vec<SubscriptionRecord> {
        let mut out: Vec<SubscriptionRecord> = committed
            .into_iter()
            .filter(|s| !self.changed.contains_key(&s.id))
            .collect();
        out.extend(
            self.changed
                .values()
                .flatten()
                .filter(|s| wanted(s))
                .cloned(),
        );
        out.sort_by_key(|s| s.id);
        out
    }

    /// The subscriptions a `sub_keys` prefix lists, as committed.
    fn listed(&self, prefix: &[u8]) -> Result<Vec<SubscriptionRecord>> {
        let mut found = Vec::new();
        for entry in self.store.sub_keys.scan_prefix(prefix) {
            let (_, id) = entry.db()?;
            found.extend(self.store.subscription(id_of(&id)?)?);
        }
        Ok(found)
    }

    /// Applies the write in one transaction, then makes it durable.
    fn apply(self) -> Result<()> {
        let store = self.store;
        let mut before = Vec::new();
        let mut mailed = Vec::new();
        for (id, now) in &self.changed {
            before.extend(store.subscription(*id)?);
            if now.is_none() {
                // What an ended subscription was mailed is forgotten.
                for k in store.mailed.scan_prefix(id.to_be_bytes()).keys() {
                    mailed.push(k.db()?.to_vec());
                }
            }
        }
        tx_result(
            (
                &store.subs,
                &store.sub_keys,
                &store.mailed,
                &store.confirmed,
            )
                .transaction(|(subs, keys, was_mailed, confirmed)| {
                    for old in &before {
                        keys.remove(page_key(old))?;
                        keys.remove(address_key(old))?;
                    }
                    for (id, now) in &self.changed {
                        match now {
                            Some(sub) => {
                                subs.insert(&id.to_be_bytes(), encode(sub).map_err(abort)?)?;
                                keys.insert(page_key(sub), &id.to_be_bytes())?;
                                keys.insert(address_key(sub), &id.to_be_bytes())?;
                            }
                            None => {
                                subs.remove(&id.to_be_bytes())?;
                            }
                        }
                    }
                    for k in &mailed {
                        was_mailed.remove(k.as_slice())?;
                    }
                    for (k, at) in &self.confirmations {
                        match at {
                            Some(at) => confirmed.insert(k.as_slice(), &at.to_be_bytes())?,
                            None => confirmed.remove(k.as_slice())?,
                        };
                    }
                    Ok(())
                }),
        )?;
        store.disk.sync(&store.db)
    }
}

impl SubscriptionTx for Subs<'_> {
    fn subscription(&mut self, id: u64) -> Result<Option<SubscriptionRecord>> {
        match self.changed.get(&id) {
            Some(now) => Ok(now.clone()),
            None => self.store.subscription(id),
        }
    }

    fn subscription_of(
        &mut self,
        site: &str,
        page_key: &str,
        email: &str,
    ) -> Result<Option<SubscriptionRecord>> {
        let same =
            |s: &SubscriptionRecord| s.site == site && s.page_key == page_key && s.email == email;
        if let Some(sub) = self.changed.values().flatten().find(|s| same(s)) {
            return Ok(Some(sub.clone()));
        }
        let committed = self.store.subscription_of(site, page_key, email)?;
        Ok(committed.filter(|s| !self.changed.contains_key(&s.id)))
    }

    fn address_subscriptions(
        &mut self,
        site: &str,
        email: &str,
    ) -> Result<Vec<SubscriptionRecord>> {
        let mut prefix = key(BY_ADDRESS, &[site, email]);
        prefix.push(0);
        let committed = self.listed(&prefix)?;
        Ok(self.overlaid(committed, |s| s.site == site && s.email == email))
    }

    fn page_subscriptions(
        &mut self,
        site: &str,
        page_key: &str,
    ) -> Result<Vec<SubscriptionRecord>> {
        let mut prefix = key(BY_PAGE, &[site, page_key]);
        prefix.push(0);
        let committed = self.listed(&prefix)?;
        Ok(self.overlaid(committed, |s| s.site == site && s.page_key == page_key))
    }

    fn address_confirmed(&mut self, site: &str, email: &str) -> Result<bool> {
        let k = confirmed_key(site, email);
        match self.confirmations.iter().rev().find(|(c, _)| *c == k) {
            Some((_, at)) => Ok(at.is_some()),
            None => self.store.address_confirmed(site, email),
        }
    }

    fn next_subscription_id(&mut self) -> Result<u64> {
        Ok(self.store.db.generate_id().db()? + 1)
    }

    fn ids_above(&mut self, id: u64) -> Result<()> {
        // One counter gives out every id of the database: move it past this one.
        while self.store.db.generate_id().db()? < id {}
        Ok(())
    }

    fn put_subscription(&mut self, sub: &SubscriptionRecord) -> Result<()> {
        self.changed.insert(sub.id, Some(sub.clone()));
        Ok(())
    }

    fn remove_subscription(&mut self, sub: &SubscriptionRecord) -> Result<()> {
        self.changed.insert(sub.id, None);
        Ok(())
    }

    fn set_confirmed(&mut self, site: &str, email: &str, at: Option<i64>) -> Result<()> {
        self.confirmations.push((confirmed_key(site, email), at));
        Ok(())
    }
}

impl SledStore {
    /// Runs a write over subscriptions (holding the turn to write) and applies it.
    fn subscriptions_change<T>(&self, work: impl FnOnce(&mut Subs<'_>) -> Result<T>) -> Result<T> {
        let _writer = self.writer()?;
        let mut subs = Subs {
            store: self,
            changed: BTreeMap::new(),
            confirmations: Vec::new(),
        };
        let value = work(&mut subs)?;
        subs.apply()?;
        Ok(value)
    }
}

impl Subscriptions for SledStore {
    fn subscribe(&self, wish: SubscriptionRecord) -> Result<SubscriptionRecord> {
        self.subscriptions_change(|s| s.subscribe(&wish))
    }

    fn restore_subscription(&self, sub: SubscriptionRecord) -> Result<()> {
        self.subscriptions_change(|s| s.restore_subscription(&sub))
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
        match self
            .sub_keys
            .get(key(BY_PAGE, &[site, page_key, email]))
            .db()?
        {
            Some(id) => self.subscription(id_of(&id)?),
            None => Ok(None),
        }
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
        self.subscriptions_change(|s| s.set_asked(id, at))
    }

    fn confirm_address(&self, site: &str, email: &str, at: i64) -> Result<usize> {
        self.subscriptions_change(|s| s.confirm_address(site, email, at))
    }

    fn address_confirmed(&self, site: &str, email: &str) -> Result<bool> {
        self.confirmed.contains_key(confirmed_key(site, email)).db()
    }

    fn unsubscribe(&self, id: u64) -> Result<bool> {
        self.subscriptions_change(|s| s.unsubscribe(id))
    }

    fn forget_address(&self, site: &str, email: &str) -> Result<usize> {
        self.subscriptions_change(|s| s.forget_address(site, email))
    }

    fn move_subscriptions(&self, site: &str, from: &str, to: &str) -> Result<usize> {
        self.subscriptions_change(|s| s.move_subscriptions(site, from, to))
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
