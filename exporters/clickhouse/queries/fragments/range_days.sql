-- The rows of a daily rollup for a range of whole UTC days: from the day of `start` to the day before that
-- of `end` (the console passes the midnight after its last day).
WHERE day >= toDate({start:DateTime('UTC')})
  AND day < toDate({end:DateTime('UTC')})
