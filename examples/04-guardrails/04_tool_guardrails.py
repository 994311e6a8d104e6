"""Tool guardrails: check a tool call's arguments before it runs, and its result after.

    python examples/04-guardrails/04_tool_guardrails.py

``@tool(guardrails=[...])`` with ``position="input"`` sees the call's arguments (as JSON
text) before the function runs; a failure blocks the call, and the model gets an error
instead. With ``position="output"`` it sees the result before the model does.
"""

from agentspan.agents import Agent, AgentRuntime, Guardrail, GuardrailResult, RegexGuardrail, guardrail, tool
from agentspan.agents.testing import ToolCall, scripted_or_live

ran: list[str] = []


@guardrail
def read_only_sql(content: str) -> GuardrailResult:
    """Only SELECT statements may run."""
    if any(word in content.upper() for word in ("DROP ", "DELETE ", "UPDATE ")):
        return GuardrailResult(passed=False, message="only read-only queries are allowed")
    return GuardrailResult(passed=True)


@tool(
    guardrails=[
        Guardrail(read_only_sql, position="input"),
        RegexGuardrail([r"\bssn\b"], mode="block", position="output", name="no_ssn_in_results"),
    ]
)
def run_sql(query: str) -> list[dict[str, object]]:
    """Run a SQL query on the reporting database (a stand-in)."""
    ran.append(query)
    return [{"region": "north", "orders": 120}]


agent = Agent(
    name="sql_analyst",
    model=scripted_or_live(
        [
            ToolCall("run_sql", {"query": "DROP TABLE orders"}),
            ToolCall("run_sql", {"query": "SELECT region, count(*) AS orders FROM orders GROUP BY region"}),
            "The north region has 120 orders.",
        ]
    ),
    instructions="Answer with SQL queries; only read-only ones are allowed.",
    tools=[run_sql],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "How many orders per region? Clean up old tables first.")
    for call in result.tool_calls:
        print(f"{call['args']['query'][:20]!r}: {call['result']}")
    print(f"queries that really ran: {ran}")
    print(result.output)

# expect: 'DROP TABLE orders': {'error': "Blocked by guardrail 'read_only_sql': only read-only queries are allowed", 'blocked': True}
# expect: 'SELECT region, count': [{'region': 'north', 'orders': 120}]
# expect: queries that really ran: ['SELECT region, count(*) AS orders FROM orders GROUP BY region']
