"""The DDL of a ClickHouse cluster, rendered from the same migration files as a single server's.

With `storage.cluster` set, every statement of migrations/ (and control.sql) is rewritten by these rules:

| in the file | on the cluster |
|---|---|
| `CREATE TABLE [IF NOT EXISTS] t (…) ENGINE = XMergeTree[(args)] …` | `CREATE TABLE IF NOT EXISTS t_local ON CLUSTER c (…) ENGINE = ReplicatedXMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}'[, args]) …` and `CREATE TABLE IF NOT EXISTS t ON CLUSTER c AS t_local ENGINE = Distributed('c', currentDatabase(), 't_local', <sharding key>)` |
| `CREATE MATERIALIZED VIEW [IF NOT EXISTS] v TO t AS SELECT … FROM s …` | `CREATE MATERIALIZED VIEW IF NOT EXISTS v ON CLUSTER c TO t_local AS SELECT … FROM s_local …` |
| `INSERT INTO t SELECT … FROM s …` | unchanged: run once, through the Distributed tables (with `distributed_foreground_insert=1`) |
| `ALTER TABLE t ADD INDEX [IF NOT EXISTS] …` | `ALTER TABLE t_local ON CLUSTER c ADD INDEX IF NOT EXISTS …` (the rows, hence the skip indexes, are in the local tables) |
| `ALTER TABLE t DROP COLUMN IF EXISTS x` | `ALTER TABLE t ON CLUSTER c DROP COLUMN IF EXISTS x` and `ALTER TABLE t_local ON CLUSTER c DROP COLUMN IF EXISTS x` (the Distributed table first: nothing reads through it a column the local tables lost) |
| `ALTER TABLE v MODIFY QUERY SELECT … FROM s …` | `ALTER TABLE v ON CLUSTER c MODIFY QUERY SELECT … FROM s_local …` (a view's query replaced in one statement: no insert meets the view missing) |
| `DROP VIEW IF EXISTS v` | `DROP VIEW IF EXISTS v ON CLUSTER c` |
| `TRUNCATE TABLE t` | `TRUNCATE TABLE IF EXISTS t_local ON CLUSTER c` |
| `DROP TABLE IF EXISTS t` | `DROP TABLE IF EXISTS t ON CLUSTER c` and `DROP TABLE IF EXISTS t_local ON CLUSTER c SYNC` |

So every name the queries use (`metric_points`, `member_daily`, …) is a Distributed table on every node:
reads fan out to one replica of each shard and aggregate there, and the writer's inserts are routed to the
shards. Each shard's materialized views fill its own rollups from the rows it receives, so a rollup row of
one key may exist on several shards: every query aggregates (sum, max, uniqExactMerge), which merges them.
Sharding key: `cityHash64(organization_id, member)` for tables with a member (a member's rows stay on one
shard), `cityHash64(organization_id)` for other tables of an organization, `0` (the first shard) for the
control tables. The macros `{shard}` and `{replica}` come from each server's configuration (`<macros>`);
`{database}` and `{table}` are ClickHouse's own. Any other kind of statement has no rule yet: rendering it
raises ClusterDdlError naming it, so a migration that needs one adds the rule here first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LOCAL_SUFFIX = "_local"
REPLICA_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
REPLICA_NAME = "{replica}"

_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_CREATE_TABLE = re.compile(
    r"^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s*(?P<columns>\(.*\))\s*"
    r"ENGINE\s*=\s*(?P<engine>\w*MergeTree)(?:\((?P<arguments>[^)]*)\))?(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_CREATE_VIEW = re.compile(
    r"^CREATE\s+MATERIALIZED\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s+TO\s+(?P<target>\w+)\s+AS\s+"
    r"(?P<select>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_INSERT = re.compile(r"^INSERT\s+INTO\s+\w+", re.IGNORECASE)
_ADD_INDEX = re.compile(
    r"^ALTER\s+TABLE\s+(?P<name>\w+)\s+ADD\s+INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<index>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_DROP_COLUMN = re.compile(
    r"^ALTER\s+TABLE\s+(?P<name>\w+)\s+DROP\s+COLUMN\s+IF\s+EXISTS\s+(?P<column>\w+)$", re.IGNORECASE
)
_MODIFY_QUERY = re.compile(
    r"^ALTER\s+TABLE\s+(?P<name>\w+)\s+MODIFY\s+QUERY\s+(?P<select>SELECT\b.*)$", re.IGNORECASE | re.DOTALL
)
_DROP_VIEW = re.compile(r"^DROP\s+VIEW\s+IF\s+EXISTS\s+(?P<name>\w+)$", re.IGNORECASE)
_TRUNCATE = re.compile(r"^TRUNCATE\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?P<name>\w+)$", re.IGNORECASE)
_DROP_TABLE = re.compile(r"^DROP\s+TABLE\s+IF\s+EXISTS\s+(?P<name>\w+)$", re.IGNORECASE)
_TABLE_AFTER = re.compile(r"\b(?P<keyword>FROM|JOIN)\s+(?P<table>\w+)\b", re.IGNORECASE)


class ClusterDdlError(ValueError):
    """A statement the cluster renderer has no rule for, or a cluster name it cannot quote."""


def check_cluster_name(cluster: str) -> str:
    if not _CLUSTER_NAME.match(cluster):
        raise ClusterDdlError(f"cluster name {cluster!r} must be letters, digits, '_', '.' or '-'")
    return cluster


def _on_cluster(cluster: str) -> str:
    return f"ON CLUSTER `{cluster}`"


def sharding_key(columns: str) -> str:
    if re.search(r"^\s*member\s", columns, re.MULTILINE):
        return "cityHash64(organization_id, member)"
    if re.search(r"^\s*organization_id\s", columns, re.MULTILINE):
        return "cityHash64(organization_id)"
    return "0"


def table_names(statements: Iterable[str]) -> list[str]:
    """The tables (not views) the statements create, in order."""
    return [match.group("name") for match in map(_CREATE_TABLE.match, statements) if match]


def _render_table(match: re.Match[str], cluster: str) -> list[str]:
    name, columns, rest = match.group("name"), match.group("columns"), match.group("rest").rstrip()
    arguments = (match.group("arguments") or "").strip()
    replication = f"'{REPLICA_PATH}', '{REPLICA_NAME}'" + (f", {arguments}" if arguments else "")
    local = name + LOCAL_SUFFIX
    return [
        f"CREATE TABLE IF NOT EXISTS {local} {_on_cluster(cluster)}\n{columns}\n"
        f"ENGINE = Replicated{match.group('engine')}({replication}){rest}",
        f"CREATE TABLE IF NOT EXISTS {name} {_on_cluster(cluster)} AS {local}\n"
        f"ENGINE = Distributed('{cluster}', currentDatabase(), '{local}', {sharding_key(columns)})",
    ]


def _local_select(select: str, tables: set[str]) -> str:
    """A view's SELECT reading the local tables: each shard's view sees the rows inserted on that shard."""

    def local(found: re.Match[str]) -> str:
        table = found.group("table")
        return f"{found.group('keyword')} {table + LOCAL_SUFFIX if table in tables else table}"

    return _TABLE_AFTER.sub(local, select)


def _render_view(match: re.Match[str], cluster: str, tables: set[str]) -> str:
    select = _local_select(match.group("select"), tables)
    target = match.group("target") + (LOCAL_SUFFIX if match.group("target") in tables else "")
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {match.group('name')} {_on_cluster(cluster)} TO {target} AS\n{select}"
    )


def render(statements: list[str], cluster: str, known_tables: Iterable[str] = ()) -> list[str]:
    """The cluster's statements for `statements` (one file's, in order). `known_tables` are tables created by
    earlier files, whose names in views must also point at their local tables."""
    check_cluster_name(cluster)
    tables = set(known_tables) | set(table_names(statements))
    rendered: list[str] = []
    for statement in statements:
        text = statement.strip()
        if table := _CREATE_TABLE.match(text):
            rendered += _render_table(table, cluster)
        elif view := _CREATE_VIEW.match(text):
            rendered.append(_render_view(view, cluster, tables))
        elif _INSERT.match(text):
            rendered.append(text)
        elif (index := _ADD_INDEX.match(text)) and index.group("name") in tables:
            local = index.group("name") + LOCAL_SUFFIX
            rendered.append(
                f"ALTER TABLE {local} {_on_cluster(cluster)} ADD INDEX IF NOT EXISTS {index.group('index')}"
            )
        elif (dropped_column := _DROP_COLUMN.match(text)) and dropped_column.group("name") in tables:
            name, column = dropped_column.group("name"), dropped_column.group("column")
            rendered += [
                f"ALTER TABLE {name} {_on_cluster(cluster)} DROP COLUMN IF EXISTS {column}",
                f"ALTER TABLE {name + LOCAL_SUFFIX} {_on_cluster(cluster)} DROP COLUMN IF EXISTS {column}",
            ]
        elif modified := _MODIFY_QUERY.match(text):
            select = _local_select(modified.group("select"), tables)
            rendered.append(f"ALTER TABLE {modified.group('name')} {_on_cluster(cluster)} MODIFY QUERY\n{select}")
        elif view := _DROP_VIEW.match(text):
            rendered.append(f"DROP VIEW IF EXISTS {view.group('name')} {_on_cluster(cluster)}")
        elif (truncate := _TRUNCATE.match(text)) and truncate.group("name") in tables:
            local = truncate.group("name") + LOCAL_SUFFIX
            rendered.append(f"TRUNCATE TABLE IF EXISTS {local} {_on_cluster(cluster)}")
        elif (dropped := _DROP_TABLE.match(text)) and dropped.group("name") in tables:
            name = dropped.group("name")
            rendered += [
                f"DROP TABLE IF EXISTS {name} {_on_cluster(cluster)}",
                f"DROP TABLE IF EXISTS {name + LOCAL_SUFFIX} {_on_cluster(cluster)} SYNC",
            ]
        else:
            raise ClusterDdlError(f"no cluster rule for statement: {text[:120]}")
    return rendered


def local_table(name: str, cluster: str) -> str:
    """Where a table's rows and settings live: itself on a single server, its local table on a cluster."""
    return name + LOCAL_SUFFIX if cluster else name


def on_cluster(cluster: str) -> str:
    """The ON CLUSTER clause of a statement, or nothing on a single server."""
    return f" {_on_cluster(check_cluster_name(cluster))}" if cluster else ""
