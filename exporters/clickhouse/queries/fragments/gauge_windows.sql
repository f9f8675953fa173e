-- The derived gauges' windows over a daily rollup: each row once per window it falls in (`w.1` the window's
-- name, `w.2` its days), each window the whole UTC days ending on the day of `now`, that day included.
ARRAY JOIN arrayZip({windows:Array(String)}, {days:Array(UInt16)}) AS w
WHERE day >= toDate({now:DateTime('UTC')}) - (arrayMax({days:Array(UInt16)}) - 1)
  AND day <= toDate({now:DateTime('UTC')})
  AND day >= toDate({now:DateTime('UTC')}) - (w.2 - 1)
