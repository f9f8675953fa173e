"""Option rows: how a component declares the settings it reads.

Each component lists its options as rows (YAML path, type, default, one line of documentation) beside its
config dataclass; the collector gathers every component's rows into one table, loads their values (defaults <
file < environment < flags) and hands each component the values by path, from which the component builds its
own frozen config (`from_options`) and checks it (`validate`, raising ConfigError). Rows live here, not in the
collector, so that a component never imports the collector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

# Every loaded option's value by its dotted path ("otlp.grpc_port" → 4317), every component's rows included:
# a component may read a value another one owns (the data directory, the address every listener binds to).
OptionValues = Mapping[str, Any]

ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True, slots=True)
class Option:
    path: str  # dotted YAML path
    type: type
    default: Any
    doc: str

    @property
    def env(self) -> str:
        return "CC_ANALYTICS_" + self.path.replace(".", "_").upper()

    @property
    def flag(self) -> str:
        return "--" + self.path.replace(".", "-").replace("_", "-")

    @property
    def attribute(self) -> str:
        return self.path.replace(".", "_")


class ConfigError(ValueError):
    """A setting that cannot work; the message names the option and what is wrong with it."""


def check_port(name: str, port: int) -> None:
    """`name` is the option's attribute spelling (`api_port`), as the collector has always named ports."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"{name} must be a port number, got {port}")


def require_at_least(
    name: str, value: float, low: int, meaning: str = "", error: type[ConfigError] = ConfigError
) -> None:
    """Raises `error` unless `value` >= `low`. "at least 0" reads oddly, so a bound of 0 is said "0 or more";
    `meaning` (what 0 stands for, or the bound in other units) is given in brackets after the number."""
    if value >= low:
        return
    note = f" ({meaning})" if meaning else ""
    if low == 0:
        raise error(f"{name} must be 0{note} or more")
    raise error(f"{name} must be at least {low}{note}")


def require_range(name: str, value: float, low: int, high: int, error: type[ConfigError] = ConfigError) -> None:
    if not low <= value <= high:
        raise error(f"{name} must be between {low} and {high}")


def require_one_of(name: str, value: str, choices: tuple[str, ...], error: type[ConfigError] = ConfigError) -> None:
    """The message lists the choices as a sentence does: "must be auto, true or false"."""
    if value not in choices:
        raise error(f"{name} must be {', '.join(choices[:-1])} or {choices[-1]}")


def config_from_rows(
    config: type[ConfigT], rows: Iterable[Option], values: OptionValues, sections: tuple[str, ...] = (), **computed: Any
) -> ConfigT:
    """`config` made from its rows' values and `computed`. A row's value goes to the field named as its path
    without the first of `sections` it starts with, dots as underscores (with sections ("queue.",):
    queue.max_bytes → max_bytes, log.level → log_level); `computed` holds the fields a value is converted or
    derived for, and those read from another component's rows, and wins over a row's value."""
    fields: dict[str, Any] = {}
    for row in rows:
        name = next((row.path.removeprefix(section) for section in sections if row.path.startswith(section)), row.path)
        fields[name.replace(".", "_")] = values[row.path]
    fields.update(computed)
    return config(**fields)
