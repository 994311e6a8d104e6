"""``Agent`` construction rules, ``>>`` pipelines, and serialisation to the wire spec."""

import dataclasses
import enum
import json
from typing import Any

import pytest
from pydantic import BaseModel

from agentspan.agents._agent import Agent, PromptTemplate, Strategy
from agentspan.agents._errors import ConfigurationError
from agentspan.agents._serialize import collect_tool_functions, serialize_agent
from agentspan.agents._tool import ToolDef, agent_tool, get_tool_def, tool
from agentspan.agents.handoff import OnTextMention, OnToolResult
from agentspan.agents.termination import MaxMessageTermination, TextMentionTermination
from agentspan.protocol.spec import SPEC_SCHEMA_VERSION, AgentConfig

MODEL = "openai/gpt-4o"


@tool(approval_required=True, timeout_seconds=60)
def refund(order_id: str, amount: float = 0.0) -> dict:  # type: ignore[type-arg]
    """Issue a refund."""
    return {"order_id": order_id, "amount": amount}


@tool
def lookup(order_id: str) -> str:
    """Look up an order."""
    return order_id


def make(name: str, **kwargs: Any) -> Agent:
    return Agent(name=name, model=kwargs.pop("model", MODEL), **kwargs)


def wire_of(agent: Agent) -> dict[str, Any]:
    """The camelCase JSON the server receives for ``agent``."""
    data: dict[str, Any] = serialize_agent(agent).wire()
    return data


# --------------------------------------------------------------------------- Strategy, PromptTemplate


def test_strategy_values() -> None:
    assert [s.value for s in Strategy] == [
        "handoff",
        "sequential",
        "parallel",
        "router",
        "round_robin",
        "random",
        "swarm",
        "manual",
        "plan_execute",
    ]
    as_text: str = Strategy.ROUND_ROBIN
    assert as_text == "round_robin"
    assert isinstance(Strategy.SWARM, str)
    assert json.dumps({"s": Strategy.PARALLEL}) == '{"s": "parallel"}'


def test_prompt_template_is_frozen() -> None:
    template = PromptTemplate("greeting", {"name": "Ada"}, version=2)
    assert (template.name, template.variables, template.version) == ("greeting", {"name": "Ada"}, 2)
    assert PromptTemplate("t").variables == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.name = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------- construction


def test_defaults_are_stored() -> None:
    agent = Agent(name="helper", model=MODEL)
    assert agent.strategy is Strategy.HANDOFF
    assert (agent.max_turns, agent.timeout_seconds, agent.max_tokens, agent.temperature) == (
        25,
        0,
        None,
        None,
    )
    assert (agent.tools, agent.agents, agent.guardrails, agent.handoffs) == ([], [], [], [])
    assert agent.allowed_languages == ["python"]
    assert agent.metadata == {} and agent.dependencies == {}
    assert agent.instructions == ""
    assert not agent.stateful and not agent.planner


def test_every_parameter_is_stored() -> None:
    def stop(context: dict[str, Any]) -> bool:
        return False

    agent = Agent(
        name="full",
        model=MODEL,
        instructions="Be brief.",
        dependencies={"db": "x"},
        max_tokens=500,
        timeout_seconds=30,
        temperature=0.1,
        stop_when=stop,
        allowed_transitions={"a": ["b"]},
        introduction="I help.",
        metadata={"team": "ops"},
        local_code_execution=True,
        allowed_languages=["python", "bash"],
        allowed_commands=["ls"],
        cli_commands=True,
        cli_allowed_commands=["git"],
        planner=True,
        include_contents="none",
        thinking_budget_tokens=1024,
        required_tools=["lookup"],
        base_url="http://llm.local",
        credentials=["GITHUB_TOKEN"],
        stateful=True,
    )
    assert agent.dependencies == {"db": "x"}
    assert agent.stop_when is stop
    assert agent.allowed_transitions == {"a": ["b"]}
    assert agent.allowed_languages == ["python", "bash"]
    assert agent.cli_allowed_commands == ["git"]
    assert (agent.include_contents, agent.thinking_budget_tokens, agent.base_url) == (
        "none",
        1024,
        "http://llm.local",
    )
    assert agent.required_tools == ["lookup"] and agent.credentials == ["GITHUB_TOKEN"]
    assert agent.stateful and agent.planner and agent.cli_commands and agent.local_code_execution


