"""``agentspan executions wait ID``: block until an execution ends, then say how.

Long-polls the server (``GET /agent/execution/{id}?waitMs=...``) in slices, so a run that
takes an hour costs a request every 25 s, not a busy loop; on a terminal a progress line
shows the time waited. Exit 0 when the execution COMPLETED, 1 when it ended otherwise or
the ``--timeout`` passed (one ``error:`` line), like every other command.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from agentspan.cli._executions import ApiClient, CliError, exec_path, print_json
from agentspan.cli._style import paint, progress, status_style, use_colour
from agentspan.protocol.api import TERMINAL_STATUSES

_SLICE_SECONDS = 25.0
EXIT_NOT_COMPLETED = 1


def _positive(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def cmd_wait(args: argparse.Namespace) -> int:
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    path = exec_path(args.id, "/agent/execution/{id}")
    with ApiClient(args.server_url) as api, progress(f"waiting for {args.id}"):
        while True:
            remaining = (
                _SLICE_SECONDS if deadline is None else min(_SLICE_SECONDS, deadline - time.monotonic())
            )
            if remaining <= 0:
                status = api.call("GET", exec_path(args.id, "/agent/{id}/status"))
                waiting = f", {status['waitingReason']}" if status.get("waitingReason") else ""
                raise CliError(
                    f"{args.id} did not finish within {args.timeout:g} s (it is {status['status']}{waiting})"
                )
            detail: dict[str, Any] = api.call(
                "GET", path, params={"waitMs": max(1, int(remaining * 1000))}, timeout=remaining + 30
            )
            if detail.get("status") in TERMINAL_STATUSES:
                break
    if args.json:
        print_json(detail)
    else:
        _print_outcome(detail)
    return 0 if detail["status"] == "COMPLETED" else EXIT_NOT_COMPLETED


def _print_outcome(detail: dict[str, Any]) -> None:
    status = str(detail["status"])
    print(paint(status, status_style(status), enabled=use_colour()))
    if detail.get("error"):
        print(f"error: {detail['error']}")
    output = detail.get("output")
    if output is not None:
        print(output if isinstance(output, str) else json.dumps(output, indent=2, ensure_ascii=False))


def add_parsers(
    executions: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = executions.add_parser(
        "wait", parents=[common], help="wait until an execution ends; print its status and output"
    )
    p.add_argument("id", help="execution id")
    p.add_argument(
        "--timeout", type=_positive, metavar="SECONDS", help="give up after this long (default: never)"
    )
    p.add_argument("--json", action="store_true", help="print the final execution detail as JSON")
    p.set_defaults(handler=cmd_wait)
