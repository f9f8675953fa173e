"""Helpers for the promtool unit tests of the alerts: input series notation, the test clock, and Go's template
functions, so that a test can state the exact annotations an alert renders."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

# --- input series ---------------------------------------------------------------------------------------------


def series(name: str, values: str) -> dict[str, str]:
    return {"series": name, "values": values}


def minutes(n: int) -> str:
    return f"{n}m"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def counter(increments: Sequence[float], start: float = 0) -> str:
    """A counter in promtool's expanding notation: `start`, then each step adds the next increment.

    Runs of equal increments become one `a+bxn` term (n + 1 values), so a fortnight at a 10-minute step stays
    a few dozen terms long."""
    values = [float(start)]
    for increment in increments:
        values.append(values[-1] + increment)
    terms = []
    first = 0
    while first < len(values):
        last = first
        step = values[first + 1] - values[first] if first + 1 < len(values) else 0.0
        while last + 1 < len(values) and values[last + 1] - values[last] == step:
            last += 1
        if last == first:
            terms.append(_number(values[first]))
        elif step == 0:
            terms.append(f"{_number(values[first])}x{last - first}")
        else:
            terms.append(f"{_number(values[first])}+{_number(step)}x{last - first}")
        first = last + 1
    return " ".join(terms)


# --- the test clock -------------------------------------------------------------------------------------------
# promtool evaluates from the Unix epoch: day 0 is Thursday 1 January 1970, so Monday is day 4, 11, 18, …

MONDAY = 4


def minute_of(day: int, hour: int = 0, minute: int = 0) -> int:
    """Minutes after the epoch of `day` days later at hour:minute UTC."""
    return (day * 24 + hour) * 60 + minute


def at(day: int, hour: int = 0, minute: int = 0) -> str:
    """An eval_time: `day` days after the epoch, at hour:minute UTC."""
    return minutes(minute_of(day, hour, minute))


def working(minute: int, hours: tuple[int, int], days: tuple[int, int]) -> bool:
    """Whether the minute after the epoch falls in the working hours, with day_of_week() numbering (0 = Sunday)."""
    day, minute_of_day = divmod(minute, 1440)
    weekday = (day + 4) % 7  # the epoch was a Thursday
    return days[0] <= weekday <= days[1] and hours[0] * 60 <= minute_of_day < hours[1] * 60


def increments(steps: int, step_minutes: int, per_step: Callable[[int], float]) -> list[float]:
    """The increments of a counter over `steps` steps: `per_step(minute)` is what the step starting at that
    minute (after the epoch) adds, so the step from 09:00 to 09:10 counts as working time."""
    return [per_step(i * step_minutes) for i in range(steps)]


# --- Go template functions (Prometheus' humanize, humanizePercentage, humanizeDuration) ------------------------


def _go_g(value: float, suffix: str = "") -> str:
    """Go's fmt %.4g, which Python's matches for finite values."""
    if math.isnan(value):
        return "NaN" + suffix
    if math.isinf(value):
        return ("+Inf" if value > 0 else "-Inf") + suffix
    return f"{value:.4g}{suffix}"


def _scaled_up(value: float) -> tuple[float, str]:
    """A magnitude below 1 in thousands up to at least 1, with the SI prefix of the last step (Go's humanize)."""
    prefix = ""
    for candidate in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = candidate
        value *= 1000
    return value, prefix


def humanize(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return _go_g(value)
    if abs(value) >= 1:
        prefix = ""
        for candidate in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix = candidate
            value /= 1000
        return _go_g(value, prefix)
    return _go_g(*_scaled_up(value))


def humanize_percentage(value: float) -> str:
    return _go_g(value * 100, "%")


def humanize_duration(value: float) -> str:
    if not math.isfinite(value):
        return _go_g(value)
    if value == 0:
        return "0s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        value = abs(value)
        whole = int(value)
        seconds, minutes_, hours, days = whole % 60, whole // 60 % 60, whole // 3600 % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes_}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes_}m {seconds}s"
        if minutes_:
            return f"{sign}{minutes_}m {seconds}s"
        return f"{sign}{value:.4g}s"
    scaled, prefix = _scaled_up(value)
    return f"{scaled:.4g}{prefix}s"


TEMPLATE_FUNCTIONS: dict[str, Callable[[float], str]] = {
    "humanize": humanize,
    "humanizePercentage": humanize_percentage,
    "humanizeDuration": humanize_duration,
}


def render(template: str, labels: dict[str, str], value: float | None) -> str:
    """An annotation as Prometheus renders it: `{{ $labels.x }}` and `{{ $value | <function> }}`.

    A bare `{{ $value }}` is refused: Go prints floats in its own shortest form, which a test should not have to
    reproduce; pipe it through one of TEMPLATE_FUNCTIONS."""

    def replace(match: re.Match[str]) -> str:
        action = match.group(1).strip()
        if action.startswith("$labels."):
            return labels.get(action.removeprefix("$labels."), "")
        source, _, function = (part.strip() for part in action.partition("|"))
        if source != "$value" or function not in TEMPLATE_FUNCTIONS:
            raise ValueError(f"unsupported template action {{{{ {action} }}}}")
        if value is None:
            raise ValueError(f"{template!r} shows the alert's value: give the firing scenario its value")
        return TEMPLATE_FUNCTIONS[function](value)

    return re.sub(r"\{\{(.*?)\}\}", replace, template)
