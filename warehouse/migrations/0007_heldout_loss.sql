-- Each system's loss on held-out text (issue 18): mean next-token NLL over packed text the model
-- was not trained on — for the demo, corpus documents that restate known facts in wordings DAPT
-- never saw. One row per system, text content and sequence length: measuring again replaces it.
CREATE TABLE heldout_loss (
  system          VARCHAR NOT NULL,
  texts_hash      VARCHAR NOT NULL,          -- sha256 of the texts, in order, NUL-separated
  seq_len         INTEGER NOT NULL,
  texts_source    VARCHAR,                   -- where the texts came from (a file)
  model_id        VARCHAR,
  model_revision  VARCHAR,
  adapter_hash    VARCHAR,
  texts           INTEGER NOT NULL,
  sequences       INTEGER NOT NULL,
  tokens          INTEGER NOT NULL,
  mean_nll        DOUBLE NOT NULL,
  perplexity      DOUBLE NOT NULL,
  run_id          VARCHAR,
  created_at      TIMESTAMP DEFAULT current_timestamp,
  PRIMARY KEY (system, texts_hash, seq_len)
);
