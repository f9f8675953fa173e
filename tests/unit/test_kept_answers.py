"""Analytics answers kept until a commit changes them (console/answers.py): asked again before a commit of its
organization's rows, a question is answered without computing; after one, never with what was kept before it."""

from __future__ import annotations

from collections.abc import Callable

from console.answers import Answer, KeptAnswers
from pdata import EventFact, LogEvent, Member, MetricPoint, PointFact

EVERY_ORG = ""


def _counting(answers: list[Answer]) -> tuple[Callable[[], Answer], list[int]]:
    """A computation returning `answers` one after another, and how many times it ran."""
    runs = [0]

    def compute() -> Answer:
        runs[0] += 1
        return answers[runs[0] - 1]

    return compute, runs


def _ask(kept: KeptAnswers, computed: list[str], question: str, organization: str) -> Answer:
    """`question` about `organization` asked of `kept`, its answer {"question": question}; each computation is
    recorded in `computed`."""

    def compute() -> Answer:
        computed.append(question)
        return {"question": question}

    return kept.answer(question, organization, compute)


def _commit(kept: KeptAnswers, *organizations: str) -> None:
    """What the pipeline tells `kept` of a committed group: a point of each organization's member."""
    point = MetricPoint("claude_code.lines_of_code.count", "count", 1, True, 0, 1, 1.0, {}, {})
    points = [
        PointFact(point, Member("dev@example.com", "email", organization), 1.0, 1, "lines_added", "", b"d", 1)
        for organization in organizations
    ]
    kept.committed(points, [])


def test_a_question_asked_again_before_a_commit_is_answered_as_before_without_computing() -> None:
    kept = KeptAnswers(8)
    compute, runs = _counting([{"accepted_lines": 16}, {"accepted_lines": 21}])
    assert kept.answer("q", "org-a", compute) == {"accepted_lines": 16}
    assert kept.answer("q", "org-a", compute) == {"accepted_lines": 16}
    assert runs == [1]
    assert (kept.kept, kept.computed) == (1, 1)
    _commit(kept, "org-a")
    assert kept.answer("q", "org-a", compute) == {"accepted_lines": 21}
    assert runs == [2]
    assert (kept.kept, kept.computed) == (1, 2)


def test_a_commit_forgets_the_answers_about_its_organizations_and_about_all_of_them_only() -> None:
    kept = KeptAnswers(8)
    computed: list[str] = []

    def ask(question: str, organization: str) -> None:
        assert _ask(kept, computed, question, organization) == {"question": question}

    for question, organization in (("a", "org-a"), ("b", "org-b"), ("all", EVERY_ORG)):
        ask(question, organization)
    _commit(kept, "org-b")
    for question, organization in (("a", "org-a"), ("b", "org-b"), ("all", EVERY_ORG)):
        ask(question, organization)
    assert computed == ["a", "b", "all", "b", "all"]
    # An event's organization counts as a point's does; a commit of nothing (duplicates only) forgets nothing.
    event = EventFact(LogEvent(1, "user_prompt", "", {}, {}), Member("k", "api_key", "org-a"), {}, b"d", 1)
    kept.committed([], [event])
    kept.committed([], [])
    ask("a", "org-a")
    ask("b", "org-b")
    assert computed == ["a", "b", "all", "b", "all", "a"]


def test_an_answer_computed_while_its_organization_was_committed_is_not_kept() -> None:
    kept = KeptAnswers(8)
    runs = [0]

    def compute_across_a_commit(organization: str) -> Callable[[], Answer]:
        def compute() -> Answer:
            runs[0] += 1
            _commit(kept, organization)  # rows committed while the store was being read: may predate them
            return {"run": runs[0]}

        return compute

    assert kept.answer("a", "org-a", compute_across_a_commit("org-a")) == {"run": 1}
    assert kept.answer("a", "org-a", compute_across_a_commit("org-a")) == {"run": 2}
    # Another organization's commit meanwhile: this one's rows did not change, the answer is kept...
    assert kept.answer("a", "org-a", compute_across_a_commit("org-b")) == {"run": 3}
    assert kept.answer("a", "org-a", compute_across_a_commit("org-b")) == {"run": 3}
    # ...but not an answer about all organizations.
    assert kept.answer("all", EVERY_ORG, compute_across_a_commit("org-b")) == {"run": 4}
    assert kept.answer("all", EVERY_ORG, compute_across_a_commit("org-b")) == {"run": 5}


def test_questions_are_kept_apart_and_the_least_recently_asked_is_forgotten_first() -> None:
    kept = KeptAnswers(2)
    computed: list[str] = []

    asked = [_ask(kept, computed, question, question)["question"] for question in ("a", "b", "a", "c", "a", "b")]
    assert asked == ["a", "b", "a", "c", "a", "b"]
    # "b" was the least recently asked when "c" came: forgotten, computed again; "a" stayed.
    assert computed == ["a", "b", "c", "b"]


def test_with_no_room_every_answer_is_computed() -> None:
    kept = KeptAnswers(0)
    compute, runs = _counting([{"n": 1}, {"n": 2}])
    assert kept.answer("q", "org-a", compute) == {"n": 1}
    assert kept.answer("q", "org-a", compute) == {"n": 2}
    assert runs == [2]
