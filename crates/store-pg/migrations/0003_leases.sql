-- Schema version 3: which server works each consumer of the change log (owner mail, readers'
-- mail, each webhook, digests, the spam trainer), so every item is worked by one server. A
-- claim lasts until `until` (Unix ms); its holder renews it, and another server takes it over
-- once it has run out.
CREATE TABLE tb_leases (
    name text PRIMARY KEY,
    holder text NOT NULL,
    until bigint NOT NULL
);
