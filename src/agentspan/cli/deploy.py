"""``python -m agentspan.cli.deploy (--package P | --path FILE_OR_DIR) [--agents a,b]``: the
reference's deploy helper. Deploys each agent found to the server of
``AGENTSPAN_SERVER_URL`` (as ``agentspan agents deploy`` does) and prints
``[{"agent_name", "registered_name", "success", "error"}]`` as JSON, one entry per agent;
exit 1 when discovery failed or any deploy did."""

from __future__ import annotations

import json
from typing import Any

from agentspan.cli.discover import found_agents, parser


def main(argv: list[str] | None = None) -> int:
    from agentspan.agents import AgentConfig, AgentRuntime, AgentspanError

    described = "Deploy the module-level agents of a package or path."
    agents = found_agents(parser("python -m agentspan.cli.deploy", described).parse_args(argv))
    if agents is None:
        return 1
    config = AgentConfig.from_env()
    config.auto_start_workers = False
    results: list[dict[str, Any]] = []
    with AgentRuntime(config=config) as runtime:
        for agent in agents:
            try:
                info = runtime.deploy(agent)[0]
                results.append(
                    {
                        "agent_name": agent.name,
                        "registered_name": info.registered_name,
                        "success": True,
                        "error": None,
                    }
                )
            except (AgentspanError, OSError) as exc:
                results.append(
                    {"agent_name": agent.name, "registered_name": None, "success": False, "error": str(exc)}
                )
    print(json.dumps(results))
    return 0 if all(r["success"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
