"""``agentspan executions fork ID --from-step N``: run an execution again from one of
its model calls (``POST /api/agent/{id}/fork``; steps are the event ids ``agentspan
executions events ID`` prints)."""

from __future__ import annotations

import argparse
from typing import Any

from agentspan.cli._executions import ApiClient, CliError, exec_path, parse, print_json
from agentspan.protocol.api import ForkResponse

MAX_INSTRUCTIONS_FILE = 1024 * 1024


def cmd_fork(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"fromStep": args.from_step}
    if args.instructions is not None:
        body["instructions"] = args.instructions
    if args.model is not None:
        body["model"] = args.model
    with ApiClient(args.server_url) as api:
        data = api.call("POST", exec_path(args.id, "/agent/{id}/fork"), body=body)
    if args.json:
        print_json(data)
        return 0
    fork = parse(ForkResponse, data)
    inherited = fork.inherited_usage
    print(
        f"forked {args.id} at step {args.from_step}: {fork.execution_id} "
        f"(inherited {inherited.total_tokens} tokens, not counted again)"
    )
    print(f"follow it with: agentspan executions events {fork.execution_id} -f")
    return 0


def _step(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a step number: {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more (an event id)")
    return value


def _instructions(raw: str) -> str:
    """The text, or ``@file`` for a file's contents (long instructions)."""
    if not raw.startswith("@"):
        return raw
    try:
        with open(raw[1:], encoding="utf-8") as f:
            text = f.read(MAX_INSTRUCTIONS_FILE + 1)
    except OSError as exc:
        raise CliError(f"--instructions: cannot read {raw[1:]!r}: {exc.strerror}") from None
    if len(text) > MAX_INSTRUCTIONS_FILE:
        raise CliError(f"--instructions: {raw[1:]!r} is larger than {MAX_INSTRUCTIONS_FILE} bytes")
    return text


def add_parser(
    executions: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = executions.add_parser(
        "fork",
        parents=[common],
        help="run an execution again from one of its model calls (a new execution)",
    )
    p.add_argument("id", help="execution id")
    p.add_argument(
        "--from-step",
        type=_step,
        required=True,
        metavar="N",
        help="the model call (llm_call event id, see `agentspan executions events ID`) to make again",
    )
    p.add_argument("--instructions", help="new instructions for the agent (or @FILE)")
    p.add_argument("--model", metavar="PROVIDER/MODEL", help="another model for the new run")
    p.add_argument("--json", action="store_true", help="print the raw JSON response")
    p.set_defaults(handler=cmd_fork)
