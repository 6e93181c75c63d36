-- Talkback on PostgreSQL, schema version 1: a table per kind of record of `talkback-store`.
-- Records are kept as the store's serde documents (`record jsonb`, as sled keeps them); the
-- columns beside a record are what queries filter, order and join on, and every write that
-- changes a record updates them in the same transaction. Portable to CockroachDB and
-- YugabyteDB: no sequences (ids come from `tb_counters` in the writing transaction), no
-- advisory locks, no triggers.

-- Named counters. `change` is the sequence number of the newest change: every write
-- transaction increments it (a row lock held to COMMIT), so writers serialise on it and
-- sequence numbers follow commit order with no gaps, whichever server writes. The others
-- give out ids: `page`, `comment`, `ban`, `audit`, `subscription`; `spam_docs` and `ham_docs`
-- are the spam filter's document counts.
CREATE TABLE tb_counters (
    name text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO tb_counters (name, value) VALUES
    ('change', 0), ('page', 0), ('comment', 0), ('ban', 0), ('audit', 0),
    ('subscription', 0), ('spam_docs', 0), ('ham_docs', 0);

-- Secrets created on first use, the newest pruned change, and other single values.
CREATE TABLE tb_meta (
    key text PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE tb_sites (
    id text PRIMARY KEY,
    created bigint NOT NULL
);

CREATE TABLE tb_pages (
    id bigint PRIMARY KEY,
    site text NOT NULL,
    key text NOT NULL,
    record jsonb NOT NULL,
    UNIQUE (site, key)
);

CREATE TABLE tb_comments (
    id bigint PRIMARY KEY,
    page_id bigint NOT NULL REFERENCES tb_pages (id),
    -- NULL for a top-level comment.
    parent bigint,
    -- The top-level comment a reply is under (NULL for a top-level comment).
    root bigint,
    status text NOT NULL,
    pinned boolean NOT NULL DEFAULT false,
    site text NOT NULL,
    -- Where an import found it, for idempotent imports.
    source text,
    created bigint NOT NULL,
    record jsonb NOT NULL
);
-- Keyset pages of a thread's top-level comments, and a comment's direct replies.
CREATE INDEX tb_comments_thread ON tb_comments (page_id, parent, id);
-- Every reply under one top-level comment, in id order (a parent before its replies).
CREATE INDEX tb_comments_replies ON tb_comments (page_id, root, id) WHERE root IS NOT NULL;
-- Pinned comments open the first page.
CREATE INDEX tb_comments_pins ON tb_comments (page_id, id) WHERE pinned;
-- The moderation queue (pending and spam, newest first) without scanning every comment.
CREATE INDEX tb_comments_held ON tb_comments (status, id) WHERE status IN ('pending', 'spam');
-- Listings by site, newest first.
CREATE INDEX tb_comments_site ON tb_comments (site, id);
CREATE UNIQUE INDEX tb_comments_source ON tb_comments (site, source) WHERE source IS NOT NULL;

-- The change log: one row per write, appended in the write's transaction.
CREATE TABLE tb_changes (
    seq bigint PRIMARY KEY,
    at bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX tb_changes_at ON tb_changes (at);

-- Where each consumer of the change log stopped (mail, webhooks, the spam trainer, …).
CREATE TABLE tb_consumers (
    name text PRIMARY KEY,
    seq bigint NOT NULL
);

-- Approved comments per author (e-mail and name, lowercase) and site: first-time moderation.
CREATE TABLE tb_authors (
    site text NOT NULL,
    email text NOT NULL,
    name text NOT NULL,
    approved integer NOT NULL,
    PRIMARY KEY (site, email, name)
);

CREATE TABLE tb_bans (
    id bigint PRIMARY KEY,
    record jsonb NOT NULL
);

-- Each site's settings as the dashboard stored them (an opaque document).
CREATE TABLE tb_settings (
    site text PRIMARY KEY,
    document text NOT NULL
);

CREATE TABLE tb_admins (
    name text PRIMARY KEY,
    record jsonb NOT NULL
);

CREATE TABLE tb_sessions (
    id_hash text PRIMARY KEY,
    admin text NOT NULL,
    seen bigint NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX tb_sessions_seen ON tb_sessions (seen);
CREATE INDEX tb_sessions_admin ON tb_sessions (admin);

CREATE TABLE tb_audit (
    seq bigint PRIMARY KEY,
    record jsonb NOT NULL
);

-- The spam filter: learned counts per token, and what each comment taught.
CREATE TABLE tb_spam_tokens (
    token text PRIMARY KEY,
    spam integer NOT NULL,
    ham integer NOT NULL
);
CREATE TABLE tb_spam_trained (
    comment bigint PRIMARY KEY,
    label text NOT NULL,
    tokens jsonb NOT NULL
);

-- Readers' mail subscriptions, the addresses that confirmed, and who was mailed what.
CREATE TABLE tb_subscriptions (
    id bigint PRIMARY KEY,
    site text NOT NULL,
    page_key text NOT NULL,
    email text NOT NULL,
    record jsonb NOT NULL,
    UNIQUE (site, page_key, email)
);
CREATE INDEX tb_subscriptions_address ON tb_subscriptions (site, email);
CREATE TABLE tb_confirmed (
    site text NOT NULL,
    email text NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (site, email)
);
CREATE TABLE tb_mailed (
    subscription bigint NOT NULL,
    comment bigint NOT NULL,
    PRIMARY KEY (subscription, comment)
);
