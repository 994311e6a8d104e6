"""``CorrectnessEval``: run a suite of cases against an agent and get a pass/fail report.

    python examples/13-testing/04_correctness_eval.py

Each ``EvalCase`` names an agent, a prompt and what should happen (tools used, arguments,
words in the answer, the status); ``CorrectnessEval(runtime).run(cases)`` runs them all and
records every check. With a real model this measures how the agent really behaves; offline
the scripted turns make one case pass and one fail on purpose, to show the report.
"""

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import CorrectnessEval, EvalCase, ToolCall, scripted_or_live


@tool
def convert_units(value: float, unit: str) -> str:
    """Convert a length to metres."""
    factor = {"ft": 0.3048, "in": 0.0254, "mi": 1609.34}[unit]
    return f"{value * factor:.2f} m"


def converter(turns: list[str | ToolCall]) -> Agent:
    return Agent(
        name="eval_converter",
        model=scripted_or_live(turns),
        instructions="Convert with convert_units.",
        tools=[convert_units],
    )


cases = [
    EvalCase(
        name="feet",
        agent=converter([ToolCall("convert_units", {"value": 10, "unit": "ft"}), "10 ft is 3.05 m."]),
        prompt="How many metres is 10 ft?",
        expect_tools=["convert_units"],
        expect_tool_args={"convert_units": {"unit": "ft"}},
        expect_output_contains="3.05",
    ),
    EvalCase(
        name="miles_without_the_tool",
        agent=converter(["A mile is about 1.6 km."]),
        prompt="How many metres is a mile?",
        expect_tools=["convert_units"],
        expect_output_contains="1609",
    ),
]

with AgentRuntime() as runtime:
    suite = CorrectnessEval(runtime).run(cases)
suite.print_summary()
print(f"passed {suite.pass_count} of {suite.total}; failed: {[c.name for c in suite.failed_cases()]}")

# expect: passed 1 of 2; failed: ['miles_without_the_tool']
