"""A standalone worker process serving the guardrails of ``guarded_agent`` until killed."""

from __future__ import annotations

from agentspan.agents import AgentConfig, AgentRuntime

from chaos_agents import guard_holder, guarded_agent

if __name__ == "__main__":
    config = AgentConfig.from_env()
    config.auto_start_server = False
    with AgentRuntime(config=config) as runtime:
        runtime.serve(guarded_agent(), guard_holder())