def test_list_and_dict_arguments_are_copied() -> None:
    tools: list[Any] = [lookup]
    metadata = {"k": "v"}
    agent = Agent(name="helper", model=MODEL, tools=tools, metadata=metadata)
    tools.append(refund)
    metadata["k"] = "changed"
    assert agent.tools == [lookup]
    assert agent.metadata == {"k": "v"}


@pytest.mark.parametrize("name", ["", "1abc", "has space", "dot.name", "-lead", 5, None])
def test_invalid_names_are_rejected(name: Any) -> None:
    with pytest.raises(ValueError, match="^Invalid agent name"):
        Agent(name=name, model=MODEL)


@pytest.mark.parametrize("name", ["a", "_private", "with-dash", "CamelCase9"])
def test_valid_names(name: str) -> None:
    assert Agent(name=name, model=MODEL).name == name


def test_strategy_is_converted_and_checked() -> None:
    assert make("p", strategy="parallel").strategy is Strategy.PARALLEL
    with pytest.raises(ValueError, match="^Invalid strategy 'fastest'. Must be one of: handoff"):
        make("p", strategy="fastest")


def test_router_strategy_needs_a_router() -> None:
    with pytest.raises(ConfigurationError, match="^strategy='router' requires a router argument"):
        make("team", strategy="router", agents=[make("a")])
    team = make("team", strategy="router", agents=[make("a")], router=lambda prompt: "a")
    assert callable(team.router)
    with pytest.raises(ConfigurationError, match="router must be"):
        make("team", strategy="router", router="a")


@pytest.mark.parametrize("turns", [0, -1, 1.5, True])
def test_max_turns_must_be_a_positive_integer(turns: Any) -> None:
    with pytest.raises(ValueError, match="^max_turns must be >= 1"):
        make("a", max_turns=turns)


def test_numeric_limits() -> None:
    with pytest.raises(ConfigurationError, match="timeout_seconds"):
        make("a", timeout_seconds=-1)
    with pytest.raises(ConfigurationError, match="max_tokens"):
        make("a", max_tokens=0)
    with pytest.raises(ConfigurationError, match="thinking_budget_tokens"):
        make("a", thinking_budget_tokens=0)


def test_duplicate_sub_agent_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="^Duplicate sub-agent names in"):
        make("team", agents=[make("a"), make("a", model="anthropic/claude")])


def test_sub_agents_must_be_agents() -> None:
    with pytest.raises(TypeError, match="^Expected an Agent or @agent-decorated function, got str"):
        make("team", agents=["a"])


def test_tools_must_be_tools_with_unique_names() -> None:
    def plain(x: int) -> int:
        return x

    with pytest.raises(ConfigurationError, match="not a tool"):
        make("a", tools=[plain])
    with pytest.raises(ConfigurationError, match="two tools named 'lookup'"):
        make("a", tools=[lookup, ToolDef(name="lookup")])


def test_include_contents_values() -> None:
    assert make("a", include_contents="default").include_contents == "default"
    with pytest.raises(ConfigurationError, match="include_contents"):
        make("a", include_contents="all")


def test_claude_code_agents_only_take_builtin_tool_names() -> None:
    agent = make("coder", model="claude-code/sonnet", tools=["Read", "Edit", "Bash"])
    assert agent.is_claude_code
    with pytest.raises(ValueError, match="Claude Code"):
        make("coder", model="claude-code", tools=[lookup])


def test_claude_code_config_object_is_converted() -> None:
    @dataclasses.dataclass
    class FakeClaudeCode:
        model_name: str = "opus"

        def to_model_string(self) -> str:
            return f"claude-code/{self.model_name}"

        config_marker: str = "kept"

    config = FakeClaudeCode()
    agent = Agent(name="coder", model=config)
    assert agent.model == "claude-code/opus"
    assert agent.is_claude_code
    assert agent._claude_code_config is config


