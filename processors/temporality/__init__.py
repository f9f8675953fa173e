"""Temporality normalisation: every stored point is a delta."""

from processors.temporality.converter import (
    CumulativeToDelta,
    DropReason,
    SeriesLimitReached,
    SeriesState,
    StoredSeries,
    StoredSeriesLookup,
    series_key,
)

__all__ = [
    "CumulativeToDelta",
    "DropReason",
    "SeriesLimitReached",
    "SeriesState",
    "StoredSeries",
    "StoredSeriesLookup",
    "series_key",
]
