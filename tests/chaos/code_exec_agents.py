"""The agents of the code-execution kill test, shared by the test and its worker process.

The executed code appends a line to ``CODE_LOG`` (declared to the sandbox via ``env``:
the worker's own environment does not reach it) and then sleeps ``CODE_SLEEP`` seconds.
"""

from __future__ import annotations

import os

from agentspan.agents import Agent, CodeExecutionConfig, LocalCodeExecutor

CODE = "import os, time\nopen(os.environ['CODE_LOG'], 'a').write('ran\\n')\ntime.sleep(float(os.environ['CODE_SLEEP']))\nprint('slept')"


def code_agent(retryable: bool) -> Agent:
    executor = LocalCodeExecutor(
        timeout=60,
        env={"CODE_LOG": os.environ.get("CODE_LOG", ""), "CODE_SLEEP": os.environ.get("CODE_SLEEP", "0")},
    )
    name = "chaos_coder" if retryable else "chaos_coder_once"
    return Agent(
        name=name,
        model="openai/gpt-4o",
        code_execution=CodeExecutionConfig(executor=executor, timeout=60, retryable=retryable),
    )
