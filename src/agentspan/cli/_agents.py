"""``agentspan agents``: deployed agents — list them, show a name's versions (and how many
executions run each), and deploy the agents defined in a package or in Python files.

``list`` and ``show`` are REST calls like the rest of the CLI. ``deploy`` imports your code
to find its module-level agents (``--package`` or ``--path``) and sends each definition
with the SDK's ``AgentRuntime.deploy``; it serves no tools (``runtime.serve`` does).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import quote

from agentspan.cli._executions import ApiClient, CliError, local_time, parse, print_json, print_table
from agentspan.protocol.api import DeploymentDetail, DeploymentSummary


def cmd_list(args: argparse.Namespace) -> int:
    with ApiClient(args.server_url) as api:
        data = api.call("GET", "/deployments")
    if args.json:
        print_json(data)
        return 0
    rows = [
        [d.name, str(d.latest_version), local_time(d.updated_at), d.spec_hash[:12]]
        for d in (parse(DeploymentSummary, row) for row in data)
    ]
    if not rows:
        print(
            "no deployed agents (deploy with: agentspan agents deploy --package PKG, or runtime.deploy(agent))"
        )
        return 0
    print_table(["NAME", "LATEST", "DEPLOYED", "SPEC"], rows)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with ApiClient(args.server_url) as api:
        data = api.call("GET", f"/deployments/{quote(args.name, safe='')}")
    if args.json:
        print_json(data)
        return 0
    detail = parse(DeploymentDetail, data)
    print(
        f"{detail.name}: {len(detail.versions)} version(s); workers needed: {', '.join(detail.required_workers) or 'none'}"
    )
    rows = [
        [str(v.version), local_time(v.created_at), v.created_by, str(v.running), v.spec_hash[:12]]
        for v in detail.versions
    ]
    print_table(["VERSION", "DEPLOYED", "BY", "RUNNING", "SPEC"], rows)
    return 0


def _found(args: argparse.Namespace) -> list[Any]:
    from agentspan.agents._deploy import discover_agents, discover_path

    if not args.package and not args.path:
        raise CliError("give --package PKG or --path FILE_OR_DIR to find agents to deploy")
    sys.path.insert(0, ".")  # `--package` names a package importable from here, as python -m does
    agents = discover_agents(list(args.package or []))
    for path in args.path or []:
        agents.extend(discover_path(path))
    if args.agents:
        wanted = {a.strip() for a in args.agents.split(",") if a.strip()}
        missing = wanted - {a.name for a in agents}
        if missing:
            raise CliError(f"no agent named {', '.join(sorted(missing))} was found")
        agents = [a for a in agents if a.name in wanted]
    if not agents:
        raise CliError("no module-level agents found")
    return agents


def cmd_deploy(args: argparse.Namespace) -> int:
    from agentspan.agents import AgentAPIError, AgentConfig, AgentRuntime

    agents = _found(args)
    config = AgentConfig(server_url=args.server_url, auto_start_server=False, auto_start_workers=False)
    try:
        with AgentRuntime(config=config) as runtime:
            infos = runtime.deploy(*agents)
    except AgentAPIError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print_json([{"agentName": i.agent_name, "version": i.version, "created": i.created} for i in infos])
        return 0
    for info in infos:
        state = "deployed" if info.created else "unchanged"
        print(f"{state}: {info.agent_name} version {info.version}")
    return 0


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    agents = commands.add_parser("agents", help="deployed agents: list, show versions, deploy")
    sub = agents.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    p = sub.add_parser("list", parents=[common], help="list deployed agents and their latest version")
    p.add_argument("--json", action="store_true", help="print the raw JSON response")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser(
        "show", parents=[common], help="a deployed agent's versions and how many executions run each"
    )
    p.add_argument("name", help="the agent's name")
    p.add_argument("--json", action="store_true", help="print the raw JSON response")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser(
        "deploy",
        parents=[common],
        help="deploy the module-level agents of a package or of Python files",
        description="Import the code, find its module-level agents (Agent objects and @agent "
        "functions) and store each as the next version of its name. Tools are not served: run "
        "runtime.serve(agent) (or serve(packages=[...])) in the process that has them.",
    )
    p.add_argument("--package", action="append", help="a package to scan, with its sub-modules (repeatable)")
    p.add_argument("--path", action="append", help="a .py file or a directory of them (repeatable)")
    p.add_argument("--agents", help="only these agents (comma-separated names)")
    p.add_argument("--json", action="store_true", help="print what was deployed as JSON")
    p.set_defaults(handler=cmd_deploy)
