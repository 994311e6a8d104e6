"""``@tool``, ``ToolDef``, ``ToolContext``, ``agent_tool``, result encoding and errors."""

import asyncio
import dataclasses
import datetime
import enum
import inspect
import pickle
import uuid
from typing import Any

import pytest
from pydantic import BaseModel

from agentspan.agents._agent import Agent
from agentspan.agents._errors import (
    AgentAPIError,
    AgentNotFoundError,
    AgentspanError,
    ConfigurationError,
    TerminalToolError,
    ToolSerializationError,
)
from agentspan.agents._schema import context_parameter
from agentspan.agents._tool import (
    ToolContext,
    ToolDef,
    agent_tool,
    encode_tool_result,
    get_tool_def,
    get_tool_defs,
    tool,
)

# --------------------------------------------------------------------------- @tool


@tool
def add(a: int, b: int = 1) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


@tool(
    name="refund_order",
    approval_required=True,
    timeout_seconds=60,
    retry_count=0,
    retry_delay_seconds=2.5,
    retryable=False,
    credentials=["STRIPE_KEY"],
    stateful=True,
    isolated=False,
)
def refund(order_id: str, context: ToolContext | None = None) -> dict[str, Any]:
    """Refund an order."""
    return {"refunded": order_id, "execution": context.execution_id if context else None}


@tool
async def slow_double(x: int) -> int:
    """Double a number, asynchronously."""
    await asyncio.sleep(0)
    return 2 * x


def test_bare_decorator_builds_a_worker_tool_def() -> None:
    definition = get_tool_def(add)
    assert definition.name == "add"
    assert definition.description == "Add two numbers."
    assert definition.tool_type == "worker"
    assert definition.input_schema == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "The first number."},
            "b": {"type": "integer", "description": "The second number."},
        },
        "required": ["a"],
    }
    assert definition.output_schema == {"type": "integer"}
    assert definition.func is inspect.unwrap(add)
    assert (definition.approval_required, definition.timeout_seconds, definition.external) == (
        False,
        None,
        False,
    )
    assert (definition.retry_count, definition.retry_delay_seconds, definition.retryable) == (
        None,
        None,
        True,
    )
    # Opt-in (the reference defaults to True but never isolates): True runs a real subprocess.
    assert (definition.isolated, definition.stateful, definition.credentials) == (False, False, [])


def test_decorated_function_stays_directly_callable() -> None:
    assert add(2, 3) == 5
    assert add(a=2) == 3
    assert add.__name__ == "add"
    assert add.__doc__ is not None and add.__doc__.startswith("Add two numbers.")
    assert refund("o-1") == {"refunded": "o-1", "execution": None}
    assert refund("o-1", context=ToolContext(execution_id="e-9"))["execution"] == "e-9"


def test_async_tool_stays_a_coroutine_function() -> None:
    assert inspect.iscoroutinefunction(slow_double)
    assert asyncio.run(slow_double(4)) == 8
    assert inspect.iscoroutinefunction(get_tool_def(slow_double).func)


def test_parameterised_decorator_options() -> None:
    definition = get_tool_def(refund)
    assert definition.name == "refund_order"
    assert definition.approval_required is True
    assert definition.timeout_seconds == 60
    assert definition.retry_count == 0
    assert definition.retry_delay_seconds == 2.5
    assert definition.retryable is False
    assert definition.credentials == ["STRIPE_KEY"]
    assert definition.stateful is True
    assert definition.isolated is False
    # The context parameter is injected by the runtime, never shown to the model.
    assert list(definition.input_schema["properties"]) == ["order_id"]


def test_description_option_overrides_the_docstring() -> None:
    @tool(description="Look up the weather.")
    def weather(city: str) -> str:
        """Internal docstring."""
        return city

    assert get_tool_def(weather).description == "Look up the weather."


def test_function_without_docstring_has_empty_description() -> None:
    @tool
    def bare(x: int) -> int:
        return x

    assert get_tool_def(bare).description == ""


def test_decorator_factory_can_be_reused() -> None:
    shared = tool(approval_required=True)

    def one(x: int) -> int:
        return x

    def two(y: str) -> str:
        return y

    first, second = shared(one), shared(two)
    assert (get_tool_def(first).name, get_tool_def(second).name) == ("one", "two")
    assert get_tool_def(first).approval_required and get_tool_def(second).approval_required


