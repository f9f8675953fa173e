-- The sessions of a scope's UTC day beyond its kept ones (day_summary_ids): how many kept ones the day holds (all
-- of them: a day's ids only grow) and the keys of the others, those that arrived since. One read of the day's
-- keys (~7 000 a day), where looking each of them up in the days before it reads the range's.
SELECT
    toUInt64(uniqExactIf(session_key, kept)) AS kept_ids,
    groupUniqArrayIf(session_key, NOT kept) AS new_keys
FROM
(
    SELECT
        session_key,
        session_key GLOBAL IN
        (
            -- include: day_kept_keys
        ) AS kept
    FROM session_days
    WHERE day = {day:Date}
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
)
