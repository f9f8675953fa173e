"""How the receiver reports each request's outcome (for logs and self-metrics), without knowing who listens."""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("cc_analytics.receiver")


class IngestObserver(Protocol):
    def request_done(
        self, protocol: str, signal: str, status: str, reason: str, accepted: int, rejected: int, seconds: float
    ) -> None:
        """status: ok | partial | duplicate | bad_request | too_large | unauthenticated | unsupported_media_type
        | overloaded | unavailable."""


class LoggingObserver:
    """Logs one structured line per refused or partially accepted request; successes stay quiet."""

    def request_done(
        self, protocol: str, signal: str, status: str, reason: str, accepted: int, rejected: int, seconds: float
    ) -> None:
        if status in ("ok", "duplicate"):
            log.debug(
                "otlp.request",
                extra={"fields": {"protocol": protocol, "signal": signal, "status": status, "accepted": accepted}},
            )
            return
        level = logging.ERROR if status == "unavailable" else logging.WARNING
        log.log(
            level,
            "otlp.request_refused" if status != "partial" else "otlp.request_partial",
            extra={
                "fields": {
                    "protocol": protocol,
                    "signal": signal,
                    "status": status,
                    "reason": reason,
                    "accepted": accepted,
                    "rejected": rejected,
                }
            },
        )
