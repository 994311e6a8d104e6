"""The ``agentspan`` command: run the server and look after executions from a terminal.

The ``server`` commands manage a local server process. ``server migrate`` and
``executions purge`` open the database directly (operator maintenance, see
``_maintenance``). Everything else talks to a server over its REST API, so it works the
same against a local server and a remote one (``--server-url``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

import agentspan
from agentspan.cli import (
    _agents,
    _credentials,
    _doctor,
    _executions,
    _fork,
    _keys,
    _maintenance,
    _server,
    _wait,
)
from agentspan.cli._executions import DEFAULT_SERVER_URL, CliError, normalise_server_url

EXIT_INTERRUPTED = 130

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentspan",
        description="Agentspan: a durable runtime for AI agents.",
    )
    parser.add_argument("--version", action="version", version=f"agentspan {agentspan.__version__}")
    server_url_help = f"API root of the server (default: $AGENTSPAN_SERVER_URL or {DEFAULT_SERVER_URL})"
    parser.add_argument("--server-url", help=server_url_help)
    # Also accepted after the command (`agentspan executions list --server-url ...`). SUPPRESS
    # keeps a subcommand that did not get it from overwriting the value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server-url", default=argparse.SUPPRESS, help=server_url_help)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    server_commands = _server.add_parsers(commands)
    execution_commands = _executions.add_parsers(commands, common)
    _maintenance.add_parsers(server_commands, execution_commands)
    _wait.add_parsers(execution_commands, common)
    _fork.add_parser(execution_commands, common)
    _keys.add_parsers(commands, common)
    _credentials.add_parsers(commands, common)
    _agents.add_parsers(commands, common)
    _doctor.add_parsers(commands, common)
    return parser


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors: argparse already printed
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    args.server_url = normalise_server_url(
        args.server_url or os.environ.get("AGENTSPAN_SERVER_URL") or DEFAULT_SERVER_URL
    )
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def main(argv: list[str] | None = None) -> int:
    """Run one command; the return value is the process exit code."""
    try:
        return _run(argv)
    except CliError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)  # end the "^C" line the terminal echoed
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `agentspan executions list | head`: the reader left, which is not our error.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
