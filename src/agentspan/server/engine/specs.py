"""What an agent spec offers: its strategy's shape and the tools its model sees."""

from __future__ import annotations

import weakref

from agentspan.protocol.spec import AgentConfig, HandoffSettings, HandoffTool, ToolConfig


def is_pipeline(spec: AgentConfig) -> bool:
    return spec.strategy == "sequential" and bool(spec.agents)


TEAM_STRATEGIES = frozenset(
    {"parallel", "router", "round_robin", "random", "swarm", "manual", "plan_execute"}
)


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


_TOOL_TABLES: dict[int, tuple[weakref.ref[AgentConfig], dict[str, ToolConfig]]] = {}
"""``offered_tools`` by name, per spec object (by identity: the driver keeps one parsed
spec per hash, so a step finds its table without rebuilding it). Entries go with the
spec, through the weak reference's callback."""


def _tool_table(spec: AgentConfig) -> dict[str, ToolConfig]:
    key = id(spec)
    entry = _TOOL_TABLES.get(key)
    if entry is not None and entry[0]() is spec:
        return entry[1]
    table: dict[str, ToolConfig] = {}
    for tool in offered_tools(spec):
        table.setdefault(tool.name, tool)  # the first of a name wins, as a scan would find

    def forget(_ref: weakref.ref[AgentConfig]) -> None:
        _TOOL_TABLES.pop(key, None)

    _TOOL_TABLES[key] = (weakref.ref(spec, forget), table)
    return table


def find_tool(spec: AgentConfig, name: str) -> ToolConfig | None:
    """The offered tool called ``name``, in constant time: a model reply calling every one
    of an agent's thousands of tools must not scan the tool list once per call."""
    return _tool_table(spec).get(name)
