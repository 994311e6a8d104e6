"""The machinery behind ``agentspan.agents.code_executor``, ``code_execution_config`` and
``cli_config``: a resource-limited child process launcher and the executors' shared parts."""