def test_guardrail_and_credential_lists_are_copied() -> None:
    credentials = ["A"]

    @tool(credentials=credentials)
    def f(x: int) -> int:
        return x

    credentials.append("B")
    assert get_tool_def(f).credentials == ["A"]


def test_external_tool_has_a_schema_but_no_function() -> None:
    @tool(external=True)
    def lookup_customer(customer_id: str) -> dict[str, Any]:
        """Look up a customer in the CRM."""
        raise NotImplementedError

    definition = get_tool_def(lookup_customer)
    assert definition.func is None
    assert definition.external is True
    assert definition.input_schema["required"] == ["customer_id"]
    assert definition.description == "Look up a customer in the CRM."


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "has space"}, "invalid tool name"),
        ({"name": ""}, "invalid tool name"),
        ({"timeout_seconds": 0}, "timeout_seconds must be positive"),
        ({"retry_count": -1}, "retry_count must be >= 0"),
        ({"retry_delay_seconds": -0.5}, "retry_delay_seconds must be >= 0"),
    ],
)
def test_invalid_tool_options_are_rejected(options: dict[str, Any], message: str) -> None:
    def f(x: int) -> int:
        return x

    with pytest.raises(ConfigurationError, match=message):
        tool(**options)(f)


def test_lambda_needs_an_explicit_name() -> None:
    with pytest.raises(ValueError, match="invalid tool name '<lambda>'"):
        tool(lambda x: x)
    named = tool(name="identity")(lambda x: x)
    assert get_tool_def(named).name == "identity"
    func = get_tool_def(named).func
    assert func is not None and func(3) == 3


# --------------------------------------------------------------------------- ToolContext


def test_tool_context_defaults_are_independent() -> None:
    first, second = ToolContext(), ToolContext()
    first.state["k"] = 1
    assert second.state == {}
    assert dataclasses.asdict(second) == {
        "session_id": "",
        "execution_id": "",
        "agent_name": "",
        "metadata": {},
        "dependencies": {},
        "state": {},
        "idempotency_key": "",
        "task_id": "",
        "attempt": 0,
    }


def test_context_injection_is_detected_by_name_or_annotation() -> None:
    def by_name(q: str, context: Any) -> None: ...

    def by_type(q: str, ctx: ToolContext) -> None: ...

    def neither(q: str) -> None: ...

    assert context_parameter(by_name) == "context"
    assert context_parameter(by_type) == "ctx"
    assert context_parameter(neither) is None
    assert context_parameter(refund) == "context"


# --------------------------------------------------------------------------- get_tool_def


def test_get_tool_def_accepts_tool_defs_and_decorated_functions() -> None:
    definition = ToolDef(name="manual", description="d")
    assert get_tool_def(definition) is definition
    assert get_tool_def(add) is get_tool_def(inspect.unwrap(add))
    assert get_tool_defs([add, definition]) == [get_tool_def(add), definition]


def test_get_tool_def_rejects_other_objects() -> None:
    def plain(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="not a tool"):
        get_tool_def(plain)
    with pytest.raises(TypeError, match="agent_tool"):
        get_tool_def(Agent(name="helper", model="openai/gpt-4o"))


def test_tool_def_validates_its_name() -> None:
    with pytest.raises(ConfigurationError):
        ToolDef(name="bad name")


# --------------------------------------------------------------------------- agent_tool


def test_agent_tool_defaults() -> None:
    researcher = Agent(name="researcher", model="openai/gpt-4o")
    definition = agent_tool(researcher)
    assert definition.name == "researcher"
    assert definition.description == "Invoke the researcher agent"
    assert definition.tool_type == "agent_tool"
    assert definition.func is None
    assert definition.input_schema == {
        "type": "object",
        "properties": {"request": {"type": "string"}},
        "required": ["request"],
    }
    assert definition.config == {"agent": researcher}
    assert (definition.retry_count, definition.retry_delay_seconds) == (None, None)


def test_agent_tool_options() -> None:
    researcher = Agent(name="researcher", model="openai/gpt-4o")
    definition = agent_tool(
        researcher,
        name="research",
        description="Research a topic.",
        retry_count=3,
        retry_delay_seconds=1.5,
        optional=False,
    )
    assert definition.name == "research"
    assert definition.description == "Research a topic."
    assert definition.config == {"agent": researcher, "optional": False}
    assert (definition.retry_count, definition.retry_delay_seconds) == (3, 1.5)