def test_deprecated_callbacks_warn() -> None:
    with pytest.warns(DeprecationWarning, match="before_model_callback"):
        agent = make("a", before_model_callback=lambda **kw: None)
    assert agent.before_model_callback is not None


def test_external_and_repr() -> None:
    external = Agent(name="remote")
    assert external.external
    assert repr(external) == "Agent(name='remote', external=True)"
    local = make("helper", tools=[lookup])
    assert not local.external
    assert repr(local) == "Agent(name='helper', model='openai/gpt-4o', tools=1)"
    team = make("team", agents=[local], strategy="parallel")
    assert repr(team) == "Agent(name='team', model='openai/gpt-4o', agents=1, strategy='parallel')"
    # A model-less team is an ordinary agent, not a reference to a deployed one.
    assert not Agent(name="pipeline", agents=[local], strategy="sequential").external


# --------------------------------------------------------------------------- >>


def test_rshift_builds_a_flat_sequential_chain() -> None:
    a, b, c = make("a"), make("b", model="anthropic/claude"), make("c")
    chain = a >> b >> c
    assert chain.name == "a_b_c"
    assert chain.strategy is Strategy.SEQUENTIAL
    assert chain.agents == [a, b, c]
    assert chain.model == MODEL  # the first agent's model
    assert a.agents == [] and b.agents == []  # operands are not modified


def test_rshift_flattens_chains_on_both_sides() -> None:
    a, b, c, d = (make(n) for n in "abcd")
    chain = (a >> b) >> (c >> d)
    assert [step.name for step in chain.agents] == ["a", "b", "c", "d"]
    assert chain.name == "a_b_c_d"


def test_rshift_keeps_an_explicit_sequential_agent_as_one_step() -> None:
    a, b, c = make("a"), make("b"), make("c")
    reviewed = Agent(
        name="reviewed",
        model=MODEL,
        agents=[a, b],
        strategy="sequential",
        instructions="Review carefully.",
        max_turns=3,
    )
    left = reviewed >> c
    assert left.agents == [reviewed, c]
    assert left.name == "reviewed_c"
    assert left.agents[0].instructions == "Review carefully."
    assert left.agents[0].max_turns == 3
    right = c >> reviewed
    assert right.agents == [c, reviewed]
    assert serialize_agent(left).agents[0].agents[1].name == "b"


def test_rshift_only_with_agents() -> None:
    with pytest.raises(TypeError):
        make("a") >> "b"  # type: ignore[operator]


def test_rshift_of_the_same_agent_twice_is_rejected() -> None:
    a = make("a")
    with pytest.raises(ConfigurationError, match="^Duplicate sub-agent names in"):
        a >> a  # noqa: B018 - the expression itself must raise


# --------------------------------------------------------------------------- serialisation


@dataclasses.dataclass
class RegexGuardrailStandIn:
    """Has the attributes of the guardrail module's RegexGuardrail."""

    patterns: list[str]
    name: str
    position: str = "output"
    on_fail: str = "retry"
    max_retries: int = 3
    mode: str = "block"
    message: str | None = None


def reference_example() -> Agent:
    """The illustrative example of §24.3 in the reference notes."""
    billing = Agent(name="billing", model="anthropic/claude-sonnet-4-20250514", tools=[refund])
    return Agent(
        name="triage",
        model=MODEL,
        instructions="Route the customer.",
        agents=[billing],
        guardrails=[RegexGuardrailStandIn([r"\d{16}"], name="no_card_numbers")],
        termination=TextMentionTermination("DONE") | MaxMessageTermination(20),
        max_turns=10,
        temperature=0.2,
        thinking_budget_tokens=2048,
    )


REFUND_WIRE: dict[str, Any] = {
    "name": "refund",
    "description": "Issue a refund.",
    "inputSchema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
        "required": ["order_id"],
    },
    "toolType": "worker",
    "outputSchema": {"type": "object", "additionalProperties": {}},
    "approvalRequired": True,
    "timeoutSeconds": 60,
}

