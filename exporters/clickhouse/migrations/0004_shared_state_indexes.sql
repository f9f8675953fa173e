-- Skip indexes for the lookups of collectors sharing one store (dedup.shared): before counting a group of
-- requests, a collector asks which of their digests are stored (stored_request_digests.sql) and the last stored
-- point of their cumulative series (stored_series_state.sql). The raw tables are sorted by organization, metric,
-- member and time, so without these every lookup reads every granule of the window; a bloom filter per granule
-- lets it read only the granules that may hold one of the group's few digests or series. Parts written before
-- this migration get the indexes when merges rewrite them.
ALTER TABLE metric_points ADD INDEX IF NOT EXISTS request_digest_bloom request_digest TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE metric_points ADD INDEX IF NOT EXISTS series_key_bloom series_key TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE events ADD INDEX IF NOT EXISTS request_digest_bloom request_digest TYPE bloom_filter(0.01) GRANULARITY 1;
