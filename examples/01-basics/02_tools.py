"""Tools: plain Python functions the model can call, run by a worker in this process.

    python examples/01-basics/02_tools.py

``@tool`` turns a typed function into a tool: its signature becomes the JSON schema the
model sees, its docstring the description. A parameter annotated ``ToolContext`` is filled
in by the runtime (the execution id, a per-call idempotency key, the attempt number) and is
not shown to the model. Offline, the scripted model calls both tools, then answers.
"""

from agentspan.agents import Agent, AgentRuntime, ToolContext, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def lookup_order(order_id: str) -> dict[str, object]:
    """Look an order up by its id (a stand-in for your order database)."""
    return {"order_id": order_id, "status": "shipped", "items": 3}


@tool
def order_note(order_id: str, note: str, context: ToolContext) -> str:
    """Attach a note to an order."""
    # A real system would pass context.idempotency_key on, so a retried call is not doubled.
    return f"note saved on {order_id} (attempt {context.attempt}, key ends {context.idempotency_key[-6:]})"


agent = Agent(
    name="order_desk",
    model=scripted_or_live(
        [
            ToolCall("lookup_order", {"order_id": "A-1001"}),
            ToolCall("order_note", {"order_id": "A-1001", "note": "customer asked"}),
            "Order A-1001 has shipped (3 items); I noted the question.",
        ]
    ),
    instructions="Look the order up, note that the customer asked, then answer in one line.",
    tools=[lookup_order, order_note],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Where is order A-1001?")
    for call in result.tool_calls:
        print(f"{call['name']}({call['args']}) -> {call['result']}")
    print(result.output)

# expect: lookup_order({'order_id': 'A-1001'}) -> {'order_id': 'A-1001', 'status': 'shipped', 'items': 3}
# expect: note saved on A-1001 (attempt 1, key ends
# expect: Order A-1001 has shipped
