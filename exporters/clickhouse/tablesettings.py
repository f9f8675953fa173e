"""Table settings reconciled at start-up: those that follow the collector's options (raw-row retention, a TTL,
and fsync on insert) and fixed ones (a deduplication window, the raw tables' merge algorithm, the embedded
engine's packed parts and compact raw inserts).

Both are properties of the tables, not of an insert (ClickHouse has no per-insert `fsync_after_insert`: it
is a MergeTree setting), so they are reconciled at start-up: the tables' current definitions are read from
`system.tables` and only what differs is altered, once, by the collector that applies the migrations.

- Retention: `metric_points` and `events` get `TTL toDateTime(time) + INTERVAL <storage.retention_days>
  DAY` (no TTL for 0). Rows past it are dropped by ClickHouse's merges; the rollups (hourly and daily) have
  no TTL, so every view keeps its history. Changing the option alters the TTL, which ClickHouse then applies
  to the parts already written.
- fsync: every table of the schema gets `fsync_after_insert = 1, fsync_part_directory = 1` with
  `storage.fsync` (the rollups are written by the same insert, so they need it too), and loses them without.
- Deduplication window: every data table (raw and rollups, not the control tables) of a single server or the
  embedded engine keeps the ids of its last `DEDUP_WINDOW` inserted blocks
  (`non_replicated_deduplication_window`), so an insert sent again with its token (insert_journal.py) writes
  only the parts that are missing. Replicated tables keep such a window by default
  (`replicated_deduplication_window`).
- Merges of the raw tables: column by column from the first row (`vertical_merge_algorithm_min_rows_to_activate
  = 1`). Below ClickHouse's default of 131 072 rows a merge reads every column of every part at once
  (Horizontal): on the embedded engine under load, merging 6–7 fresh parts of ~20 000–80 000 rows of these
  two tables (24–25 columns beside the key, attribute maps among them) took 48–253 MB for a moment each, most
  of the collector's peak above idle (bench/README.md, memory at 2× overload). Column by column, the same
  merges took 9–55 MB. The rollups are narrow and keep ClickHouse's choice.
- Packed parts (the embedded engine only): every table writes a part under `PACKED_PART_BYTES` (1 MiB
  uncompressed) as one file (`data.packed`, `min_bytes_for_full_part_storage`) instead of a directory of 12
  (data, marks, primary index, checksums, columns, substreams, count, partition, min-max, codec, serialization,
  metadata version). An insert writes a part into the table and into each rollup its views fill (up to 17 for
  `metric_points`, 12 for `events`), and merges rewrite them and remove the old ones: files come and go by the
  thousand a minute. On a file system that is slow to reuse the inodes of files removed moments before (ext4
  without a journal, as on the bench's machine) a 1-row insert took 104–127 ms of CPU into `metric_points` and
  91–111 ms into `events` just after a store's files were removed, against 89 / 60–67 ms packed and ~66 / 50
  ms with no removal in the minutes before; over the bench's gateway runs packed parts stored ~6 % more items
  per second (bench/README.md, "Packed parts"). A ClickHouse server keeps its operator's layout (ClickHouse
  documents the setting for its Cloud), so nothing is altered there.
- Compact raw inserts (the embedded engine only): `metric_points` and `events` write a part under
  `COMPACT_PART_BYTES` (64 MiB uncompressed) in the compact format (`min_bytes_for_wide_part`): its columns in
  one data file, instead of the wide format's two files (data, marks) per column stream. With ClickHouse's
  default of 10 MiB, a gateway's drain group was wide in `events` (~16 000 records, ~19 MB uncompressed, 116
  files): the insert peaked at 150 MiB of the engine's memory against 48 MiB compact, and a group's inserts and
  merges took 10–20 % more of the engine's CPU (bench/README.md, "Compact raw inserts"). A merge into a part
  under the threshold writes it compact too, reading every column at once (the column-by-column algorithm above
  writes wide parts only); such merges hold under 64 MiB of rows between them, and the engine's merges peaked at
  128–147 MiB in the same runs against 146–157 MiB. Merged parts past the threshold are wide, as ClickHouse
  writes them by default. A server keeps its operator's layout.

On a cluster the settings live on the `_local` tables and are altered ON CLUSTER.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from exporters.clickhouse.cluster import local_table, on_cluster

RAW_TABLES = ("metric_points", "events")
FSYNC_SETTINGS = ("fsync_after_insert", "fsync_part_directory")
CONTROL_TABLES = frozenset({"schema_migrations", "schema_migrations_lock"})
# Blocks, per table: an interrupted insert is completed at the next start, after at most the inserts other
# collectors sharing the server make meanwhile (ClickHouse's own default for replicated tables).
DEDUP_WINDOW = 1000
DEDUP_SETTING = "non_replicated_deduplication_window"

VERTICAL_MERGE_SETTING = "vertical_merge_algorithm_min_rows_to_activate"
VERTICAL_MERGE_ROWS = 1

PACKED_PART_SETTING = "min_bytes_for_full_part_storage"
# The parts that come and go: an insert's parts into the rollups (kilobytes), a direct client's drain into the
# raw tables (~400 items) and their first merges. Parts that stay (a month of a rollup: megabytes) keep the full
# layout, as ClickHouse writes every part by default; so do a gateway's raw inserts of ~5 000 items (2–3 MB).
PACKED_PART_BYTES = 1024 * 1024

COMPACT_PART_SETTING = "min_bytes_for_wide_part"
# Above a group of 50 000 items of either raw table (~58 MB of events): every insert the writer makes with the
# defaults (queue.drain_group_items, the pipeline's max_group_items) is compact; merges past it write wide parts.
COMPACT_PART_BYTES = 64 * 1024 * 1024

_TTL = re.compile(r"\bTTL\s+(?P<ttl>.*?)(?:\s+SETTINGS\s|$)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class TablePolicy:
    retention_days: int
    fsync: bool
    cluster: str = ""
    # The embedded engine: parts under PACKED_PART_BYTES written as one file, the raw tables' parts under
    # COMPACT_PART_BYTES in the compact format.
    embedded: bool = False


def ttl_expression(retention_days: int) -> str:
    """The TTL as ClickHouse shows it in system.tables (INTERVAL n DAY reads back as toIntervalDay(n))."""
    return f"toDateTime(time) + toIntervalDay({retention_days})" if retention_days else ""


def current_ttl(engine_full: str) -> str:
    match = _TTL.search(engine_full)
    return match.group("ttl").strip() if match else ""


def has_fsync(engine_full: str) -> bool:
    return all(re.search(rf"\b{name} = 1\b", engine_full) for name in FSYNC_SETTINGS)


def setting_value(engine_full: str, name: str) -> int | None:
    """A numeric setting of the table, read from its `engine_full`; None: not set (ClickHouse's default)."""
    match = re.search(rf"\b{name} = (?P<value>\d+)\b", engine_full)
    return int(match.group("value")) if match else None


def local_names(tables: Iterable[str], cluster: str) -> dict[str, str]:
    """Each table's name where its settings live, keyed by that name."""
    return {local_table(table, cluster): table for table in tables}


def changes(engine_full: dict[str, str], policy: TablePolicy) -> list[str]:
    """The ALTER statements that bring the tables to `policy`. `engine_full` is system.tables' engine_full of
    each table where its settings live (the `_local` ones on a cluster), by that name."""
    statements: list[str] = []
    cluster = on_cluster(policy.cluster)
    for name, engine in sorted(engine_full.items()):
        table = name.removesuffix("_local") if policy.cluster else name
        if table in RAW_TABLES and current_ttl(engine) != ttl_expression(policy.retention_days):
            if policy.retention_days:
                statements.append(
                    f"ALTER TABLE {name}{cluster} MODIFY TTL toDateTime(time) + INTERVAL {policy.retention_days} DAY"
                )
            else:
                statements.append(f"ALTER TABLE {name}{cluster} REMOVE TTL")
        if table in RAW_TABLES and setting_value(engine, VERTICAL_MERGE_SETTING) != VERTICAL_MERGE_ROWS:
            statements.append(
                f"ALTER TABLE {name}{cluster} MODIFY SETTING {VERTICAL_MERGE_SETTING} = {VERTICAL_MERGE_ROWS}"
            )
        if has_fsync(engine) != policy.fsync:
            if policy.fsync:
                assignments = ", ".join(f"{setting} = 1" for setting in FSYNC_SETTINGS)
                statements.append(f"ALTER TABLE {name}{cluster} MODIFY SETTING {assignments}")
            else:
                statements.append(f"ALTER TABLE {name}{cluster} RESET SETTING {', '.join(FSYNC_SETTINGS)}")
        if not policy.cluster and table not in CONTROL_TABLES and setting_value(engine, DEDUP_SETTING) != DEDUP_WINDOW:
            statements.append(f"ALTER TABLE {name} MODIFY SETTING {DEDUP_SETTING} = {DEDUP_WINDOW}")
        if policy.embedded and setting_value(engine, PACKED_PART_SETTING) != PACKED_PART_BYTES:
            statements.append(f"ALTER TABLE {name} MODIFY SETTING {PACKED_PART_SETTING} = {PACKED_PART_BYTES}")
        if (
            policy.embedded
            and table in RAW_TABLES
            and setting_value(engine, COMPACT_PART_SETTING) != COMPACT_PART_BYTES
        ):
            statements.append(f"ALTER TABLE {name} MODIFY SETTING {COMPACT_PART_SETTING} = {COMPACT_PART_BYTES}")
    return statements


ENGINE_FULL_SQL = (
    "SELECT name, engine_full FROM system.tables "
    "WHERE database = currentDatabase() AND name IN {names:Array(String)} AND engine LIKE '%MergeTree'"
)
