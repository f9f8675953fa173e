"""Constructors for the families of collector alerts that differ only in their metric, threshold and text, so
that each declaration says only what is its own."""

from __future__ import annotations

from typing import Any

from generator.alerts.model import COLLECTOR, Alert
from generator.alerts.scenarios import C1_LABELS, ORG_LABELS

PER_INSTANCE = "max by (job, instance)"


def collector_alert(**fields: Any) -> Alert:
    """An alert of the collector group; unless told otherwise it fires per collector and is a warning."""
    defaults: dict[str, Any] = {"group": COLLECTOR, "labels": C1_LABELS, "op": ">", "severity": "warning"}
    return Alert(**{**defaults, **fields})


def increase_alert(counter: str, window: str = "15m", by: str = "job, instance", **fields: Any) -> Alert:
    """An alert that fires on any increase of `counter` (a collector's, as recording.collector() selects it) over
    `window`; its value is that increase."""
    return collector_alert(value=f"sum by ({by}) (increase({counter}[{window}]))", threshold=0, **fields)


def gauge_alert(gauge: str, threshold: Any, **fields: Any) -> Alert:
    """An alert that fires while a collector's `gauge` (as recording.collector() selects it) is above
    `threshold`; replicas of one instance count once."""
    return collector_alert(value=f"{PER_INSTANCE} ({gauge})", threshold=threshold, **fields)


def organization_alert(**fields: Any) -> Alert:
    """An alert that fires per organization (ORG in the scenarios); unless told otherwise on a figure above its
    threshold."""
    defaults: dict[str, Any] = {"labels": ORG_LABELS, "op": ">"}
    return Alert(**{**defaults, **fields})
