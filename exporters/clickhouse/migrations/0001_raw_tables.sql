-- Raw facts: every stored metric point (as a delta) and every event, with the member it belongs to.
-- request_digest ties each row to the OTLP request that delivered it, so duplicate suppression
-- survives restarts; series_key/cumulative/start_time let cumulative conversion resume after one.
CREATE TABLE IF NOT EXISTS metric_points
(
    time DateTime64(9, 'UTC'),
    start_time DateTime64(9, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    organization_id LowCardinality(String),
    member String,
    member_type LowCardinality(String),
    team LowCardinality(String),
    user_id String,
    session_id String,
    metric LowCardinality(String),
    unit LowCardinality(String),
    fact LowCardinality(String),
    value Float64,
    temporality UInt8,
    cumulative Float64,
    series_key UInt64,
    type LowCardinality(String),
    model LowCardinality(String),
    tool_name LowCardinality(String),
    decision LowCardinality(String),
    source LowCardinality(String),
    language LowCardinality(String),
    query_source LowCardinality(String),
    start_type LowCardinality(String),
    terminal_type LowCardinality(String),
    service_version LowCardinality(String),
    attributes Map(String, String),
    resource Map(String, String),
    request_digest FixedString(16)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (organization_id, metric, member, time);

CREATE TABLE IF NOT EXISTS events
(
    time DateTime64(9, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    organization_id LowCardinality(String),
    member String,
    member_type LowCardinality(String),
    team LowCardinality(String),
    user_id String,
    session_id String,
    event_name LowCardinality(String),
    prompt_id String,
    sequence Int64,
    model LowCardinality(String),
    tool_name LowCardinality(String),
    decision LowCardinality(String),
    source LowCardinality(String),
    success LowCardinality(String),
    cost_usd Float64,
    duration_ms Float64,
    input_tokens Float64,
    output_tokens Float64,
    cache_read_tokens Float64,
    cache_creation_tokens Float64,
    terminal_type LowCardinality(String),
    service_version LowCardinality(String),
    body String,
    attributes Map(String, String),
    resource Map(String, String),
    request_digest FixedString(16)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (organization_id, event_name, member, time);
