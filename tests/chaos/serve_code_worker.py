"""A standalone worker serving the code-execution agents until killed."""

from __future__ import annotations

from code_exec_agents import code_agent

from agentspan.agents import AgentConfig, AgentRuntime

if __name__ == "__main__":
    config = AgentConfig.from_env()
    config.auto_start_server = False
    with AgentRuntime(config=config) as runtime:
        runtime.serve(code_agent(True), code_agent(False))
