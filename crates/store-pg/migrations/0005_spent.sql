-- Schema version 5: one-time tokens used (signed form tokens' salts), so a captured token is good
-- for one comment on every server and after a restart. A row may go once its expiry is past.
CREATE TABLE tb_spent (
    token bytea PRIMARY KEY,
    expires bigint NOT NULL
);
CREATE INDEX tb_spent_expires ON tb_spent (expires);

-- Windows of any length in the shared counts (mail to readers counts by hour and by day):
-- each row says when its window ends, and rows are forgotten by that.
ALTER TABLE tb_quotas ADD COLUMN expires bigint NOT NULL DEFAULT 0;
UPDATE tb_quotas SET expires = window_start + 60000;
CREATE INDEX tb_quotas_expires ON tb_quotas (expires);

-- Feeds and the recent-comments list: a site's or a page's approved comments, newest first,
-- without scanning the others.
CREATE INDEX tb_comments_site_status ON tb_comments (site, status, id);
CREATE INDEX tb_comments_page_status ON tb_comments (page_id, status, id);
