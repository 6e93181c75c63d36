-- Schema version 4: rate limits every server counts together. One row per budget and client
-- (an IPv4 address or an IPv6 /64): the current one-minute window and its uses so far.
CREATE TABLE tb_quotas (
    key text PRIMARY KEY,
    window_start bigint NOT NULL,
    used integer NOT NULL
);
CREATE INDEX tb_quotas_window ON tb_quotas (window_start);
