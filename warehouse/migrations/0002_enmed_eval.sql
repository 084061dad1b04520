-- EnMed evaluation: prediction cache, judge verdicts, score history and item history.

-- Every prediction ever made, by cache key (model id + revision + adapter hash + prompt hash +
-- decoding + dataset + item content hash + continuations): a lookup can only ever return the
-- answer of the very model, prompt and item asked for.
CREATE TABLE prediction_cache (
  cache_key         VARCHAR PRIMARY KEY,
  model_id          VARCHAR NOT NULL,
  model_revision    VARCHAR NOT NULL,
  adapter_hash      VARCHAR NOT NULL,
  kind              VARCHAR NOT NULL,          -- loglikelihood | generate
  task              VARCHAR NOT NULL,
  shots             INTEGER NOT NULL,
  item_id           VARCHAR NOT NULL,
  item_hash         VARCHAR NOT NULL,
  dataset_version   VARCHAR NOT NULL,
  prompt_hash       VARCHAR NOT NULL,
  decoding_hash     VARCHAR NOT NULL,
  output            VARCHAR,
  options           JSON,                      -- per option: logprob, tokens, chars, bytes, greedy
  truncated_tokens  INTEGER,
  created_at        TIMESTAMP DEFAULT current_timestamp
);

-- Judge verdicts, keyed by the prediction they judge and the judge's identity and order.
CREATE TABLE judgements (
  cache_key   VARCHAR NOT NULL,
  judge       VARCHAR NOT NULL,
  judge_kind  VARCHAR NOT NULL,                -- offline-reference | openai-compatible | local-model
  item_order  VARCHAR NOT NULL,                -- reference-first | answer-first
  score       DOUBLE NOT NULL,
  raw         VARCHAR,
  created_at  TIMESTAMP DEFAULT current_timestamp,
  PRIMARY KEY (cache_key, judge, item_order)
);

-- Scores replaced by a re-evaluation or retired with their item: kept, never deleted.
CREATE TABLE score_history (
  system           VARCHAR NOT NULL,
  task             VARCHAR NOT NULL,
  shots            INTEGER NOT NULL,
  item_id          VARCHAR NOT NULL,
  dataset_version  VARCHAR NOT NULL,
  metric           VARCHAR NOT NULL,
  score            DOUBLE NOT NULL,
  judge            VARCHAR,
  run_id           VARCHAR,
  source           VARCHAR,
  created_at       TIMESTAMP,
  superseded_at    TIMESTAMP DEFAULT current_timestamp,
  superseded_by    VARCHAR,                    -- run that replaced or retired the row
  reason           VARCHAR NOT NULL            -- changed | retired
);

-- Each content hash an item has had, so a change can be traced.
CREATE TABLE item_history (
  dataset       VARCHAR NOT NULL,
  item_id       VARCHAR NOT NULL,
  content_hash  VARCHAR NOT NULL,
  first_seen    TIMESTAMP DEFAULT current_timestamp,
  run_id        VARCHAR,
  PRIMARY KEY (dataset, item_id, content_hash)
);

-- Which judge kind each score came from, so the report can label offline-reference scores.
CREATE VIEW score_judges AS
SELECT s.*, CASE WHEN s.judge LIKE 'offline-reference%' THEN 'offline-reference'
                 WHEN s.judge LIKE 'openai-compatible%' THEN 'openai-compatible'
                 WHEN s.judge LIKE 'local-model%' THEN 'local-model'
                 WHEN s.judge IS NULL THEN NULL ELSE 'other' END AS judge_kind
FROM scores s;

-- Metrics lm-evaluation-harness logs per sample, so imported runs know their direction too.
INSERT INTO metrics VALUES
  ('exact_match', true, 'lm-evaluation-harness exact match'),
  ('acc_mutual_info', true, 'lm-evaluation-harness accuracy with mutual-information scoring')
ON CONFLICT DO NOTHING;
