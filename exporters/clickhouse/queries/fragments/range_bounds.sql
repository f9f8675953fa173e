-- The bounds of a range of whole UTC days split by calendar month, for a WITH clause: first_day and end_day
-- (the range is [first_day, end_day)), and the whole calendar months inside it, [first_month, end_month).
-- Queries read those months from a monthly rollup (range_whole_months) and only the days around them from
-- a daily one (range_days_outside_months), so each day is counted once.
toDate({start:DateTime('UTC')}) AS first_day,
toDate({end:DateTime('UTC')}) AS end_day,
if(toDayOfMonth(first_day) = 1, first_day, addMonths(toStartOfMonth(first_day), 1)) AS first_month,
toStartOfMonth(end_day) AS end_month
