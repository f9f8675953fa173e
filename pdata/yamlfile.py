"""Reading an operator's YAML file with errors that say which file and what is wrong: the reason the file could
not be read, or the line and column where it stops being YAML, never a parser's traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml


def read_failure(exc: OSError | UnicodeDecodeError) -> str:
    """Why a file could not be read, in the words of the operating system."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return exc.strerror or type(exc).__name__


def load_yaml(path: Path, what: str, error: Callable[[str], Exception], missing_ok: bool = False) -> object:
    """The document of the YAML file at `path` (None for an empty one). A file that cannot be read or parsed
    raises `error` with a message naming the file (`what` is how it is called, e.g. "the access file");
    with `missing_ok` a file that does not exist reads as None."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        if missing_ok and isinstance(exc, FileNotFoundError):
            return None
        raise error(f"{path}: cannot read {what}: {read_failure(exc)}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise error(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None


def value_kind(value: object) -> str:
    """What a YAML value is, for a message saying it is not what was expected."""
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )
