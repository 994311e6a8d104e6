"""A standalone worker process serving the demo's slow tool."""

from __future__ import annotations

from agentspan.agents import Agent, AgentRuntime

from demo_tools import generate_report, support_agent

if __name__ == "__main__":
    agent = support_agent()
    only_report = Agent(name=agent.name, model=agent.model, tools=[generate_report])
    with AgentRuntime() as runtime:
        runtime.serve(only_report)
