//! Readers' subscriptions on PostgreSQL: the store kernel's [`SubscriptionTx`] over one
//! transaction (rows read `FOR UPDATE`, so concurrent writers to one subscription queue).

use postgres::types::Json;
use postgres::{GenericClient, Transaction};
use talkback_store::kernel::SubscriptionTx;
use talkback_store::{Result, SubscriptionRecord, Subscriptions};

use crate::store::{PgStore, backend, next, records, sql_id};

/// A write over subscriptions in progress.
struct Subs<'a, 't>(&'a mut Transaction<'t>);

fn confirmed(client: &mut impl GenericClient, site: &str, email: &str) -> Result<bool> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM tb_confirmed WHERE site = $1 AND email = $2",
            &[&site, &email],
        )
        .map_err(backend)?
        .is_some())
}

fn one(rows: Vec<postgres::Row>) -> Result<Option<SubscriptionRecord>> {
    Ok(records(rows)?.pop())
}

impl SubscriptionTx for Subs<'_, '_> {
    fn subscription(&mut self, id: u64) -> Result<Option<SubscriptionRecord>> {
        one(self
            .0
            .query(
                "SELECT record FROM tb_subscriptions WHERE id = $1 FOR UPDATE",
                &[&sql_id(id)],
            )
            .map_err(backend)?)
    }

    fn subscription_of(
        &mut self,
        site: &str,
        page_key: &str,
        email: &str,
    ) -> Result<Option<SubscriptionRecord>> {
        one(self
            .0
            .query(
                "SELECT record FROM tb_subscriptions \
                 WHERE site = $1 AND page_key = $2 AND email = $3 FOR UPDATE",
                &[&site, &page_key, &email],
            )
            .map_err(backend)?)
    }

    fn address_subscriptions(
        &mut self,
        site: &str,
        email: &str,
    ) -> Result<Vec<SubscriptionRecord>> {
        records(
            self.0
                .query(
                    "SELECT record FROM tb_subscriptions WHERE site = $1 AND email = $2 \
                     ORDER BY id FOR UPDATE",
                    &[&site, &email],
                )
                .map_err(backend)?,
        )
    }

    fn page_subscriptions(
        &mut self,
        site: &str,
        page_key: &str,
    ) -> Result<Vec<SubscriptionRecord>> {
        records(
            self.0
                .query(
                    "SELECT record FROM tb_subscriptions WHERE site = $1 AND page_key = $2 \
                     ORDER BY id FOR UPDATE",
                    &[&site, &page_key],
                )
                .map_err(backend)?,
        )
    }

    fn address_confirmed(&mut self, site: &str, email: &str) -> Result<bool> {
        confirmed(self.0, site, email)
    }

    fn next_subscription_id(&mut self) -> Result<u64> {
        next(self.0, "subscription")
    }

    fn ids_above(&mut self, id: u64) -> Result<()> {
        self.0
            .execute(
                "UPDATE tb_counters SET value = GREATEST(value, $1) WHERE name = 'subscription'",
                &[&sql_id(id)],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn put_subscription(&mut self, sub: &SubscriptionRecord) -> Result<()> {
        self.0
            .execute(
                "INSERT INTO tb_subscriptions (id, site, page_key, email, record) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET site = excluded.site, \
                 page_key = excluded.page_key, email = excluded.email, record = excluded.record",
                &[
                    &sql_id(sub.id),
                    &sub.site,
                    &sub.page_key,
                    &sub.email,
                    &Json(sub),
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn remove_subscription(&mut self, sub: &SubscriptionRecord) -> Result<()> {
        self.0
            .batch_execute(&format!(
                "DELETE FROM tb_mailed WHERE subscription = {id}; \
                 DELETE FROM tb_subscriptions WHERE id = {id}",
                id = sql_id(sub.id)
            ))
            .map_err(backend)
    }

    fn set_confirmed(&mut self, site: &str, email: &str, at: Option<i64>) -> Result<()> {
        match at {
            Some(at) => self.0.execute(
                "INSERT INTO tb_confirmed (site, email, at) VALUES ($1, $2, $3) \
                 ON CONFLICT (site, email) DO UPDATE SET at = excluded.at",
                &[&site, &email, &at],
            ),
            None => self.0.execute(
                "DELETE FROM tb_confirmed WHERE site = $1 AND email = $2",
                &[&site, &email],
            ),
        }
        .map_err(backend)?;
        Ok(())
    }
}

impl Subscriptions for PgStore {
    fn subscribe(&self, wish: SubscriptionRecord) -> Result<SubscriptionRecord> {
        self.write(|tx| Subs(tx).subscribe(&wish))
    }

    fn restore_subscription(&self, sub: SubscriptionRecord) -> Result<()> {
        self.write(|tx| Subs(tx).restore_subscription(&sub))
    }

    fn subscription(&self, id: u64) -> Result<Option<SubscriptionRecord>> {
        one(self
            .conn()?
            .query(
                "SELECT record FROM tb_subscriptions WHERE id = $1",
                &[&sql_id(id)],
            )
            .map_err(backend)?)
    }

    fn subscription_of(
        &self,
        site: &str,
        page_key: &str,
        email: &str,
    ) -> Result<Option<SubscriptionRecord>> {
        one(self
            .conn()?
            .query(
                "SELECT record FROM tb_subscriptions WHERE site = $1 AND page_key = $2 AND email = $3",
                &[&site, &page_key, &email],
            )
            .map_err(backend)?)
    }

    fn page_subscriptions(
        &self,
        site: &str,
        page_key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SubscriptionRecord>> {
        // Address order is byte order, as every backend keeps it.
        records(
            self.conn()?
                .query(
                    "SELECT record FROM tb_subscriptions WHERE site = $1 AND page_key = $2 \
                     AND ($3::text IS NULL OR email COLLATE \"C\" > $3) \
                     ORDER BY email COLLATE \"C\" LIMIT $4",
                    &[
                        &site,
                        &page_key,
                        &after,
                        &i64::try_from(limit).unwrap_or(i64::MAX),
                    ],
                )
                .map_err(backend)?,
        )
    }

    fn set_asked(&self, id: u64, at: i64) -> Result<()> {
        self.write(|tx| Subs(tx).set_asked(id, at))
    }

    fn confirm_address(&self, site: &str, email: &str, at: i64) -> Result<usize> {
        self.write(|tx| Subs(tx).confirm_address(site, email, at))
    }

    fn address_confirmed(&self, site: &str, email: &str) -> Result<bool> {
        confirmed(&mut self.conn()?.client, site, email)
    }

    fn unsubscribe(&self, id: u64) -> Result<bool> {
        self.write(|tx| Subs(tx).unsubscribe(id))
    }

    fn forget_address(&self, site: &str, email: &str) -> Result<usize> {
        self.write(|tx| Subs(tx).forget_address(site, email))
    }

    fn move_subscriptions(&self, site: &str, from: &str, to: &str) -> Result<usize> {
        self.write(|tx| Subs(tx).move_subscriptions(site, from, to))
    }

    fn was_mailed(&self, id: u64, comment: u64) -> Result<bool> {
        Ok(self
            .conn()?
            .query_opt(
                "SELECT 1 FROM tb_mailed WHERE subscription = $1 AND comment = $2",
                &[&sql_id(id), &sql_id(comment)],
            )
            .map_err(backend)?
            .is_some())
    }

    fn set_mailed(&self, id: u64, comment: u64) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO tb_mailed (subscription, comment) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&sql_id(id), &sql_id(comment)],
            )
            .map_err(backend)?;
        Ok(())
    }
}
