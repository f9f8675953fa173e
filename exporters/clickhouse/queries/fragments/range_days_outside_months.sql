-- The rows of a daily rollup for the days of the range outside its whole calendar months: the days before
-- the first and after the last whole month (aliases from range_bounds).
WHERE day >= first_day
  AND day < end_day
  AND (day < first_month OR day >= end_month)
