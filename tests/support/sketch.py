"""The latency percentiles the dashboards read from DDSketches (migration 0014): the exact percentile to within
the sketch's relative accuracy."""

from __future__ import annotations

RELATIVE_ACCURACY = 0.01


class Sketched(float):
    """An expected percentile: the exact value (quantileExact's), which a sketch's may miss by up to 1 %."""


def within_sketch(actual: object, exact: float) -> bool:
    """Whether `actual` is `exact` to within the sketch's relative accuracy (and is a number at all)."""
    if not isinstance(actual, int | float):
        return False
    return abs(float(actual) - exact) <= RELATIVE_ACCURACY * abs(exact)
