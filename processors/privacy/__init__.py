"""Privacy by allow-list: what may be stored of each point and event without the content opt-in."""

from processors.privacy.allowlist import (
    CONTENT_ATTRIBUTES,
    EVENT_ATTRIBUTES,
    METRIC_ATTRIBUTES,
    STANDARD_ATTRIBUTES,
    PrivacyFilter,
)

__all__ = ["CONTENT_ATTRIBUTES", "EVENT_ATTRIBUTES", "METRIC_ATTRIBUTES", "STANDARD_ATTRIBUTES", "PrivacyFilter"]
