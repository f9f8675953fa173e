"""The named queries' shared fragments: a `-- include: <name>` line becomes queries/fragments/<name>.sql (less its
leading comment, indented as the line), an unknown fragment fails the load, and every fragment is used."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporters.clickhouse.store import _sql, expand_includes

QUERIES = Path(__file__).resolve().parents[2] / "exporters" / "clickhouse" / "queries"
_INCLUDED = re.compile(r"^[ \t]*-- include: *(\S+)", re.MULTILINE)


def _fragments(tmp_path: Path, **texts: str) -> Path:
    for name, text in texts.items():
        (tmp_path / f"{name}.sql").write_text(text)
    return tmp_path


def test_an_include_line_becomes_the_fragment_without_its_comment_indented_as_the_line(tmp_path: Path) -> None:
    fragments = _fragments(
        tmp_path,
        team_filter="-- The team filter.\n-- An empty team means all.\nAND ({team:String} = '' OR team = {team:String})\n"
        "AND day >= toDate({start:DateTime('UTC')})\n",
    )
    query = "SELECT day\nFROM team_daily\nWHERE 1\n    -- include: team_filter\nORDER BY day\n"
    assert expand_includes(query, fragments, "q.sql") == (
        "SELECT day\nFROM team_daily\nWHERE 1\n"
        "    AND ({team:String} = '' OR team = {team:String})\n"
        "    AND day >= toDate({start:DateTime('UTC')})\n"
        "ORDER BY day\n"
    )


def test_an_unknown_fragment_fails_the_load_naming_the_query_and_the_fragment(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"q\.sql: unknown SQL fragment 'no_such_rule'"):
        expand_includes("SELECT 1\n-- include: no_such_rule\n", tmp_path, "q.sql")
    with pytest.raises(ValueError, match=r"unknown SQL fragment '\.\./store'"):
        expand_includes("SELECT 1\n-- include: ../store\n", tmp_path, "q.sql")


def test_a_fragment_that_includes_another_fails_the_load(tmp_path: Path) -> None:
    fragments = _fragments(tmp_path, outer="-- Outer.\nAND 1\n-- include: inner\n", inner="AND 2\n")
    with pytest.raises(ValueError, match=r"fragments/outer\.sql: a fragment cannot include another"):
        expand_includes("SELECT 1\nWHERE 1\n-- include: outer\n", fragments, "q.sql")


def test_every_named_query_loads_whole_and_every_fragment_is_used_and_documented() -> None:
    used: set[str] = set()
    for path in sorted(QUERIES.glob("*.sql")):
        used.update(_INCLUDED.findall(path.read_text()))
        assert "-- include:" not in _sql("queries", path.name), path.name
    fragments = sorted(QUERIES.glob("fragments/*.sql"))
    assert used == {path.stem for path in fragments}
    for path in fragments:
        assert path.read_text().startswith("-- "), f"{path.name} opens with a comment saying what it selects"


def test_the_month_split_queries_read_the_shared_range_and_filter_once_each() -> None:
    # Months from the monthly rollup and the days around them from the daily one, both filtered alike.
    bounds = "toStartOfMonth(end_day) AS end_month"
    filter_line = "AND ({team:String} = '' OR team = {team:String})"
    for name in ("acceptance_by_tool.sql", "team_members.sql"):
        sql = _sql("queries", name)
        assert sql.count(bounds) == 1
        assert sql.count("WHERE month >= first_month") == 1
        assert sql.count("AND (day < first_month OR day >= end_month)") == 1
        assert sql.count(filter_line) == 2
