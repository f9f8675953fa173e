"""`cc-analytics`: the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

from collector import config as configuration
from collector.logs import configure


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cc-analytics", description="Self-hosted analytics for Claude Code.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the collector (OTLP receiver, pipeline, API)")
    run.add_argument("--config", help=f"YAML config file (env {configuration.CONFIG_FILE_ENV})")
    for option in configuration.OPTIONS:
        run.add_argument(
            option.flag,
            dest=option.attribute,
            default=None,
            help=f"{option.doc} (env {option.env}, default {option.default!r})",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    flags = {key: value for key, value in vars(arguments).items() if key not in ("command", "config")}
    try:
        config = configuration.load(flags=flags, config_file=arguments.config)
    except configuration.ConfigError as exc:
        print(f"cc-analytics: {exc}", file=sys.stderr)
        return 2
    configure(config.log_level)
    if arguments.command == "run":
        from collector.app import serve

        try:
            asyncio.run(serve(config))
        except SystemExit as exc:
            if isinstance(exc.code, str):
                print(f"cc-analytics: {exc.code}", file=sys.stderr)
                return 1
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
