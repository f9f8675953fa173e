"""The gateway rows of the queue.mode=wal table (bench/durable.py, bench/report.py): each round is set against the
decode ceilings measured just before and just after it, and the row gives the median round beside every
round's ratio. Not timed; the figures belong to `make bench`."""

from __future__ import annotations

from typing import Any

from bench.report import durable_rows, median_round, round_ratio


def _round(stored: float, before: float, after: float, matched: bool = True) -> dict[str, Any]:
    return {
        "items_per_s_committed": stored + 1_000,
        "items_per_s_stored": stored,
        "latency_p99_ms": 500.0,
        "visible_after_last_ack_s": 1.25,
        "api_totals_match": matched,
        "ceilings": [before, after],
    }


# The ceilings 30 000, 34 000, 26 000, 30 000 /s around three rounds: 0.45×, 0.50×, 0.40×.
ROUNDS = [_round(14_400, 30_000, 34_000), _round(15_000, 34_000, 26_000), _round(11_200, 26_000, 30_000)]


def test_a_round_is_set_against_the_mean_of_the_ceilings_around_it() -> None:
    assert [round(round_ratio(run_), 3) for run_ in ROUNDS] == [0.45, 0.5, 0.4]


def test_the_median_round_is_the_middle_ratio_and_the_lower_middle_of_an_even_count() -> None:
    assert median_round(ROUNDS) is ROUNDS[0]
    assert median_round(ROUNDS[1:]) is ROUNDS[2]
    assert median_round(ROUNDS[:1]) is ROUNDS[0]


def test_the_row_gives_the_median_round_beside_every_round_and_the_ceilings_between_them() -> None:
    results = {"e2e_wal": [{"protocol": "grpc", "collector": "workers 2", "rounds": ROUNDS}]}
    assert durable_rows(results) == [
        "| end-to-end ingest, grpc gateway, workers 2 | median of 3 rounds (0.45× / 0.50× / 0.40×; decode ceilings "
        "before, between and after them 30,000 / 34,000 / 26,000 / 30,000/s): acknowledged 15,400/s (p99 500 ms), "
        "stored 14,400/s (all in the API 1.2 s after the last acknowledgement) = 0.45× the ceiling around it; API "
        "totals match in every round | ≥ 0.5× decode ceiling | **no** |"
    ]


def test_the_goal_is_met_by_the_median_only_when_every_round_s_totals_match() -> None:
    met = [_round(15_000, 30_000, 30_000), _round(16_000, 30_000, 30_000), _round(14_000, 30_000, 30_000)]
    rows = durable_rows({"e2e_wal": [{"protocol": "grpc", "collector": "workers 2", "rounds": met}]})
    assert rows[0].endswith(
        "= 0.50× the ceiling around it; API totals match in every round | ≥ 0.5× decode ceiling | yes |"
    )
    met[2]["api_totals_match"] = False
    rows = durable_rows({"e2e_wal": [{"protocol": "grpc", "collector": "workers 2", "rounds": met}]})
    assert rows[0].endswith("API totals DIFFER in 1 of 3 rounds | ≥ 0.5× decode ceiling | **no** |")


def test_one_round_a_quick_bench_runs_is_given_against_the_ceilings_before_and_after_it() -> None:
    rows = durable_rows({"e2e_wal": [{"protocol": "grpc", "collector": "workers 2", "rounds": ROUNDS[2:]}]})
    assert rows == [
        "| end-to-end ingest, grpc gateway, workers 2 | decode ceilings before and after the run 26,000 / 30,000/s: "
        "acknowledged 12,200/s (p99 500 ms), stored 11,200/s (all in the API 1.2 s after the last acknowledgement) "
        "= 0.40× the ceiling around it; API totals match | ≥ 0.5× decode ceiling | **no** |"
    ]
