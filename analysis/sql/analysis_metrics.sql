-- The one metric each task is analysed on, with its direction: the task's primary metric from the
-- view task_primary_metrics (migration 0004: acc, then f1, then judge, then score, then the
-- alphabetically first metric). `fleuve analyze --metric TASK=METRIC` overrides the choice for a
-- task. higher_is_better comes from `metrics`; NULL means the metric is unknown there, and analyze
-- refuses to guess.
CREATE OR REPLACE TEMP TABLE analysis_metrics AS
SELECT task, metric, higher_is_better FROM task_primary_metrics;
