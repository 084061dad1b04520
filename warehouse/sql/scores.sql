-- Merges the staged rows into `scores`, skipping the rejected sequence numbers in
-- `score_rejected`. Keys already present with the same score are left alone: idempotent.
INSERT INTO scores (system, task, shots, item_id, dataset_version, metric, score, judge, run_id, source)
SELECT system, task, shots, item_id, dataset_version, metric,
       arg_min(score, seq), arg_min(judge, seq), $run_id, arg_min(source, seq)
FROM score_staging
WHERE seq NOT IN (SELECT seq FROM score_rejected)
GROUP BY system, task, shots, item_id, dataset_version, metric
ON CONFLICT DO NOTHING;