REFERENCE_WIRE: dict[str, Any] = {
    "name": "triage",
    "model": MODEL,
    "strategy": "handoff",
    "maxTurns": 10,
    "timeoutSeconds": 0,
    "external": False,
    "instructions": "Route the customer.",
    "agents": [
        {
            "name": "billing",
            "model": "anthropic/claude-sonnet-4-20250514",
            "maxTurns": 25,
            "timeoutSeconds": 0,
            "external": False,
            "tools": [REFUND_WIRE],
        }
    ],
    "guardrails": [
        {
            "name": "no_card_numbers",
            "position": "output",
            "onFail": "retry",
            "maxRetries": 3,
            "guardrailType": "regex",
            "patterns": ["\\d{16}"],
            "mode": "block",
        }
    ],
    "temperature": 0.2,
    "termination": {
        "type": "or",
        "conditions": [
            {"type": "text_mention", "text": "DONE", "caseSensitive": False},
            {"type": "max_message", "maxMessages": 20},
        ],
    },
    "thinkingConfig": {"enabled": True, "budgetTokens": 2048},
}


def test_reference_example_serialises_like_the_reference() -> None:
    wire = wire_of(reference_example())
    # Our spec adds a version, always-present (possibly empty) lists, and the tool's
    # config and retry policy; everything else is exactly the reference's JSON.
    expected_tool = {**REFUND_WIRE, "config": {}, "retryable": True}
    billing = {
        **REFERENCE_WIRE["agents"][0],
        "schemaVersion": SPEC_SCHEMA_VERSION,
        "tools": [expected_tool],
        "agents": [],
    }
    expected = {**REFERENCE_WIRE, "schemaVersion": SPEC_SCHEMA_VERSION, "tools": [], "agents": [billing]}
    assert wire == expected


def test_serialised_spec_round_trips_through_the_wire_model() -> None:
    config = serialize_agent(reference_example())
    again = AgentConfig.model_validate(json.loads(json.dumps(config.wire())))
    assert again.wire() == config.wire()
    assert again.content_hash() == config.content_hash()
    assert config.worker_task_names() == ["refund"]


def test_external_agent_and_strategy_only_with_sub_agents() -> None:
    wire = wire_of(Agent(name="remote"))
    assert wire["external"] is True
    assert "model" not in wire and "strategy" not in wire
    team = wire_of(make("team", agents=[make("a")], strategy="round_robin"))
    assert team["strategy"] == "round_robin"


def test_instructions_forms() -> None:
    assert serialize_agent(make("a", instructions=lambda: "Computed.")).instructions == "Computed."
    template = PromptTemplate("support", {"tone": "warm"}, version=3)
    assert serialize_agent(make("a", instructions=template)).instructions == {
        "type": "prompt_template",
        "name": "support",
        "variables": {"tone": "warm"},
        "version": 3,
    }
    bare = serialize_agent(make("a", instructions=PromptTemplate("support"))).instructions
    assert bare == {"type": "prompt_template", "name": "support", "variables": None, "version": None}
    assert serialize_agent(make("a")).instructions is None
    with pytest.raises(ConfigurationError, match="instructions must be"):
        serialize_agent(make("a", instructions=lambda: 42))


class Answer(BaseModel):
    text: str
    confidence: float


def test_output_type() -> None:
    config = serialize_agent(make("a", output_type=Answer))
    assert config.output_type == {"schema": Answer.model_json_schema(), "className": "Answer"}

    class Opaque:
        pass

    assert serialize_agent(make("a", output_type=Opaque)).output_type == {"className": "Opaque"}


def test_core_optional_fields() -> None:
    wire = wire_of(
        make(
            "a",
            base_url="http://llm.local/v1",
            max_tokens=256,
            introduction="I am A.",
            metadata={"team": "ops"},
            timeout_seconds=90,
        )
    )
    assert wire["baseUrl"] == "http://llm.local/v1"
    assert (wire["maxTokens"], wire["introduction"], wire["metadata"]) == (256, "I am A.", {"team": "ops"})
    assert wire["timeoutSeconds"] == 90


