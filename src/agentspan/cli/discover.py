"""``python -m agentspan.cli.discover (--package P | --path FILE_OR_DIR)``: the reference's
discovery helper (its Go CLI runs it). Prints ``[{"name", "framework"}]`` as JSON for the
module-level agents found (``framework`` is ``"native"``: discovery finds ``Agent`` objects
and ``@agent`` functions); anything the imported code prints goes to stderr, so stdout is
only the JSON. Exit 1 with one ``error:`` line when discovery fails."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from agentspan.cli._agents import _found
from agentspan.cli._executions import CliError


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--package", action="append", help="a package to scan, with its sub-modules (repeatable)")
    p.add_argument("--path", action="append", help="a .py file or a directory of them (repeatable)")
    p.add_argument("--agents", help="only these agents (comma-separated names)")
    return p


def found_agents(args: argparse.Namespace) -> list[Any] | None:
    """The agents ``args`` name, imported with the code's own output sent to stderr;
    ``None`` (after one ``error:`` line) when discovery failed."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return _found(args)
    except CliError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the user's code failed to import: say so in one line
        print(f"error: discovery failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    return None


def main(argv: list[str] | None = None) -> int:
    described = "List the module-level agents of a package or path."
    agents = found_agents(parser("python -m agentspan.cli.discover", described).parse_args(argv))
    if agents is None:
        return 1
    print(json.dumps([{"name": a.name, "framework": "native"} for a in agents]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
