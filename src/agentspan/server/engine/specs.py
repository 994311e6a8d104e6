"""What an agent spec offers: its strategy's shape and the tools its model sees."""

from __future__ import annotations

from agentspan.protocol.spec import AgentConfig, HandoffSettings, HandoffTool, ToolConfig


def is_pipeline(spec: AgentConfig) -> bool:
    return spec.strategy == "sequential" and bool(spec.agents)


TEAM_STRATEGIES = frozenset({"parallel", "router", "round_robin", "random", "swarm", "manual"})


def is_team(spec: AgentConfig) -> bool:
    """Strategies whose parent runs no model loop of its own, only sub-agents in turn."""
    return bool(spec.agents) and spec.strategy in TEAM_STRATEGIES


def offered_tools(spec: AgentConfig) -> list[ToolConfig]:
    """The tools the model sees: the agent's own, plus one ``transfer_to_<agent>`` per
    sub-agent for a handoff parent (calling it hands the conversation over)."""
    tools = list(spec.tools)
    if spec.agents and not is_pipeline(spec) and not is_team(spec):
        names = {t.name for t in tools}
        for sub in spec.agents:
            name = f"transfer_to_{sub.name}"
            if name not in names:
                tools.append(
                    HandoffTool(
                        name=name,
                        description=f"Hand the conversation over to {sub.name}"
                        + (f": {sub.introduction}" if sub.introduction else "."),
                        input_schema={
                            "type": "object",
                            "properties": {"reason": {"type": "string", "description": "Why, in one line."}},
                        },
                        tool_type="handoff",
                        config=HandoffSettings(target=sub.name),
                    )
                )
    return tools


def find_tool(spec: AgentConfig, name: str) -> ToolConfig | None:
    return next((t for t in offered_tools(spec) if t.name == name), None)