def test_extra_reference_keys_are_passed_through() -> None:
    def decide(prompt: str) -> str:
        return "a"

    class Gate:
        def __call__(self, output: dict[str, Any]) -> bool:
            return True

    team = Agent(
        name="team",
        model=MODEL,
        agents=[make("a"), make("b")],
        strategy="router",
        router=decide,
        stop_when=lambda ctx: False,
        allowed_transitions={"a": ["b"], "b": ["a"]},
        required_tools=["lookup"],
        include_contents="none",
        planner=True,
        gate=Gate(),
        credentials=["GITHUB_TOKEN"],
        local_code_execution=True,
        allowed_commands=["ls"],
        cli_commands=True,
    )
    wire = wire_of(team)
    assert wire["router"] == {"taskName": "team_router_fn"}
    assert wire["stopWhen"] == {"taskName": "team_stop_when"}
    assert wire["allowedTransitions"] == {"a": ["b"], "b": ["a"]}
    assert wire["requiredTools"] == ["lookup"]
    assert wire["includeContents"] == "none"
    assert wire["planner"] is True
    assert wire["gate"] == {"taskName": "team_gate"}
    assert wire["credentials"] == ["GITHUB_TOKEN"]
    assert wire["codeExecution"] == {
        "enabled": True,
        "allowedLanguages": ["python"],
        "allowedCommands": ["ls"],
        "timeout": 30,
    }
    # Without a CLI whitelist of its own, the code-execution whitelist applies.
    assert wire["cliConfig"] == {
        "enabled": True,
        "allowedCommands": ["ls"],
        "timeout": 30,
        "allowShell": False,
    }


def test_unset_extras_are_absent() -> None:
    wire = wire_of(make("a"))
    for key in ("router", "stopWhen", "guardrails", "termination", "planner", "gate", "callbacks", "memory"):
        assert key not in wire


def test_router_agent_is_serialised_inline() -> None:
    router = make("picker", instructions="Pick one.")
    wire = wire_of(make("team", agents=[make("a")], strategy="router", router=router))
    assert wire["router"]["name"] == "picker"
    assert wire["router"]["instructions"] == "Pick one."


def test_deprecated_callbacks_and_handlers_declare_positions() -> None:
    from agentspan.agents import CallbackHandler

    class Audit(CallbackHandler):
        def on_tool_end(self, **kwargs: Any) -> dict[str, Any] | None:
            return {"audited": True}

    with pytest.warns(DeprecationWarning):
        agent = make("a", callbacks=[Audit()], before_agent_callback=lambda **kw: None)
    assert wire_of(agent)["callbacks"] == [
        {"position": "before_agent", "taskName": "a_before_agent"},
        {"position": "after_tool", "taskName": "a_after_tool"},
    ]


def test_memory_and_handoffs() -> None:
    @dataclasses.dataclass
    class Memory:
        messages: list[dict[str, str]]
        max_messages: int | None = None

    agent = make(
        "a",
        memory=Memory([{"role": "user", "message": "hi"}], max_messages=10),
        handoffs=[OnTextMention("b", "billing"), OnToolResult("b", "lookup", "refund")],
        agents=[make("b")],
        strategy="swarm",
    )
    wire = wire_of(agent)
    assert wire["memory"] == {"messages": [{"role": "user", "message": "hi"}], "maxMessages": 10}
    assert wire["handoffs"] == [
        {"target": "b", "type": "on_text_mention", "text": "billing"},
        {"target": "b", "type": "on_tool_result", "toolName": "lookup", "resultContains": "refund"},
    ]


def test_to_config_hook_is_used_verbatim() -> None:
    class Position(enum.Enum):
        OUTPUT = "output"

    class CustomGuardrail:
        def to_config(self) -> dict[str, Any]:
            return {"name": "custom", "guardrailType": "custom", "taskName": "custom"}

    class EnumGuardrail:
        name = "enums"
        position = Position.OUTPUT
        on_fail = "raise"
        max_retries = 1

    wire = wire_of(make("a", guardrails=[CustomGuardrail(), EnumGuardrail()]))
    assert wire["guardrails"] == [
        {"name": "custom", "guardrailType": "custom", "taskName": "custom"},
        {
            "name": "enums",
            "position": "output",
            "onFail": "raise",
            "maxRetries": 1,
            "guardrailType": "custom",
            "taskName": "enums",
        },
    ]


