"""Callbacks: a ``CallbackHandler`` sees every step of a run, with the real arguments.

    python examples/05-callbacks/01_callback_handler.py

Each hook you override runs in your process as a durable worker task: the server waits for
it, records its answer (a ``callback`` event) and never asks again after a crash. A hook may
return a dict to change what happens; here ``on_tool_end`` rounds the tool's result before
the model sees it.
"""

from typing import Any

from agentspan.agents import Agent, AgentRuntime, CallbackHandler, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def convert_temperature(fahrenheit: float) -> float:
    """Convert Fahrenheit to Celsius."""
    return (fahrenheit - 32) * 5 / 9


class Tracer(CallbackHandler):
    """Every hook gets keyword arguments describing its step (see docs/sdk.md#callbacks)."""

    def on_agent_start(self, **kw: Any) -> None:
        print(f"agent_start  {kw['agent_name']}: {kw['prompt']!r}")

    def on_model_start(self, **kw: Any) -> None:
        print(f"model_start  {len(kw['messages'])} messages, last from {kw['messages'][-1]['role']}")

    def on_model_end(self, **kw: Any) -> None:
        print(f"model_end    text={kw['llm_result']!r} tool_calls={[c['name'] for c in kw['tool_calls']]}")

    def on_tool_start(self, **kw: Any) -> None:
        print(f"tool_start   {kw['tool_name']}{kw['arguments']}")

    def on_tool_end(self, **kw: Any) -> dict[str, Any]:
        print(f"tool_end     {kw['tool_name']} -> {kw['result']}")
        return {"result": round(kw["result"], 1)}  # the model sees the rounded value

    def on_agent_end(self, **kw: Any) -> None:
        print(f"agent_end    {kw['output']!r}")


agent = Agent(
    name="traced_converter",
    model=scripted_or_live([ToolCall("convert_temperature", {"fahrenheit": 100}), "100F is 37.8C."]),
    instructions="Convert with the tool and answer briefly.",
    tools=[convert_temperature],
    callbacks=[Tracer()],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "What is 100F in Celsius?")
    shown = [m["content"] for m in result.messages if m.get("role") == "tool"]
    print(f"the model was shown: {shown}")
    print(f"callback events recorded: {sum(e.type == 'callback' for e in result.events)}")

# expect: agent_start  traced_converter: 'What is 100F in Celsius?'
# expect: model_end    text='' tool_calls=['convert_temperature']
# expect: tool_start   convert_temperature{'fahrenheit': 100}
# expect: tool_end     convert_temperature -> 37.77777777777778
# expect: the model was shown: ['37.8']
# expect: agent_end    '100F is 37.8C.'
# expect: callback events recorded: 8
