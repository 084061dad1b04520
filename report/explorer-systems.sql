-- Each system's side of the explorer's items (explorer-items.sql, in the temp table
-- explorer_items): its score, its prediction (output, per-option log-likelihoods as JSON) and the
-- judge verdicts on that prediction.
SELECT sc.task, sc.shots, sc.item_id, sc.dataset_version, sc.system, sc.score,
       p.output, p.options::VARCHAR AS options,
       (SELECT to_json(list({"judge": j.judge, "order": j.item_order, "score": j.score, "raw": j.raw} ORDER BY j.judge, j.item_order))::VARCHAR
        FROM judgements j WHERE j.cache_key = p.cache_key) AS judgements
FROM explorer_items e
JOIN scores sc ON sc.task = e.task AND sc.shots = e.shots AND sc.item_id = e.item_id AND sc.dataset_version = e.dataset_version
JOIN analysis_metrics m ON m.task = sc.task AND m.metric = sc.metric
LEFT JOIN predictions p ON p.system = sc.system AND p.task = sc.task AND p.shots = sc.shots AND p.item_id = sc.item_id AND p.dataset_version = sc.dataset_version
ORDER BY sc.task, sc.shots, sc.item_id, sc.dataset_version, sc.system
