-- Studies (fleuve study FILE): the file as it was run, its resolved plan and the versions of
-- everything, one row per `study` run; and each step's key and status, so a rerun skips what an
-- earlier run already did with the same inputs and settings.
CREATE TABLE IF NOT EXISTS studies (
  run_id      VARCHAR PRIMARY KEY,
  study       VARCHAR NOT NULL,
  file        VARCHAR NOT NULL,
  content     VARCHAR NOT NULL,
  plan        JSON NOT NULL,
  versions    JSON NOT NULL,
  recorded_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS study_steps (
  study        VARCHAR NOT NULL,
  step         VARCHAR NOT NULL,
  key          VARCHAR NOT NULL,
  status       VARCHAR NOT NULL,
  study_run_id VARCHAR NOT NULL,
  run_id       VARCHAR,
  output       VARCHAR,
  started_at   TIMESTAMP NOT NULL,
  finished_at  TIMESTAMP,
  seconds      DOUBLE,
  summary      JSON,
  PRIMARY KEY (study, step, key)
);
