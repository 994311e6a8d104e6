"""A standalone worker process serving the Google ADK agent's tools until killed."""

from __future__ import annotations

from agentspan.agents import AgentConfig, AgentRuntime

from adk_crash_agents import shop_agent

if __name__ == "__main__":
    config = AgentConfig.from_env()
    config.auto_start_server = False
    with AgentRuntime(config=config) as runtime:
        runtime.serve(shop_agent())
