"""Analytics answers kept in memory until the next commit.

An analytics answer changes only when rows are committed: until then the same question gets the same answer.
A console left open, a wall display refreshing every few seconds, or a script polling until its data shows ask
the same question many times between two commits (the writer commits at most every `queue.drain_interval_ms`
under load), and each answer costs the store several queries (~20 ms of CPU for the smallest). Kept answers
are served instead, so readers polling the API do not take the CPU the ingest needs.

Exact by construction: every commit starts a new generation and forgets every kept answer before the
commit's requests are acknowledged (the pipeline's `before_answers`), and an answer is kept only if no commit
happened while it was computed, so no answer from before a commit is served after it. Only the embedded store qualifies: on a ClickHouse server other collectors commit
too, and this one would not know (collector/app.py keeps none there).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date
from typing import Any

from console import readmodels
from pdata.store import NamedQueries

Answer = dict[str, Any]


class KeptAnswers:
    """Up to `max_answers` answers, the least recently asked forgotten first; `kept` and `computed` count how
    each question was answered (the collector's /metrics shows them)."""

    def __init__(self, max_answers: int) -> None:
        self.max_answers = max_answers
        self._lock = threading.Lock()
        self._generation = 0
        self._answers: OrderedDict[Hashable, Answer] = OrderedDict()
        self.kept = 0
        self.computed = 0

    def committed(self) -> None:
        """Rows were committed (the pipeline calls it before it acknowledges them): every kept answer may be out
        of date."""
        with self._lock:
            self._generation += 1
            self._answers.clear()

    def answer(self, question: Hashable, compute: Callable[[], Answer]) -> Answer:
        """The kept answer to `question`, or `compute()`'s, kept when no commit happened meanwhile. Callers
        must not change the answer they get: it may be served again."""
        with self._lock:
            kept = self._answers.get(question)
            if kept is not None:
                self._answers.move_to_end(question)
                self.kept += 1
                return kept
            generation = self._generation
            self.computed += 1
        computed = compute()
        with self._lock:
            if self._generation == generation and self.max_answers > 0:
                self._answers[question] = computed
                if len(self._answers) > self.max_answers:
                    self._answers.popitem(last=False)
        return computed

    def analytics(
        self, store: NamedQueries, start: date, end: date, organization_id: str = "", team: str = ""
    ) -> Answer:
        """`readmodels.analytics`, kept until the next commit."""
        return self.answer(
            ("analytics", start, end, organization_id, team),
            lambda: readmodels.analytics(store, start, end, organization_id, team),
        )
