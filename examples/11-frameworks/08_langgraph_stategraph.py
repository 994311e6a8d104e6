"""Your own LangGraph ``StateGraph``, run durably: one recorded superstep at a time.

    python examples/11-frameworks/08_langgraph_stategraph.py

Each superstep of the graph (the nodes that run together) is a durable step: it runs in
this process, and the graph's state after it is recorded on the server — so a process
killed mid-graph is continued from the last recorded superstep by another one. Here a
conditional edge routes the request, and ``interrupt()`` in the ``approve`` node becomes
a durable human wait: the run waits (for days if need be) until someone answers it, from
any process, with ``respond(execution_id, {"resume": ...})``. A graph without a
``messages`` key takes its input state as a JSON object. No model is needed.
"""

# requires: langgraph

import json
import re
import time
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from agentspan.agents import AgentRuntime


class Refund(TypedDict, total=False):
    request: str
    amount: int
    route: str
    outcome: str


def read_request(state: Refund) -> Refund:
    amount = int(re.findall(r"\d+", state["request"])[0])
    return {"amount": amount, "route": "approve" if amount > 50 else "pay"}


def approve(state: Refund) -> Refund:
    answer = interrupt({"question": f"Refund {state['amount']} EUR?"})
    return {"route": "pay" if answer == "yes" else "refuse"}


def pay(state: Refund) -> Refund:
    return {"outcome": f"paid {state['amount']} EUR"}


def refuse(state: Refund) -> Refund:
    return {"outcome": "refused"}


builder = StateGraph(Refund)
for name, node in [("read_request", read_request), ("approve", approve), ("pay", pay), ("refuse", refuse)]:
    builder.add_node(name, node)
builder.add_edge(START, "read_request")
builder.add_conditional_edges("read_request", lambda s: s["route"], ["approve", "pay"])
builder.add_conditional_edges("approve", lambda s: s["route"], ["pay", "refuse"])
builder.add_edge("pay", END)
builder.add_edge("refuse", END)
graph = builder.compile(name="refund_graph_gallery")

with AgentRuntime() as runtime:
    handle = runtime.start(graph, json.dumps({"request": "Refund 120 EUR for order 7"}))  # the input state
    while not runtime.get_status(handle.execution_id).is_waiting:
        time.sleep(0.1)
    pending = runtime.get_status(handle.execution_id).pending_tool or {}
    print(f"waiting in node {pending.get('tool_name')}: {pending['parameters']['interrupt']['question']}")
    runtime.respond(handle.execution_id, {"resume": "yes"})  # any process could do this
    result = handle.join(timeout=60)
    print(f"status: {result.status}")
    print(f"supersteps recorded: {[call['name'] for call in result.tool_calls]}")
    print(f"final state: {result.output}")

# expect: waiting in node approve: Refund 120 EUR?
# expect: status: COMPLETED
# expect: supersteps recorded: ['read_request', 'approve', 'pay']
# expect: paid 120 EUR
