"""The collector's own counters across a graceful stop.

A scraper reads a counter every scrape interval; what it gained after the last scrape before a stop would be
lost to `increase()` if the next process started the counter from 0 again. So at a graceful stop the exposed
value of every cumulative sample of the collector's families (`cc_analytics_*`: counters, and histograms'
buckets, counts and sums) is written to a file, and the next start shows each from that value on, from its
first scrape: the scraper sees the series go on rising, with nothing reset. `process_*` and `python_*` describe
the running process and start over.

The file is consumed when read: after a crash (no graceful stop, no file) the counters start at 0 and are held
at 0 for the start-up hold (exposition.py), so a scraper sees the reset, then every new increment.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.metrics_core import Metric

log = logging.getLogger("cc_analytics.exporter")

CARRIED_PREFIX = "cc_analytics_"
CUMULATIVE_SUFFIXES = ("_total", "_bucket", "_count", "_sum")

SampleKey = tuple[str, tuple[tuple[str, str], ...]]


def sample_key(name: str, labels: dict[str, str]) -> SampleKey:
    return name, tuple(sorted(labels.items()))


def series_of(values: dict[SampleKey, float]) -> frozenset[SampleKey]:
    """The series (family name without its sample suffix, labels without `le`) that `values` carry."""
    series = set()
    for name, labels in values:
        base = next(name.removesuffix(suffix) for suffix in CUMULATIVE_SUFFIXES if name.endswith(suffix))
        series.add((base, tuple(pair for pair in labels if pair[0] != "le")))
    return frozenset(series)


def carried(metrics: Iterable[Metric]) -> dict[SampleKey, float]:
    """The values a stop hands to the next start: the collector's cumulative samples as a scrape shows them."""
    values: dict[SampleKey, float] = {}
    for metric in metrics:
        if not metric.name.startswith(CARRIED_PREFIX):
            continue
        for sample in metric.samples:
            if sample.name.endswith(CUMULATIVE_SUFFIXES) and sample.value:
                values[sample_key(sample.name, sample.labels)] = float(sample.value)
    return values


class CarryOverFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def take(self) -> dict[SampleKey, float]:
        """What the last graceful stop left (nothing after a crash), and the file removed, so that a crash later
        in this run is never followed by these values again."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("exporter.carryover_unreadable", extra={"fields": {"path": str(self.path), "error": str(exc)}})
            text = ""
        if not self._removed() or not text:
            return {}  # counters from 0, held: a reset the scraper sees, never a value carried twice
        try:
            rows = json.loads(text)
            values = {
                (str(name), tuple((str(k), str(v)) for k, v in labels)): float(value) for name, labels, value in rows
            }
        except (ValueError, TypeError):
            log.warning(
                "exporter.carryover_unreadable", extra={"fields": {"path": str(self.path), "error": "malformed"}}
            )
            return {}
        log.info("exporter.carryover_restored", extra={"fields": {"samples": len(values)}})
        return values

    def save(self, values: dict[SampleKey, float]) -> None:
        rows = [[name, [list(pair) for pair in labels], value] for (name, labels), value in sorted(values.items())]
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with temporary.open("w", encoding="utf-8") as out:
                json.dump(rows, out, separators=(",", ":"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:  # the next start's counters then begin at 0, held: a reset, never a double count
            log.warning("exporter.carryover_not_saved", extra={"fields": {"path": str(self.path), "error": str(exc)}})
            return
        log.info("exporter.carryover_saved", extra={"fields": {"samples": len(values)}})

    def _removed(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("exporter.carryover_not_removed", extra={"fields": {"path": str(self.path), "error": str(exc)}})
            return False
        return True
