"""The parts of a day summary (pdata/day_summaries.py) grown by the ids that arrived since it was computed, and
which days keep their ids."""

from __future__ import annotations

from datetime import date, timedelta

from pdata.day_summaries import Distinct, ids_kept

DAY = date(2026, 12, 5)


def test_new_ids_add_to_the_count_and_to_the_returns_of_their_gaps() -> None:
    # 5 sessions: 2 last seen the day before, 1 three days before. Then 3 more: one back after 1 day, one after 7.
    part = Distinct(DAY, 5, [1, 3], [2, 1], rows=40, prior_rows=900)
    grown = part.with_new(3, {1: 1, 7: 1})
    assert grown == Distinct(DAY, 8, [1, 3, 7], [3, 1, 1])  # for one read: fingerprints 0, never current
    assert grown.new_since(DAY) == 8  # a range of that day alone
    assert grown.new_since(DAY - timedelta(days=2)) == 5  # 3 were seen within the range's 2 days before
    assert grown.new_since(DAY - timedelta(days=7)) == 3


def test_ids_taken_away_leave_no_empty_gap() -> None:
    assert Distinct(DAY, 5, [1, 3], [2, 1]).with_new(-1, {3: -1}) == Distinct(DAY, 4, [1], [2])


def test_today_and_yesterday_keep_their_ids_and_earlier_days_do_not() -> None:
    assert ids_kept(DAY, DAY) and ids_kept(DAY - timedelta(days=1), DAY)
    assert ids_kept(DAY + timedelta(days=1), DAY)  # a client's clock ahead of the collector's
    assert not ids_kept(DAY - timedelta(days=2), DAY)
