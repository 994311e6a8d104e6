"""Approvals: a tool that waits for a person to say yes or no before it runs.

    python examples/02-human-in-the-loop/01_approve_and_reject.py

``@tool(approval_required=True)`` makes every call wait, durably (the server keeps the
wait; nothing needs to stay running). ``approve()`` runs the call; ``reject(reason)`` skips
it and tells the model why, so it can answer accordingly. Here the stream shows the
``waiting`` event and the decision is made right there.
"""

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live

deleted: list[str] = []


@tool(approval_required=True)
def delete_user(user_id: str) -> str:
    """Delete a user account for good."""
    deleted.append(user_id)
    return f"user {user_id} deleted"


def admin(user_id: str) -> Agent:
    return Agent(
        name="account_admin",
        model=scripted_or_live([ToolCall("delete_user", {"user_id": user_id}), f"Done with {user_id}."]),
        instructions="Delete the account the user names, then report what happened.",
        tools=[delete_user],
    )


with AgentRuntime() as runtime:
    for user_id, decision in [("u-17", "approve"), ("u-99", "reject")]:
        stream = runtime.stream(admin(user_id), f"Please delete account {user_id}.")
        for event in stream:
            if event.type == "waiting":
                print(f"{user_id}: waiting for approval of {(event.pending_tool or {}).get('tool_name')}")
                if decision == "approve":
                    stream.approve()
                else:
                    stream.reject("account u-99 belongs to an active customer")
        call = stream.get_result().tool_calls[0]
        print(
            f"{user_id}: {decision} -> call {call['status']}, result: {call.get('result') or call.get('error')}"
        )
    print(f"functions actually run for: {deleted}")

# expect: u-17: waiting for approval of delete_user
# expect: u-17: approve -> call completed, result: user u-17 deleted
# expect: u-99: reject -> call rejected
# expect: account u-99 belongs to an active customer
# expect: functions actually run for: ['u-17']
