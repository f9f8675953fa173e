"""Duplicate suppression of requests delivered again (client retries after a lost response)."""

from processors.dedup.window import RequestDeduplicator, StoredDigests

__all__ = ["RequestDeduplicator", "StoredDigests"]
