-- The rows of a monthly rollup for the whole calendar months of the range (aliases from range_bounds).
WHERE month >= first_month
  AND month < end_month
