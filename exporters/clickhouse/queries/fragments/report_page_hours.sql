-- The rows of an hourly rollup the Admin-API report reads: the hours of its UTC day, the members of one page.
WHERE hour >= {start:DateTime('UTC')}
  AND hour < {end:DateTime('UTC')}
  AND member IN {members:Array(String)}
