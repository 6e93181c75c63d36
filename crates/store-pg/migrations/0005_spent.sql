-- Schema version 5: one-time tokens used (signed form tokens' salts), so a captured token is good
-- for one comment on every server and after a restart. A row may go once its expiry is past.
CREATE TABLE tb_spent (
    token bytea PRIMARY KEY,
    expires bigint NOT NULL
);
CREATE INDEX tb_spent_expires ON tb_spent (expires);
