"""How a collector process ends when its start fails: one line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from pdata.options import ConfigError


def run_to_exit_code(service: Coroutine[Any, Any, None], program: str) -> int:
    """Run `service` to its end: 0; a ConfigError (naming the file, the entry and the fault) is exit 2, a
    SystemExit with a reason (a port taken, a store that cannot be opened) exit 1, each as one line."""
    try:
        asyncio.run(service)
    except ConfigError as exc:
        print(f"{program}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(f"{program}: {exc.code}", file=sys.stderr)
            return 1
        raise
    return 0
