-- The ids kept of a scope's UTC day and kind (day_summary_ids), each once: a day looked up whole writes only
-- the ids not kept already, so its kept rows stay one per id between merges.
SELECT DISTINCT key
FROM
(
    -- include: day_kept_keys
)