def test_unknown_gate_type_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="gate must be"):
        serialize_agent(make("a", gate=42))


def test_claude_code_agent_becomes_a_passthrough_stub() -> None:
    agent = make("coder", model="claude-code/sonnet", tools=["Read"], credentials=["ANTHROPIC_API_KEY"])
    wire = wire_of(agent)
    assert wire["model"] == "claude-code/sonnet"
    assert wire["metadata"] == {"_framework_passthrough": True}
    assert wire["credentials"] == ["ANTHROPIC_API_KEY"]
    assert [(t["name"], t["toolType"]) for t in wire["tools"]] == [("coder", "worker")]


def test_tool_options_reach_the_wire() -> None:
    @tool(retry_count=5, retry_delay_seconds=0.5, retryable=False, credentials=["STRIPE_KEY"])
    def charge(amount: int) -> None:
        """Charge a card."""

    empty_schema = ToolDef(name="wait", tool_type="pull_workflow_messages", config={"batchSize": 1})
    wire = wire_of(make("a", tools=[charge, empty_schema], stateful=True))
    charge_wire, wait_wire = wire["tools"]
    assert charge_wire["retryCount"] == 5
    assert charge_wire["retryDelaySeconds"] == 0.5
    assert charge_wire["retryable"] is False
    assert charge_wire["config"] == {"credentials": ["STRIPE_KEY"]}
    assert charge_wire["outputSchema"] == {"type": "null"}
    assert charge_wire["stateful"] is True  # the owning agent is stateful
    assert wait_wire["inputSchema"] == {"type": "object", "properties": {}}
    assert wait_wire["config"] == {"batchSize": 1}
    assert "outputSchema" not in wait_wire


def test_agent_tool_serialises_its_agent_as_agent_config() -> None:
    helper = make("helper", tools=[lookup], instructions="Help.")
    boss = make("boss", tools=[agent_tool(helper, retry_count=1, retry_delay_seconds=3, optional=False)])
    wire = wire_of(boss)
    (tool_wire,) = wire["tools"]
    assert tool_wire["toolType"] == "agent_tool"
    assert tool_wire["inputSchema"]["required"] == ["request"]
    assert tool_wire["retryCount"] == 1 and tool_wire["retryDelaySeconds"] == 3
    assert "agent" not in tool_wire["config"]
    assert tool_wire["config"]["optional"] is False
    assert tool_wire["config"]["agentConfig"] == wire_of(helper)
    # The original ToolDef still holds the Agent object: serialising does not mutate it.
    assert get_tool_def(boss.tools[0]).config["agent"] is helper
    assert serialize_agent(boss).worker_task_names() == ["lookup"]


def test_an_agent_containing_itself_is_rejected() -> None:
    loop = make("loop")
    loop.tools.append(agent_tool(loop))
    with pytest.raises(ConfigurationError, match="contains itself"):
        serialize_agent(loop)


# --------------------------------------------------------------------------- collect_tool_functions


def test_collect_walks_sub_agents_and_agent_tools() -> None:
    @tool(external=True)
    def remote(x: int) -> int:
        return x

    helper = make("helper", tools=[lookup, remote])
    billing = make("billing", tools=[refund])
    root = make("root", agents=[billing], tools=[agent_tool(helper), lookup])
    found = collect_tool_functions(root)
    assert set(found) == {"lookup", "refund"}  # the external tool has no local function
    assert found["lookup"] is get_tool_def(lookup)
    assert found["refund"].func is not None
    assert found["refund"].func("o-1", 2.0) == {"order_id": "o-1", "amount": 2.0}


def test_collect_includes_router_agents() -> None:
    router = make("picker", tools=[lookup])
    team = make("team", agents=[make("a")], strategy="router", router=router)
    assert list(collect_tool_functions(team)) == ["lookup"]


def test_collect_rejects_two_functions_with_one_name() -> None:
    @tool(name="lookup")
    def other_lookup(order_id: str) -> str:
        return "other"

    root = make("root", agents=[make("a", tools=[lookup]), make("b", tools=[other_lookup])])
    with pytest.raises(ConfigurationError, match="two different functions are registered as tool 'lookup'"):
        collect_tool_functions(root)
