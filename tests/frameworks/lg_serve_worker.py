"""A standalone worker process serving the LangChain agent's tools until killed."""

from __future__ import annotations

from agentspan.agents import AgentConfig, AgentRuntime

from lg_crash_agents import shop_graph

if __name__ == "__main__":
    config = AgentConfig.from_env()
    config.auto_start_server = False
    with AgentRuntime(config=config) as runtime:
        runtime.serve(shop_graph())
