-- Lands the staged dead letters; one already there (same id: operator, position, reason, record) is kept.
INSERT INTO dead_letters (dead_letter_id, run_id, operator, reason, field, position, record)
SELECT DISTINCT ON (dead_letter_id) * FROM {{staging}}
ON CONFLICT DO NOTHING;
