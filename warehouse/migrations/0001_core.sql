-- Core tables of the warehouse. Keys make every write idempotent: re-running a job upserts or
-- skips, never duplicates.

CREATE TABLE runs (
  run_id       VARCHAR PRIMARY KEY,
  command      VARCHAR NOT NULL,
  started_at   TIMESTAMP NOT NULL,
  finished_at  TIMESTAMP,
  status       VARCHAR NOT NULL,          -- running | succeeded | failed
  args         JSON,
  summary      JSON
);

CREATE TABLE systems (
  system          VARCHAR PRIMARY KEY,
  model_id        VARCHAR,
  model_revision  VARCHAR,
  adapter_hash    VARCHAR,
  description     VARCHAR,
  created_at      TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE datasets (
  dataset       VARCHAR NOT NULL,
  version       VARCHAR NOT NULL,         -- content hash of the dataset's items
  task          VARCHAR,
  item_count    INTEGER,
  source        VARCHAR,
  created_at    TIMESTAMP DEFAULT current_timestamp,
  PRIMARY KEY (dataset, version)
);

CREATE TABLE items (
  task             VARCHAR NOT NULL,
  item_id          VARCHAR NOT NULL,
  dataset_version  VARCHAR NOT NULL,
  content_hash     VARCHAR NOT NULL,
  payload          JSON,
  retired          BOOLEAN DEFAULT false,
  PRIMARY KEY (task, item_id, dataset_version)
);

CREATE TABLE predictions (
  system           VARCHAR NOT NULL,
  task             VARCHAR NOT NULL,
  shots            INTEGER NOT NULL,
  item_id          VARCHAR NOT NULL,
  dataset_version  VARCHAR NOT NULL,
  cache_key        VARCHAR NOT NULL,
  model_id         VARCHAR,
  model_revision   VARCHAR,
  adapter_hash     VARCHAR,
  prompt_hash      VARCHAR,
  decoding_hash    VARCHAR,
  output           VARCHAR,
  options          JSON,
  created_at       TIMESTAMP DEFAULT current_timestamp,
  PRIMARY KEY (system, task, shots, item_id, dataset_version)
);

-- Metrics know their direction, so analyses never guess whether higher is better.
CREATE TABLE metrics (
  metric            VARCHAR PRIMARY KEY,
  higher_is_better  BOOLEAN NOT NULL,
  description       VARCHAR
);
INSERT INTO metrics VALUES
  ('score', true, 'generic score imported without a metric name'),
  ('acc', true, 'accuracy: argmax of option log-likelihood'),
  ('acc_norm', true, 'accuracy with log-likelihood divided by option length in characters'),
  ('acc_bytes', true, 'accuracy with log-likelihood divided by option length in UTF-8 bytes'),
  ('hamming', true, 'DrBenchmark Hamming score |pred ∩ gold| / |pred ∪ gold|'),
  ('emr', true, 'exact match ratio of the predicted answer set'),
  ('f1', true, 'SQuAD token F1 with French normalisation'),
  ('em', true, 'SQuAD exact match with French normalisation'),
  ('judge', true, 'LLM-as-judge score, 1 to 5'),
  ('loss', false, 'a loss: lower is better');

CREATE TABLE scores (
  system           VARCHAR NOT NULL,
  task             VARCHAR NOT NULL,
  shots            INTEGER NOT NULL,
  item_id          VARCHAR NOT NULL,
  dataset_version  VARCHAR NOT NULL,
  metric           VARCHAR NOT NULL,
  score            DOUBLE NOT NULL,
  judge            VARCHAR,
  run_id           VARCHAR,
  source           VARCHAR,                 -- file:line or topic/partition/offset it came from
  created_at       TIMESTAMP DEFAULT current_timestamp,
  PRIMARY KEY (system, task, shots, item_id, dataset_version, metric)
);

CREATE TABLE dead_letters (
  dead_letter_id  VARCHAR PRIMARY KEY,       -- hash of operator, position, reason, record: idempotent
  run_id          VARCHAR,
  operator        VARCHAR NOT NULL,
  reason          VARCHAR NOT NULL,
  field           VARCHAR,
  position        VARCHAR NOT NULL,          -- file:line, or topic[partition]@offset
  record          VARCHAR NOT NULL,
  created_at      TIMESTAMP DEFAULT current_timestamp
);
