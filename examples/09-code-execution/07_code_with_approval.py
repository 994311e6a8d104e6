"""Code that waits for a person: each execute_code call is reviewed before it runs.

    python examples/09-code-execution/07_code_with_approval.py

``code_execution=CodeExecutionConfig(approval_required=True, retryable=False)`` holds every
code call until someone approves it (``approve()`` from any process, or ``agentspan
approve <id>``); the reviewer sees the exact code in the pending call. ``retryable=False``
means a call whose worker dies is not run again on its own, for code with side effects.
With no API key the model is scripted.
"""

import time

from agentspan.agents import Agent, AgentRuntime, CodeExecutionConfig
from agentspan.agents.testing import ToolCall, scripted_or_live

CODE = "files = ['a.tmp', 'b.tmp', 'c.tmp']\nprint(f'cleanup plan: remove {len(files)} temp files')"

agent = Agent(
    name="ops_coder",
    model=scripted_or_live(
        [
            ToolCall("ops_coder_execute_code", {"code": CODE, "language": "python"}),
            "Plan printed after review.",
        ]
    ),
    instructions="Write Python to plan the cleanup; a person reviews it before it runs.",
    code_execution=CodeExecutionConfig(allowed_languages=["python"], approval_required=True, retryable=False),
)

with AgentRuntime() as runtime:
    handle = runtime.start(agent, "Plan the temp-file cleanup.")
    while not (status := handle.get_status()).is_waiting:
        time.sleep(0.1)
    pending = status.pending_tool or {}
    print(f"waiting for review of {pending.get('tool_name')}:")
    print("  " + pending.get("parameters", {}).get("code", "").replace("\n", "\n  "))
    handle.approve()
    result = handle.join(timeout=60)
    print(result.output)
    call = result.tool_calls[0]
    print(f"approved: {call['approval']['approved']}; stdout: {call['result']['stdout'].strip()}")

# expect: waiting for review of ops_coder_execute_code:
# expect: print(f'cleanup plan: remove {len(files)} temp files')
# expect: approved: True; stdout: cleanup plan: remove 3 temp files
