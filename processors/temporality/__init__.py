"""Temporality normalisation: every stored point is a delta."""

from processors.temporality.converter import CumulativeToDelta, SeriesState, series_key

__all__ = ["CumulativeToDelta", "SeriesState", "series_key"]
