"""What Grafana and the grafana-clickhouse-datasource plugin do to a panel's query before it reaches a backend.

ClickHouse (plugin v4, documented in its query-editor docs and implemented in src/data/CHDatasource.ts and
pkg/macros/macros.go):
1. frontend: `$__conditionalAll(condition, $var)` becomes `1=1` when the variable's current value is All
   (`$__all`) or empty, else `condition` (arguments split at top-level commas, the text re-joined exactly);
2. frontend: Grafana's template interpolation (`$var`, `${var}`, `${var:format}`, `[[var]]`); a custom All
   value is inserted as is, `singlequote` quotes each value (`'` escaped as `\\'`) and joins them with commas,
   the plugin's default format joins several values as `'a','b'`;
3. backend: the macros, with the panel's time range (UTC) and interval:
   `$__timeFilter(c)` → `c >= toDateTime(from) AND c <= toDateTime(to)`, `$__timeFilter_ms(c)` (milliseconds),
   `$__dateFilter(c)` → `c >= toDate('from') AND c <= toDate('to')`, `$__fromTime` / `$__toTime` →
   `toDateTime(unix seconds)`, `$__fromTime_ms` / `$__toTime_ms` → `fromUnixTimestamp64Milli(ms)`,
   `$__timeInterval(c)` → `toStartOfInterval(toDateTime(c), INTERVAL <interval s, at least 1> second)`,
   `$__timeInterval_ms(c)`, `$__interval_s`.

Prometheus: Grafana replaces `$var` with the regex-escaped value (several as `(a|b)`, All as the custom
all value), and `$__interval`, `$__rate_interval`, `$__range` with durations.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

ALL = "$__all"


@dataclass
class Variables:
    """Current values: a list of selected values, or ALL."""

    values: dict[str, list[str] | str] = field(default_factory=dict)
    all_value: str = ".*"

    def current(self, name: str) -> str:
        value = self.values.get(name, ALL)
        return ALL if value == ALL else ",".join(value)  # JS Array.toString()


# --- 1. $__conditionalAll (frontend) --------------------------------------------------------------------------


def _macro_args(query: str, args_index: int) -> list[str]:
    args: list[str] = []
    depth = 0
    last = 1
    sub = query[args_index:]
    for match in re.finditer(r"\(|\)|,", sub):
        token = match.group(0)
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        if token == "," and depth == 1:
            args.append(sub[last : match.end() - 1])
            last = match.end()
        if depth == 0:
            args.append(sub[last : match.end() - 1])
            return args
    return []


def apply_conditional_all(raw: str, variables: Variables) -> str:
    macro = "$__conditionalAll("
    index = raw.rfind(macro)
    while index != -1:
        params = _macro_args(raw, index + len(macro) - 1)
        if len(params) != 2:
            return raw
        name = params[1].strip()[1:]
        phrase = params[0]
        if variables.current(name) in ("", ALL):
            phrase = "1=1"
        raw = raw.replace(f"{macro}{params[0]},{params[1]})", phrase, 1)
        index = raw.rfind(macro)
    return raw


# --- 2. template interpolation --------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")


def _format(values: list[str], fmt: str | None, datasource: str) -> str:
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if fmt == "regex" or (fmt is None and datasource == "prometheus"):
        escaped = [re.sub(r"[\\^$*+?.()|[\]{}/]", lambda m: "\\" + m.group(0), v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt is None and datasource == "clickhouse":
        return values[0] if len(values) == 1 else "'" + "','".join(values) + "'"
    raise ValueError(f"format {fmt!r} not emulated")


def interpolate(raw: str, variables: Variables, datasource: str, builtins: dict[str, str] | None = None) -> str:
    builtins = builtins or {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name in builtins:
            return builtins[name]
        if name not in variables.values:
            return match.group(0)  # not a variable: a macro such as $__timeFilter, left for the backend
        value = variables.values[name]
        if value == ALL:
            return variables.all_value  # a custom all value is inserted unformatted
        return _format(list(value), fmt, datasource)

    return _VARIABLE.sub(replace, raw)


# --- 3. backend macros (pkg/macros/macros.go) -----------------------------------------------------------------


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    interval_s: float = 60.0


def _args(sql: str, open_index: int) -> tuple[list[str], int]:
    depth = 0
    for index in range(open_index, len(sql)):
        if sql[index] == "(":
            depth += 1
        elif sql[index] == ")":
            depth -= 1
            if depth == 0:
                inner = sql[open_index + 1 : index]
                parts, level, current = [], 0, ""
                for char in inner:
                    if char == "," and level == 0:
                        parts.append(current)
                        current = ""
                        continue
                    level += char == "("
                    level -= char == ")"
                    current += char
                parts.append(current)
                return [part.strip() for part in parts], index + 1
    raise ValueError(f"unbalanced macro arguments in {sql[open_index : open_index + 60]!r}")


def expand_macros(sql: str, time_range: TimeRange) -> str:
    start, end = time_range.start.astimezone(UTC), time_range.end.astimezone(UTC)
    seconds = max(int(time_range.interval_s), 1)
    milliseconds = max(int(time_range.interval_s * 1000), 1)

    def dt(moment: datetime) -> str:
        return f"toDateTime({math.floor(moment.timestamp())})"

    def dt64(moment: datetime) -> str:
        return f"fromUnixTimestamp64Milli({math.floor(moment.timestamp() * 1000)})"

    def date(moment: datetime) -> str:
        return f"toDate('{moment.strftime('%Y-%m-%d')}')"

    def one(args: list[str]) -> str:
        if len(args) != 1:
            raise ValueError(f"expected 1 argument, received {len(args)}")
        return args[0]

    functions = {
        "fromTime": lambda a: dt(start),
        "toTime": lambda a: dt(end),
        "fromTime_ms": lambda a: dt64(start),
        "toTime_ms": lambda a: dt64(end),
        "timeFilter": lambda a: f"{one(a)} >= {dt(start)} AND {one(a)} <= {dt(end)}",
        "timeFilter_ms": lambda a: f"{one(a)} >= {dt64(start)} AND {one(a)} <= {dt64(end)}",
        "dateFilter": lambda a: f"{one(a)} >= {date(start)} AND {one(a)} <= {date(end)}",
        "timeInterval": lambda a: f"toStartOfInterval(toDateTime({one(a)}), INTERVAL {seconds} second)",
        "timeInterval_ms": lambda a: (
            f"toStartOfInterval(toDateTime64({one(a)}, 3), INTERVAL {milliseconds} millisecond)"
        ),
        "interval_s": lambda a: str(seconds),
    }
    out = []
    position = 0
    for match in re.finditer(r"\$__(\w+)", sql):
        if match.start() < position:
            continue
        name = match.group(1)
        if name not in functions:
            raise ValueError(f"$__{name} is not a macro of the ClickHouse plugin")
        args: list[str] = []
        after = match.end()
        if after < len(sql) and sql[after] == "(":
            args, after = _args(sql, after)
        out.append(sql[position : match.start()])
        out.append(functions[name](args))
        position = after
    out.append(sql[position:])
    return "".join(out)


def clickhouse_sql(raw: str, variables: Variables, time_range: TimeRange) -> str:
    """The SQL ClickHouse receives for a panel's rawSql."""
    return expand_macros(interpolate(apply_conditional_all(raw, variables), variables, "clickhouse"), time_range)


def duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", text)
    if not match:
        raise ValueError(text)
    return int(match.group(1)) * units[match.group(2)]


def promql(expr: str, variables: Variables, interval: str = "1m", rate_interval: str = "1m", range_: str = "1h") -> str:
    """The PromQL Prometheus receives for a panel's expr."""
    builtins = {"__interval": interval, "__rate_interval": rate_interval, "__range": range_}
    return interpolate(expr, variables, "prometheus", builtins)
