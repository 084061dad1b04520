-- Lands one staged batch of judge verdicts, keyed by (prediction, judge, item order): a verdict
-- already there is kept.
INSERT INTO judgements BY NAME
SELECT DISTINCT ON (cache_key, judge, item_order) * FROM {{staging}}
ON CONFLICT DO NOTHING;
