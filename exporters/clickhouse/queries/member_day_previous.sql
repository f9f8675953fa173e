-- session_day_previous for members: the key of each member of a scope's UTC day (sipHash128 of member_type and
-- member, as day_summary_ids keeps it) with the last day before it, at or after `since`, it was active on
-- (1970-01-01 when none).
SELECT reinterpretAsUInt128(sipHash128(of_day.member_type, of_day.member)) AS member_key, earlier.previous
-- include: member_day_last_days
