"""A synthetic year of 10 000 members for query speed at scale, generated straight into a separate chDB store.

Raw rows go into `metric_points` and `events` with INSERT … SELECT FROM numbers(), so the materialized views
fill the hourly and daily rollups exactly as live ingest does (`generate`). bench/views.py times every read-API
view and every dashboard query on it.

Density (stated in the table): per active member-hour one point per fact kind (as if each developer
exported once an hour) and a few events. Real clients send ~29 points+records per active minute (the load
generator's developer, shaped on captured Claude Code traffic), ~100× as many. So the last `dense_days` days (the
dashboards' default range, 7) also get the rest of a real hour's rows: per active minute one point of every fact
kind but the session start and four events of each kind, in the same member-hours and sessions. Every raw scan
of a panel then reads real density; one over a longer range reads thin days before it, a lower bound.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from exporters.clickhouse import ClickHouseConfig, create_store

ORG = "org-bench"
HOURS_PER_DAY = 3  # active hours of an active member-day
ACTIVE_PERCENT = 70  # share of member-days with activity (weekdays and some weekends)
DENSE_DAYS = 7  # the last days at real density: the dashboards' default range
MINUTES_PER_HOUR = 60  # a dense active hour: one metric export a minute
EVENTS_PER_MINUTE = 4  # per event kind in a dense minute: with 13 points, 29 rows a minute as real clients send

# One metric point per fact kind per active member-hour: (metric, fact, type, tool_name, decision, model, value expr)
_POINT_KINDS = [
    ("claude_code.lines_of_code.count", "lines_added", "added", "", "", "claude-sonnet-4-5", "toFloat64(1 + h % 37)"),
    ("claude_code.lines_of_code.count", "lines_removed", "removed", "", "", "claude-sonnet-4-5", "toFloat64(h % 9)"),
    ("claude_code.code_edit_tool.decision", "edit_accept", "", "Edit", "accept", "", "toFloat64(1 + h % 4)"),
    ("claude_code.code_edit_tool.decision", "edit_accept", "", "Write", "accept", "", "toFloat64(1 + h % 2)"),
    ("claude_code.code_edit_tool.decision", "edit_reject", "", "Edit", "reject", "", "toFloat64(h % 2)"),
    ("claude_code.cost.usage", "cost_usd", "", "", "", "claude-sonnet-4-5", "(h % 1000) / 10000."),
    ("claude_code.cost.usage", "cost_usd", "", "", "", "claude-opus-4-6[1m]", "(h % 3000) / 10000."),
    ("claude_code.token.usage", "tokens_input", "input", "", "", "claude-sonnet-4-5", "toFloat64(h % 20000)"),
    ("claude_code.token.usage", "tokens_output", "output", "", "", "claude-sonnet-4-5", "toFloat64(h % 5000)"),
    ("claude_code.token.usage", "tokens_cache_read", "cacheRead", "", "", "claude-sonnet-4-5", "toFloat64(h % 90000)"),
    ("claude_code.token.usage", "tokens_cache_creation", "cacheCreation", "", "", "claude-sonnet-4-5", "toFloat64(h % 9000)"),
    ("claude_code.session.count", "session_start", "", "", "", "", "toFloat64(slot = 0)"),
    ("claude_code.active_time.total", "active_seconds", "user", "", "", "", "toFloat64(60 + h % 1200)"),
    ("claude_code.active_time.total", "active_seconds", "cli", "", "", "", "toFloat64(30 + h % 900)"),
]  # fmt: skip
_EVENT_KINDS = ["user_prompt", "api_request", "tool_decision", "tool_result"]


def _array(values: list[str]) -> str:
    return "[" + ",".join("'" + value.replace("'", "\\'") + "'" for value in values) + "]"


def _numbers(first: date, days: int, members: int, per_slot: int, kinds: int, dense_from: int | None, thin_hash: str,
             salt: int) -> str:  # fmt: skip
    """The subquery of generated rows: member m, day d (from `first`), active hour slot, row k of the slot's
    `per_slot` rows of each kind (0 when thin), kind, hash h (`thin_hash` when thin, else salted by `salt`) and
    time t within the member-day's slot hour.

    Thin (`dense_from` None): one row per kind and slot, at a spread second of the hour. Dense: the days from
    day index `dense_from` on, `per_slot` rows per kind spread over the slot hour's minutes, with the thin rows'
    members, activity and hours."""
    first_day = dense_from or 0
    days = days - first_day
    unit = members * days * HOURS_PER_DAY * per_slot
    if dense_from is None:
        hashed, within = thin_hash, "h % 3000"
    else:
        hashed = f"cityHash64(m, d, slot, r, k, {salt})"
        within = f"intDiv(r * 60, {per_slot}) * 60 + h % 60"
    return f"""
    SELECT number % {members} AS m, {first_day} + intDiv(number, {members}) % {days} AS d,
        intDiv(number, {members * days}) % {HOURS_PER_DAY} AS slot,
        intDiv(number, {members * days * HOURS_PER_DAY}) % {per_slot} AS r, intDiv(number, {unit}) AS k,
        {hashed} AS h,
        toDateTime64(toDateTime('{first.isoformat()} 00:00:00', 'UTC') + d * 86400 + (8 + (m % 3) + slot * 2) * 3600
            + ({within}), 9, 'UTC') AS t
    FROM numbers({unit * kinds})
    WHERE cityHash64(m, d) % 100 < {ACTIVE_PERCENT}"""


def _points_sql(first: date, days: int, members: int, dense_from: int | None = None) -> str:
    """Thin: every kind of `_POINT_KINDS` once per active member-hour. Dense (from day index `dense_from`): every
    kind but the session start once per active minute, its figures added to the thin ones."""
    point_kinds = _POINT_KINDS if dense_from is None else [kind for kind in _POINT_KINDS if kind[1] != "session_start"]
    kinds = len(point_kinds)
    columns = list(zip(*point_kinds, strict=True))
    values = (
        "multiIf(" + ", ".join(f"k = {i}, {expr}" for i, expr in enumerate(columns[6][:-1])) + f", {columns[6][-1]})"
    )
    per_slot = 1 if dense_from is None else MINUTES_PER_HOUR
    digest = "cityHash64(m, d, slot)" if dense_from is None else "cityHash64(m, d, slot, r, 2)"
    return f"""
