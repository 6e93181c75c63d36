-- Schema version 2: where imported comments came from, kept after the comment goes (as sled
-- keeps it), so an import run again never brings back a comment the blogger deleted.
CREATE TABLE tb_sources (
    site text NOT NULL,
    source text NOT NULL,
    comment bigint NOT NULL,
    PRIMARY KEY (site, source)
);
