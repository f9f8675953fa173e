"""Analytics answers kept until the next commit (console/answers.py): asked again between two commits, a question
is answered without computing; after a commit, never with what was kept before it."""

from __future__ import annotations

from collections.abc import Callable

from console.answers import Answer, KeptAnswers


def _counting(answers: list[Answer]) -> tuple[Callable[[], Answer], list[int]]:
    """A computation returning `answers` one after another, and how many times it ran."""
    runs = [0]

    def compute() -> Answer:
        runs[0] += 1
        return answers[runs[0] - 1]

    return compute, runs


def test_a_question_asked_again_before_a_commit_is_answered_as_before_without_computing() -> None:
    kept = KeptAnswers(8)
    compute, runs = _counting([{"accepted_lines": 16}, {"accepted_lines": 21}])
    assert kept.answer("org-a", compute) == {"accepted_lines": 16}
    assert kept.answer("org-a", compute) == {"accepted_lines": 16}
    assert runs == [1]
    assert (kept.kept, kept.computed) == (1, 1)
    kept.committed()
    assert kept.answer("org-a", compute) == {"accepted_lines": 21}
    assert runs == [2]
    assert (kept.kept, kept.computed) == (1, 2)


def test_an_answer_computed_while_a_commit_happened_is_not_kept() -> None:
    kept = KeptAnswers(8)
    runs = [0]

    def compute_across_a_commit() -> Answer:
        runs[0] += 1
        if runs[0] == 1:
            kept.committed()  # rows committed while the store was being read: this answer may predate them
        return {"accepted_lines": 10 * runs[0]}

    assert kept.answer("org-a", compute_across_a_commit) == {"accepted_lines": 10}
    assert kept.answer("org-a", compute_across_a_commit) == {"accepted_lines": 20}
    assert kept.answer("org-a", compute_across_a_commit) == {"accepted_lines": 20}
    assert runs == [2]


def test_questions_are_kept_apart_and_the_least_recently_asked_is_forgotten_first() -> None:
    kept = KeptAnswers(2)
    computed: list[str] = []

    def answer(question: str) -> Answer:
        def compute() -> Answer:
            computed.append(question)
            return {"org": question}

        return kept.answer(question, compute)

    assert [answer(q)["org"] for q in ("a", "b", "a", "c", "a", "b")] == ["a", "b", "a", "c", "a", "b"]
    # "b" was the least recently asked when "c" came: forgotten, computed again; "a" stayed.
    assert computed == ["a", "b", "c", "b"]


def test_with_no_room_every_answer_is_computed() -> None:
    kept = KeptAnswers(0)
    compute, runs = _counting([{"n": 1}, {"n": 2}])
    assert kept.answer("org-a", compute) == {"n": 1}
    assert kept.answer("org-a", compute) == {"n": 2}
    assert runs == [2]