INSERT INTO metric_points (time, start_time, received_at, organization_id, member, member_type, team, user_id,
    session_id, metric, unit, fact, value, temporality, cumulative, series_key, type, model, tool_name, decision,
    source, language, query_source, start_type, terminal_type, service_version, attributes, resource,
    request_digest)
SELECT t, t - 60, t, '{ORG}', concat('dev', toString(m), '@bench.example.com'), 'email',
    concat('team-', toString(m % 40)), hex(cityHash64(m)), lower(hex(cityHash64(m, d))),
    {_array(list(columns[0]))}[k + 1], '', {_array(list(columns[1]))}[k + 1], {values}, 1, 0, cityHash64(m, k),
    {_array(list(columns[2]))}[k + 1], {_array(list(columns[5]))}[k + 1], {_array(list(columns[3]))}[k + 1],
    {_array(list(columns[4]))}[k + 1], '', '', 'main', '', 'vscode', '2.1.331', map('terminal.type', 'vscode'),
    map('service.name', 'claude-code'), toFixedString(substring(reinterpretAsString({digest}), 1, 8) ||
    '00000000', 16)
FROM ({_numbers(first, days, members, per_slot, kinds, dense_from, "cityHash64(m, d, slot)", 0)}
)
"""


def _events_sql(first: date, days: int, members: int, dense_from: int | None = None) -> str:
    """Thin: every event kind once per active member-hour. Dense (from day index `dense_from`): each kind
    `EVENTS_PER_MINUTE` times per active minute."""
    kinds = len(_EVENT_KINDS)
    per_slot = 1 if dense_from is None else MINUTES_PER_HOUR * EVENTS_PER_MINUTE
    sequence = "slot * 10 + k" if dense_from is None else "1000 + (slot * 1000 + r) * 10 + k"
    # A dense minute's events share their export's digest and their prompt's id, as a real export's do.
    minute = f"intDiv(r, {EVENTS_PER_MINUTE})"
    digest = "cityHash64(m, d, slot, 1)" if dense_from is None else f"cityHash64(m, d, slot, {minute}, 3)"
    prompt = "hex(h)" if dense_from is None else f"hex(cityHash64(m, d, slot, {minute}))"
    return f"""
