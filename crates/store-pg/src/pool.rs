//! The connection pool, and each connection's prepared statements. The `postgres` client
//! prepares a statement given as text anew on every call (a round trip, and planning, before
//! the one that runs it); here each connection prepares each of the store's statements once
//! and runs it by name from then on, so a write holding the change log's lock costs half the
//! round trips.

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, Statement};

/// One pooled connection and the statements prepared on it.
pub(crate) struct Pg {
    pub(crate) client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Pg {
    /// The connection with its statement cache, outside a transaction.
    pub(crate) fn db(&mut self) -> Db<'_, Client> {
        Db {
            client: &mut self.client,
            statements: &mut self.statements,
        }
    }

    /// Its client and its cache apart (for a transaction on the client that uses the cache).
    pub(crate) fn parts(&mut self) -> (&mut Client, &mut HashMap<&'static str, Statement>) {
        (&mut self.client, &mut self.statements)
    }
}

/// Statements the store runs rarely go to the client as text.
impl std::ops::Deref for Pg {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Pg {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Opens connections for the pool.
pub(crate) struct Manager {
    pub(crate) target: crate::Target,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Pg;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Pg, postgres::Error> {
        Ok(Pg {
            client: self.target.connect()?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Pg) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(drop)
    }

    fn has_broken(&self, conn: &mut Pg) -> bool {
        conn.client.is_closed()
    }
}

/// A client (a connection or a transaction on it) that runs the store's statements prepared.
/// Statements are the store's own literals; a statement prepared in a transaction stays
/// prepared after it ends, whatever its outcome.
pub(crate) struct Db<'a, C: GenericClient> {
    pub(crate) client: &'a mut C,
    pub(crate) statements: &'a mut HashMap<&'static str, Statement>,
}

impl<'a, C: GenericClient> Db<'a, C> {
    pub(crate) fn new(
        client: &'a mut C,
        statements: &'a mut HashMap<&'static str, Statement>,
    ) -> Self {
        Self { client, statements }
    }

    fn prepared(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    pub(crate) fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.client.query(&statement, params)
    }

    pub(crate) fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.client.query_opt(&statement, params)
    }

    pub(crate) fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.prepared(sql)?;
        self.client.execute(&statement, params)
    }
}
