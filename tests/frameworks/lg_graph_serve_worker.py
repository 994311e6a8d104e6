"""A standalone worker process serving the durable LangGraph graph until killed."""

from __future__ import annotations

from lg_graph_crash_agents import shipping_graph

from agentspan.agents import AgentConfig, AgentRuntime

if __name__ == "__main__":
    config = AgentConfig.from_env()
    config.auto_start_server = False
    with AgentRuntime(config=config) as runtime:
        runtime.serve(shipping_graph())
