"""Analytics answers kept in memory until a commit changes their organization's rows.

An analytics answer changes only when rows of its organization are committed: until then the same question gets
the same answer. A console left open, a wall display refreshing every few seconds, or a script polling until its
data shows ask the same question many times between two commits, and each answer costs the store several
queries (~20 ms of CPU for the smallest). Kept answers are served instead, so readers polling the API do not
take the CPU the ingest needs.

Exact by construction: a commit forgets the answers about the organizations whose rows it holds, and those
about all organizations, before its requests are acknowledged (the pipeline's `before_answers`); an answer is
kept only if no such commit happened while it was computed. So no answer from before a commit is served after
it. Only the embedded store qualifies: on a ClickHouse server other collectors commit too, and this one would
not know (collector/app.py keeps none there).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from datetime import date
from typing import Any

from console import readmodels
from pdata import EventFact, PointFact
from pdata.store import NamedQueries

Answer = dict[str, Any]
ALL_ORGANIZATIONS = ""  # a question's organization: "" asks about every one


class KeptAnswers:
    """Up to `max_answers` answers, the least recently asked forgotten first; `kept` and `computed` count how
    each question was answered (the collector's /metrics shows them)."""

    def __init__(self, max_answers: int) -> None:
        self.max_answers = max_answers
        self._lock = threading.Lock()
        self._generation = 0  # commits so far
        self._changed_at: dict[str, int] = {}  # organization → the commit that last changed its rows
        self._answers: OrderedDict[Hashable, tuple[str, Answer]] = OrderedDict()
        self.kept = 0
        self.computed = 0

    def committed(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> None:
        """Rows were committed (the pipeline calls it before it acknowledges them): the answers about their
        organizations, and about all of them, may be out of date."""
        if self.max_answers == 0:
            return  # none is ever kept: no need to go through the group's facts before its answers
        changed = {fact.member.organization_id for fact in points} | {fact.member.organization_id for fact in events}
        if not changed:
            return  # nothing was written (every request a duplicate)
        with self._lock:
            self._generation += 1
            for organization in changed:
                self._changed_at[organization] = self._generation
            for question in [
                question
                for question, (organization, _) in self._answers.items()
                if organization == ALL_ORGANIZATIONS or organization in changed
            ]:
                del self._answers[question]

    def answer(self, question: Hashable, organization: str, compute: Callable[[], Answer]) -> Answer:
        """The kept answer to `question` about `organization` ("": all of them), or `compute()`'s, kept when no
        commit changed that organization's rows meanwhile. Callers must not change the answer they get: it may
        be served again."""
        with self._lock:
            kept = self._answers.get(question)
            if kept is not None:
                self._answers.move_to_end(question)
                self.kept += 1
                return kept[1]
            started_at = self._generation
            self.computed += 1
        computed = compute()
        with self._lock:
            if self._last_change(organization) <= started_at and self.max_answers > 0:
                self._answers[question] = (organization, computed)
                if len(self._answers) > self.max_answers:
                    self._answers.popitem(last=False)
        return computed

    def _last_change(self, organization: str) -> int:
        if organization == ALL_ORGANIZATIONS:
            return self._generation
        return self._changed_at.get(organization, 0)

    def analytics(
        self, store: NamedQueries, start: date, end: date, organization_id: str = "", team: str = ""
    ) -> Answer:
        """`readmodels.analytics`, kept until a commit changes the organization's rows."""
        return self.answer(
            ("analytics", start, end, organization_id, team),
            organization_id,
            lambda: readmodels.analytics(store, start, end, organization_id, team),
        )
