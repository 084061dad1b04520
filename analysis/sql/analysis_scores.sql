-- The item-level scores analyses read: each task's chosen metric only (see analysis_metrics.sql).
-- An item is (item_id, dataset_version): the same id in another dataset version is another item.
-- A view, not a copy: cell_scores and paired_differences scan `scores` directly (cheaper than
-- materialising millions of rows first).
CREATE OR REPLACE TEMP VIEW analysis_scores AS
SELECT s.task, s.shots, s.system, s.item_id, s.dataset_version, s.score
FROM scores s
JOIN analysis_metrics m ON m.task = s.task AND m.metric = s.metric;
