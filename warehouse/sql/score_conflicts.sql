-- Staged rows that contradict another row: the same key earlier in the import with a different
-- score, or a key the warehouse already holds with a different score. Identical repeats are not
-- conflicts (re-importing a file changes nothing).
WITH firsts AS (
  SELECT system, task, shots, item_id, dataset_version, metric,
         arg_min(score, seq) AS first_score, arg_min(source, seq) AS first_source
  FROM score_staging
  GROUP BY ALL
)
SELECT s.seq, s.source, s.system, s.task, s.shots, s.item_id, s.dataset_version, s.metric, s.score,
       'same key as ' || f.first_source || ' with a different score (' || s.score || ' vs ' || f.first_score || ')' AS reason
FROM score_staging s
JOIN firsts f USING (system, task, shots, item_id, dataset_version, metric)
WHERE s.score <> f.first_score
UNION ALL
SELECT s.seq, s.source, s.system, s.task, s.shots, s.item_id, s.dataset_version, s.metric, s.score,
       'the warehouse already holds this key with score ' || w.score || ' (from ' || coalesce(w.source, 'unknown') || ')' AS reason
FROM score_staging s
JOIN scores w USING (system, task, shots, item_id, dataset_version, metric)
WHERE s.score <> w.score
ORDER BY seq;
