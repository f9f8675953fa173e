"""Temporality normalisation: every stored point is a delta."""

from processors.temporality.converter import (
    CumulativeToDelta,
    SeriesLimitReached,
    SeriesState,
    StoredSeries,
    StoredSeriesLookup,
    series_key,
)

__all__ = ["CumulativeToDelta", "SeriesLimitReached", "SeriesState", "StoredSeries", "StoredSeriesLookup", "series_key"]