def test_agent_tool_needs_an_agent() -> None:
    with pytest.raises(TypeError, match="needs an Agent"):
        agent_tool("researcher")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- encode_tool_result


class Shade(enum.Enum):
    DARK = "dark"


class Forecast(BaseModel):
    city: str
    when: datetime.date
    shade: Shade


@dataclasses.dataclass
class Reading:
    value: float
    taken: datetime.datetime


def test_json_values_pass_through_unchanged() -> None:
    for value in ("text", 3, 2.5, True, None):
        assert encode_tool_result(value) is value
    assert encode_tool_result({"a": [1, "b", None]}) == {"a": [1, "b", None]}
    assert encode_tool_result([1, {"x": 2}]) == [1, {"x": 2}]


def test_models_dataclasses_and_friends_are_encoded() -> None:
    forecast = Forecast(city="Paris", when=datetime.date(2025, 1, 2), shade=Shade.DARK)
    assert encode_tool_result(forecast) == {"city": "Paris", "when": "2025-01-02", "shade": "dark"}
    reading = Reading(1.5, datetime.datetime(2025, 1, 2, 3, 4, 5))
    assert encode_tool_result(reading) == {"value": 1.5, "taken": "2025-01-02T03:04:05"}
    assert encode_tool_result({"items": [forecast]})["items"][0]["city"] == "Paris"
    assert encode_tool_result((1, 2)) == [1, 2]
    assert encode_tool_result(Shade.DARK) == "dark"
    uid = uuid.UUID(int=1)
    assert encode_tool_result(uid) == str(uid)


def test_unencodable_results_raise_naming_the_type() -> None:
    class Socket:
        pass

    with pytest.raises(ToolSerializationError, match="Socket"):
        encode_tool_result(Socket())
    with pytest.raises(ToolSerializationError, match="Socket") as info:
        encode_tool_result({"nested": [Socket()]})
    assert isinstance(info.value, TypeError)
    assert "dict" in str(info.value)


# --------------------------------------------------------------------------- errors


def test_api_error_message_and_attributes() -> None:
    error = AgentAPIError(500, "boom", "http://localhost:6767/api/agent/start", code="internal_error")
    assert str(error) == "HTTP 500: boom (http://localhost:6767/api/agent/start)"
    assert (error.status_code, error.message, error.code) == (500, "boom", "internal_error")
    assert str(AgentAPIError(0, "connection refused")) == "HTTP 0: connection refused"
    assert AgentAPIError(400, "bad").code is None


def test_api_errors_survive_pickling() -> None:
    error = AgentNotFoundError(404, "no such execution", "http://x/api", code="execution_not_found")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is AgentNotFoundError
    assert (copy.status_code, copy.message, copy.url, copy.code) == (
        404,
        "no such execution",
        "http://x/api",
        "execution_not_found",
    )
    assert str(copy) == str(error)


def test_error_hierarchy() -> None:
    assert issubclass(AgentNotFoundError, AgentAPIError)
    assert issubclass(AgentAPIError, AgentspanError)
    assert issubclass(ConfigurationError, AgentspanError) and issubclass(ConfigurationError, ValueError)
    assert issubclass(ToolSerializationError, AgentspanError) and issubclass(
        ToolSerializationError, TypeError
    )
    assert issubclass(TerminalToolError, AgentspanError)
    assert not issubclass(TerminalToolError, ValueError)


def test_the_facade_and_the_worker_share_one_definition_of_each_name() -> None:
    """``client`` imports these from ``agentspan._core``; a copy would break ``isinstance``
    and ``except`` between what the worker raises and what users catch."""
    import agentspan._core.errors as core_errors
    import agentspan._core.tool as core_tool
    import agentspan.agents as facade

    assert facade.ToolDef is core_tool.ToolDef and facade.ToolContext is core_tool.ToolContext
    assert get_tool_def is core_tool.get_tool_def and encode_tool_result is core_tool.encode_tool_result
    assert facade.AgentAPIError is core_errors.AgentAPIError is AgentAPIError
    assert facade.TerminalToolError is core_errors.TerminalToolError
