"""Processors: identity → temporality → dedup → derive. Pure, in-memory, seeded at start-up by the collector."""
