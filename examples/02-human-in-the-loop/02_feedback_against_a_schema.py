"""Richer answers: the approver sends feedback, checked against the tool's response schema.

    python examples/02-human-in-the-loop/02_feedback_against_a_schema.py

A tool's ``response_schema`` says what a reviewer may answer besides yes/no. The server
checks every answer against it: one that does not fit is refused with a 400 naming the
problem, and nothing is decided. Here the reviewer first sends a malformed answer, then
rejects the draft with feedback; the model sees the feedback and revises.
"""

import time
from typing import Any

from agentspan.agents import Agent, AgentAPIError, AgentHandle, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live

REVIEW = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "feedback": {"type": "string", "description": "What the writer should change"},
    },
    "required": ["approved"],
}


@tool(approval_required=True, response_schema=REVIEW)
def publish_post(title: str, body: str) -> str:
    """Publish a blog post."""
    return f"published '{title}'"


agent = Agent(
    name="blog_writer",
    model=scripted_or_live(
        [
            ToolCall("publish_post", {"title": "Durable agents", "body": "They never forget."}),
            ToolCall("publish_post", {"title": "Durable agents, explained", "body": "Every step is saved."}),
            "Published the revised post.",
        ]
    ),
    instructions="Write a short post and publish it; if the reviewer gives feedback, revise and retry.",
    tools=[publish_post],
)


def wait_for_review(handle: AgentHandle) -> dict[str, Any]:
    while not (status := handle.get_status()).is_waiting:
        time.sleep(0.05)
    return status.pending_tool or {}


with AgentRuntime() as runtime:
    handle = runtime.start(agent, "Write about durable agents.")
    pending = wait_for_review(handle)
    print(f"reviewer may answer: {sorted(pending['response_schema']['properties'])}")
    try:
        handle.respond({"approved": False, "feedback": ["not", "a", "string"]})
    except AgentAPIError as exc:
        print(f"refused ({exc.status_code} {exc.code}): {exc.message}")
    handle.respond({"approved": False, "feedback": "Make the title more specific."})
    wait_for_review(handle)
    handle.approve()
    result = handle.join(timeout=30)
    for call in result.tool_calls:
        print(f"{call['args']['title']!r}: {call['status']}")
    tool_messages = [m["content"] for m in result.messages if m.get("role") == "tool"]
    print(f"the model was told: {tool_messages[0]}")
    print(result.output)

# expect: reviewer may answer: ['approved', 'feedback']
# expect: refused (400 validation_failed)
# expect: 'Durable agents': rejected
# expect: the model was told: The user rejected this call to 'publish_post'; it was not run. Reason: Make the title more specific.
# expect: 'Durable agents, explained': completed
