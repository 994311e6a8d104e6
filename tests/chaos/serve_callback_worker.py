"""A standalone worker process serving the callbacks of ``hooked_agent`` until killed."""

from __future__ import annotations

from agentspan.agents import AgentConfig, AgentRuntime

from chaos_agents import hooked_agent

if __name__ == "__main__":
    config = AgentConfig.from_env()
    config.auto_start_server = False
    with AgentRuntime(config=config) as runtime:
        runtime.serve(hooked_agent())
