-- The last columns of the console's figures over daily rollup rows: decisions, members and sessions
-- distinct over all the rows merged (uniqExact states, not summed), sessions without an id added, spend.
sum(accepts) AS accepts,
sum(rejects) AS rejects,
uniqExactMerge(members) AS active_users,
uniqExactMerge(sessions) + toUInt64(sum(unidentified_session_starts)) AS sessions,
sum(spend_usd) AS spend_usd
