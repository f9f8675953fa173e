"""`cc-analytics`: the command line."""

from __future__ import annotations

import argparse
import os
import sys

from collector import config as configuration
from collector.exits import run_to_exit_code
from collector.logs import configure
from console import access_cli


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
    commands.add_parser(
        "loadgen", add_help=False, help="send realistic Claude Code telemetry load (see loadgen --help)"
    )
    for action in access_cli.add_parser(commands):
        action.add_argument("--config", help=f"YAML config file (env {configuration.CONFIG_FILE_ENV})")
        for option in configuration.OPTIONS:
            if option.path in ("data_dir", "console.access_file"):
                action.add_argument(option.flag, dest=option.attribute, default=None, help=option.doc)
    return parser


def _loadgen(argv: list[str]) -> int:
    # Imported when asked for: `run` need not load the load generator's senders.
    from loadgen.cli import main as loadgen_main

    return loadgen_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["loadgen"]:  # its own options (loadgen/cli.py); needs no collector configuration
        return _loadgen(argv[1:])
    arguments = _parser().parse_args(argv)
    flags = {key: value for key, value in vars(arguments).items() if key not in ("command", "config")}
    try:
        config = configuration.load(flags=flags, config_file=arguments.config)
    except configuration.ConfigError as exc:
        print(f"cc-analytics: {exc}", file=sys.stderr)
        return 2
    configure(config.log_level)
    # Every file any command writes (access file, data directory, store) is the operator's alone.
    os.umask(0o077)
    if arguments.command == "access":
        return access_cli.run(arguments, config.access_file)
    if arguments.command == "run":
        from collector.app import serve

        return run_to_exit_code(serve(config), "cc-analytics")
    return 0


if __name__ == "__main__":
    sys.exit(main())