INSERT INTO events (time, received_at, organization_id, member, member_type, team, user_id, session_id, event_name,
    prompt_id, sequence, model, tool_name, decision, source, success, cost_usd, duration_ms, input_tokens,
    output_tokens, cache_read_tokens, cache_creation_tokens, terminal_type, service_version, body, attributes,
    resource, request_digest)
SELECT t, t, '{ORG}', concat('dev', toString(m), '@bench.example.com'), 'email', concat('team-', toString(m % 40)),
    hex(cityHash64(m)), lower(hex(cityHash64(m, d))), {_array(_EVENT_KINDS)}[k + 1], {prompt}, {sequence},
    if(k = 1, 'claude-sonnet-4-5', ''), if(k >= 2, 'Edit', ''), if(k = 2, 'accept', ''), '', if(k = 3, 'true', ''),
    if(k = 1, (h % 1000) / 10000., 0), h % 9000, 0, 0, 0, 0, 'vscode', '2.1.331', '', map('event.sequence', '1'),
    map('service.name', 'claude-code'), toFixedString(substring(reinterpretAsString({digest}), 1, 8)
    || '00000000', 16)
FROM ({_numbers(first, days, members, per_slot, kinds, dense_from, "cityHash64(m, d, slot, k)", 1)}
)
"""


def _bar(label: str, done: int, total: int, extra: str) -> None:
    width = 24
    filled = int(width * done / max(total, 1))
    tty = sys.stderr.isatty()
    sys.stderr.write(("\r" if tty else "") + f"{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {extra}"
                     + ("" if tty and done < total else "\n"))  # fmt: skip
    sys.stderr.flush()


# rollup table → the column its rows are keyed by in time
ROLLUPS = {
    "member_hourly": "hour",
    "tool_decisions_hourly": "hour",
    "model_usage_hourly": "hour",
    "tool_decisions_team_hourly": "hour",
    "session_hourly": "hour",
    "model_team_hourly": "hour",
    "event_calls_5m": "bucket",
    "api_latency_5m": "bucket",
    "team_daily": "day",
    "org_daily_all_teams": "day",
    "member_daily": "day",
    "tool_decisions_daily": "day",
    "session_days": "day",
    "day_rows": "day",
}
# monthly rollup table → the column its rows are keyed by; filled from the daily rollups, so rebuilt after the
# copies (a block shifted by 28 days lands in another calendar month)
MONTHLY_ROLLUPS = {
    "org_monthly": "month",
    "member_monthly": "month",
    "tool_decisions_monthly": "month",
}
BLOCK_DAYS = 28
RAW_TABLES = ("metric_points", "events")
# A copied block's raw rows next to the real ones while its session rollups are built from them.
_STAGING = "{table}_block"


@dataclass(frozen=True)
class _CopyPlan:
    """How each rollup of the store gets the copied blocks' rows, from its materialized views.

    - `from_block`: (target, SELECT) of every view reading a raw table that groups by or counts session ids.
      A copy gives each session id a block of its own (a real year holds ~13 times the sessions of 28 days),
      so these rollups are built from each copied block's raw rows, through the views' own SELECTs.
    - `rebuilt`: rollups read from other rollups (monthly, every team merged): emptied and filled again at the
      end by the migrations' backfills, from rollups then complete.
    - `copied`: every other rollup (no session ids), copied and shifted like the raw rows.
    """

    from_block: list[tuple[str, str]]
    rebuilt: list[str]
    copied: list[str]


def _copy_plan() -> _CopyPlan:
    from_block: list[tuple[str, str]] = []
    rebuilt: set[str] = set()
    for target, selects in materialized_selects().items():
        for select in selects:
            if not set(re.findall(r"\bFROM (\w+)", select)) <= set(RAW_TABLES):
                rebuilt.add(target)
            elif "session_id" in select:
                staged = re.sub(
                    rf"\bFROM ({'|'.join(RAW_TABLES)})\b",
                    lambda found: f"FROM {_STAGING.format(table=found.group(1))}",
                    select,
                )
                from_block.append((target, staged))
    block_targets = {target for target, _ in from_block}
    copied = [table for table in ROLLUPS if table not in block_targets and table not in rebuilt]
    return _CopyPlan(from_block, sorted(rebuilt), copied)


def _columns(store, table: str) -> list[str]:
    return [row[0] for row in store.select(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} ORDER BY position",
        {"t": table})]  # fmt: skip


def _stage_block(store, table: str, since: str, days: int, block: int) -> None:
    """The raw rows of `table` at or after `since`, `days` days earlier and with session ids of this block's
    own, into its staging table."""
    staging = _STAGING.format(table=table)
    store.execute(f"TRUNCATE TABLE {staging}")
    session = f"if(session_id = '', '', lower(hex(cityHash64(session_id, {block}))))"
    _copy_back(store, table, "time", since, days, into=staging, rewritten={"session_id": session})


def _copy_back(
    store, table: str, column: str, since: str, days: int, into: str = "", rewritten: dict[str, str] | None = None
) -> None:
    """Copy the rows of `table` whose `column` is at or after `since` to `days` days earlier, into `into` (default:
    `table` itself, with the materialized views detached), the columns of `rewritten` by its expressions."""
    names = _columns(store, table)
    expressions = {**(rewritten or {}), column: f"{column} - toIntervalDay({days})"}
    select = ", ".join(expressions.get(name, f"`{name}`") for name in names)
    store.execute(
        f"INSERT INTO {into or table} ({', '.join(f'`{name}`' for name in names)}) SELECT {select} FROM {table} "
        f"WHERE {column} >= toDateTime('{since} 00:00:00', 'UTC')",
        settings={"max_insert_threads": 2},
    )


MARKER = "bench-history.json"
# Written into MARKER; a history of another generator is not reused (before 2, copied blocks repeated the base
# block's session ids, so a year held the sessions of 28 days; before 3, no day had real density).
GENERATOR = 3


def generated(directory: Path) -> dict[str, Any] | None:
    """What a finished generate() left in `directory` (members, days, end, generate_s), or None."""
    marker = directory / MARKER
    if marker.exists():
        made = dict(json.loads(marker.read_text()))
        if made.get("generator") != GENERATOR:
            raise SystemExit(f"{directory} holds a history of an older generator (generator {made.get('generator')}, "
                             f"this one {GENERATOR}): remove it to generate it again")  # fmt: skip
        return made
    if directory.exists() and any(directory.iterdir()):
        raise SystemExit(f"{directory} holds no finished history ({MARKER} is missing): remove it or pick another")
    return None


def open_store(directory: Path):
    return create_store(ClickHouseConfig(dsn=f"chdb:///{directory}"))


def generate(directory: Path, members: int, days: int, end: date, progress: bool = True, dense_days: int = DENSE_DAYS):
    """A fresh store in `directory` holding `days` days (ending at `end`) of `members` members.

    The last 28 days are generated as raw rows through the materialized views (as live ingest fills them);
    earlier 28-day blocks are copies of those raw rows shifted back in time, written with the views detached
    (a fraction of the time). Each copy gives its sessions ids of their own, as a real year has ~13 times the
    sessions of 28 days: the rollups of session ids are built from each copy's raw rows through their views'
    SELECTs, the others are copied too (`_CopyPlan`). Rollups are merged at the end (OPTIMIZE FINAL), the
    state background merges reach shortly after ingest. The last `dense_days` days are then brought to real
    density through the views (after the copies, which stay thin).
    """
    directory.mkdir(parents=True, exist_ok=True)
    store = open_store(directory)
    base_days = min(days, BLOCK_DAYS)
    first = end - timedelta(days=base_days - 1)
    blocks = (days + BLOCK_DAYS - 1) // BLOCK_DAYS
    dense_days = min(dense_days, base_days)
    steps = 2 + (blocks - 1) + (2 if dense_days else 0) + 1
    began = time.perf_counter()

    def tick(done: int, what: str) -> None:
        if progress:
            _bar("history", done, steps, f"{what} {time.perf_counter() - began:.0f}s")

    tick(0, "raw points through the materialized views")
    store.execute(_points_sql(first, base_days, members), settings={"max_insert_threads": 2})
    tick(1, "raw events through the materialized views")
    store.execute(_events_sql(first, base_days, members), settings={"max_insert_threads": 2})
    plan = _copy_plan()
    if blocks > 1:
        for table in RAW_TABLES:
            store.execute(f"CREATE TABLE IF NOT EXISTS {_STAGING.format(table=table)} AS {table}")
        # Detached while the copies are written: copied raw rows must not fill the rollups a second time.
        views = [table.name for table in store.tables() if table.engine == "MaterializedView"]
        for view in views:
            store.execute(f"DETACH TABLE {view}")
        try:
            for block in range(1, blocks):
                tick(1 + block, f"block {block + 1}/{blocks} (copy)")
                shift = block * BLOCK_DAYS
                for table in RAW_TABLES:
                    _stage_block(store, table, first.isoformat(), shift, block)
                for target, select in plan.from_block:
                    store.execute(f"INSERT INTO {target} {select}", settings={"max_insert_threads": 2})
                for table in RAW_TABLES:
                    store.execute(f"INSERT INTO {table} SELECT * FROM {_STAGING.format(table=table)}")
                for table in plan.copied:
                    _copy_back(store, table, ROLLUPS[table], first.isoformat(), shift)
        finally:
            for view in views:
                store.execute(f"ATTACH TABLE {view}")
            for table in RAW_TABLES:
                store.execute(f"DROP TABLE IF EXISTS {_STAGING.format(table=table)}")
    if dense_days:
        dense_from = base_days - dense_days
        last = f"the last {dense_days} day{'s' if dense_days > 1 else ''}"
        tick(blocks + 1, f"points at real density ({last})")
        store.execute(_points_sql(first, base_days, members, dense_from), settings={"max_insert_threads": 2})
        tick(blocks + 2, f"events at real density ({last})")
        store.execute(_events_sql(first, base_days, members, dense_from), settings={"max_insert_threads": 2})
    if blocks > 1:
        for table in plan.rebuilt:
            store.execute(f"TRUNCATE TABLE {table}")
        for backfill in backfills(plan.rebuilt):
            store.execute(backfill, settings={"max_insert_threads": 2})
    tick(steps - 1, "merging rollups")
    for table in (*ROLLUPS, *MONTHLY_ROLLUPS):
        store.execute(f"OPTIMIZE TABLE {table} FINAL")
    tick(steps, "done")
    seconds = time.perf_counter() - began
    made = {"members": members, "days": days, "end": end.isoformat(), "generate_s": round(seconds, 1),
            "dense_days": dense_days, "generator": GENERATOR}  # fmt: skip
    (directory / MARKER).write_text(json.dumps(made))
    return store, seconds


def _migrations() -> list[str]:
    """The text of every migration (exporters/clickhouse/migrations/), in order, without its comment lines."""
    folder = resources.files("exporters.clickhouse").joinpath("migrations")
    return [
        "\n".join(line for line in entry.read_text().splitlines() if not line.strip().startswith("--"))
        for entry in sorted(folder.iterdir(), key=lambda item: item.name)
        if entry.name.endswith(".sql")
    ]


def materialized_selects() -> dict[str, list[str]]:
    """rollup table → the SELECTs of the materialized views that fill it (from the raw tables or a rollup): the
    views the migrations leave, each as last created or modified (a later migration may drop one and create it
    again, or replace its query)."""
    views: dict[str, tuple[str, str]] = {}
    pattern = (
        r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS\s*(SELECT[^;]+);|DROP VIEW IF EXISTS (\w+);"
        r"|ALTER TABLE (\w+) MODIFY QUERY\s*(SELECT[^;]+);"
    )
    for text in _migrations():
        for match in re.finditer(pattern, text):
            if match.group(4):
                views.pop(match.group(4), None)
            elif match.group(5):
                views[match.group(5)] = (views[match.group(5)][0], match.group(6).strip())
            else:
                views[match.group(1)] = (match.group(2), match.group(3).strip())
    selects: dict[str, list[str]] = {}
    for target, select in views.values():
        selects.setdefault(target, []).append(select)
    return selects


def backfills(tables: list[str]) -> list[str]:
    """The migrations' INSERT … SELECTs that fill `tables` from the rollups they are read from: each table's
    last (a later migration may build a rollup again from another table)."""
    last: dict[str, str] = {}
    for text in _migrations():
        for match in re.finditer(r"^INSERT INTO (\w+)\s[^;]+", text, re.MULTILINE):
            if match.group(1) in tables:
                last.pop(match.group(1), None)
                last[match.group(1)] = match.group(0)
    missing = set(tables) - set(last)
    if missing:
        raise RuntimeError(f"no backfill in the migrations for {sorted(missing)}")
    return list(last.values())


def counts(store) -> dict[str, int]:
    return {
        table: int(store.select(f"SELECT count() FROM {table}")[0][0])
        for table in ("metric_points", "events", *ROLLUPS, *MONTHLY_ROLLUPS)
    }
