-- One import's rows before they are checked and merged into `scores`. Temporary: it lives only as
-- long as the import's connection.
CREATE OR REPLACE TEMP TABLE score_staging (
  system           VARCHAR NOT NULL,
  task             VARCHAR NOT NULL,
  shots            INTEGER NOT NULL,
  item_id          VARCHAR NOT NULL,
  dataset_version  VARCHAR NOT NULL,
  metric           VARCHAR NOT NULL,
  score            DOUBLE NOT NULL,
  judge            VARCHAR,
  source           VARCHAR NOT NULL,
  seq              BIGINT NOT NULL      -- arrival order: the first row of a key wins
);
