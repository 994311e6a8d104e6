"""``agentspan.agents.testing``: mock runs, record/replay, the eval runner, the pytest plugin and
packaging, and the testing example. The assertions, ``expect`` and strategy validation are in
``test_testing_assertions.py``.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import io
import json
import os
import runpy
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from agentspan.agents import (
    Agent,
    AgentEvent,
    AgentResult,
    EventType,
    FinishReason,
    Status,
    TokenUsage,
    ToolContext,
    tool,
)
from agentspan.agents.testing import (
    CorrectnessEval,
    EvalCase,
    EvalCaseResult,
    EvalCheckResult,
    EvalSuiteResult,
    MockEvent,
    expect,
    mock_run,
    record,
    replay,
)

from support.agent_results import ROUTED, Point, make, result_of, team

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_MODULE = "agentspan.agents.testing.pytest_plugin"


# --------------------------------------------------------------------------- tools


@tool(name="custom")
def renamed_tool(text: str) -> str:
    """Upper-case text; declared as 'custom', so the Python name must not match."""
    return text.upper()


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"boom: {reason}")


@tool
async def async_double(x: int) -> int:
    """Double a number, asynchronously."""
    return x * 2


@tool
def norm(point: Point, scale: int = 1) -> int:
    """Manhattan norm of a point (its argument arrives as a dict and becomes a Point)."""
    return (abs(point.x) + abs(point.y)) * scale


@tool
def counter(step: int, context: ToolContext) -> int:
    """Add ``step`` to a counter kept in the shared tool state."""
    context.state["total"] = context.state.get("total", 0) + step
    return int(context.state["total"])


# --------------------------------------------------------------------------- MockEvent


def test_mock_event_factories_build_agent_events() -> None:
    call = MockEvent.tool_call("search")
    assert (call.type, call.tool_name, call.args) == ("tool_call", "search", {})
    assert MockEvent.tool_call("search", {"q": "x"}).args == {"q": "x"}
    assert MockEvent.tool_result("search", [1]).result == [1]
    assert MockEvent.tool_result("search").result is None
    assert MockEvent.thinking("hmm").type == EventType.THINKING.value
    assert MockEvent.handoff("billing").target == "billing"
    assert MockEvent.message("hi").content == "hi"
    passed = MockEvent.guardrail_pass("pii", "clean")
    assert (passed.type, passed.guardrail_name, passed.content) == ("guardrail_pass", "pii", "clean")
    assert MockEvent.guardrail_fail("pii").type == "guardrail_fail"
    assert MockEvent.waiting().content == ""
    assert MockEvent.done({"a": 1}).output == {"a": 1}
    assert MockEvent.error("bad").content == "bad"


# --------------------------------------------------------------------------- mock_run


def test_mock_run_builds_a_result_from_the_script() -> None:
    agent = make("plain")
    script = [MockEvent.thinking("t"), MockEvent.done({"answer": 42})]
    result = mock_run(agent, "question?", script)
    assert result.execution_id == "mock"
    assert result.status == "COMPLETED"
    assert result.output == {"answer": 42}  # raw, not normalised
    assert result.finish_reason == FinishReason.STOP
    assert result.messages == [
        {"role": "user", "content": "question?"},
        {"role": "assistant", "content": "{'answer': 42}"},
    ]
    assert [e.id for e in result.events] == [1, 2]
    assert script[0].id == 0  # the caller's events are copied, not changed


def test_mock_run_matches_tools_by_declared_name() -> None:
    agent = make("a", tools=[renamed_tool])
    result = mock_run(agent, "p", [MockEvent.tool_call("custom", {"text": "hi"}), MockEvent.done("HI")])
    assert [e.type for e in result.events] == ["tool_call", "tool_result", "done"]
    synthetic = result.events[1]
    assert (synthetic.tool_name, synthetic.result) == ("custom", "HI")
    assert synthetic.call_id == result.events[0].call_id
    assert result.tool_calls == [
        {"name": "custom", "args": {"text": "hi"}, "result": "HI", "call_id": synthetic.call_id}
    ]
    # The Python function name is not the tool's name: nothing runs for it.
    by_python_name = mock_run(agent, "p", [MockEvent.tool_call("renamed_tool", {"text": "hi"})])
    assert [e.type for e in by_python_name.events] == ["tool_call"]
    assert by_python_name.tool_calls[0]["result"] is None


def test_mock_run_turns_tool_exceptions_into_error_results() -> None:
    agent = make("a", tools=[explode, norm])
    result = mock_run(
        agent,
        "p",
        [MockEvent.tool_call("explode", {"reason": "x"}), MockEvent.tool_call("norm", {"point": "nope"})],
    )
    assert result.tool_calls[0]["result"] == "Error: boom: x"
    bad_args = result.tool_calls[1]["result"]
    assert bad_args.startswith("Error: invalid arguments") and "'point'" in bad_args


def test_mock_run_runs_async_tools() -> None:
    agent = make("a", tools=[async_double])
    result = mock_run(agent, "p", [MockEvent.tool_call("async_double", {"x": 21})])
    assert result.tool_calls[0]["result"] == 42


@pytest.mark.anyio
async def test_mock_run_runs_async_tools_inside_a_running_loop() -> None:
    agent = make("a", tools=[async_double])
    result = mock_run(agent, "p", [MockEvent.tool_call("async_double", {"x": 5})])
    assert result.tool_calls[0]["result"] == 10


def test_mock_run_coerces_arguments_and_injects_a_shared_context() -> None:
    agent = make("a", tools=[norm, counter])
    result = mock_run(
        agent,
        "p",
        [
            MockEvent.tool_call("norm", {"point": {"x": 3, "y": -4}, "scale": "2"}),
            MockEvent.tool_call("counter", {"step": 2}),
            MockEvent.tool_call("counter", {"step": 5}),
        ],
    )
    assert [c["result"] for c in result.tool_calls] == [14, 2, 7]


def test_mock_run_finds_tools_of_sub_agents() -> None:
    agent = make("parent", agents=[make("child", tools=[renamed_tool])])
    result = mock_run(agent, "p", [MockEvent.handoff("child"), MockEvent.tool_call("custom", {"text": "a"})])
    assert result.tool_calls[0]["result"] == "A"


def test_mock_run_keeps_scripted_results_and_skips_execution_when_asked() -> None:
    calls: list[str] = []

    @tool(name="probe")
    def probe(q: str) -> str:
        calls.append(q)
        return "real"

    agent = make("a", tools=[probe])
    scripted = mock_run(
        agent, "p", [MockEvent.tool_call("probe", {"q": "1"}), MockEvent.tool_result("probe", "scripted")]
    )
    assert calls == []  # the script answered the call itself
    assert scripted.tool_calls[0]["result"] == "scripted"
    assert [e.type for e in scripted.events] == ["tool_call", "tool_result"]
    off = mock_run(agent, "p", [MockEvent.tool_call("probe", {"q": "2"})], auto_execute_tools=False)
    assert calls == [] and off.tool_calls[0]["result"] is None


def test_mock_run_pairs_results_with_calls() -> None:
    agent = make("a")
    result = mock_run(
        agent,
        "p",
        [
            MockEvent.tool_call("s", {"n": 1}),
            MockEvent.tool_call("s", {"n": 2}, call_id="mine"),
            MockEvent.tool_call("t"),
            MockEvent.tool_result("s", "second", call_id="mine"),
            MockEvent.tool_result("s", "first"),
        ],
    )
    assert [(c["name"], c["result"]) for c in result.tool_calls] == [
        ("s", "first"),
        ("s", "second"),
        ("t", None),
    ]
    assert result.tool_calls[1]["call_id"] == "mine"


def test_mock_run_error_fails_the_run() -> None:
    result = mock_run(make("a"), "p", [MockEvent.thinking("t"), MockEvent.error("model call failed")])
    assert result.status == Status.FAILED.value
    assert result.output == result.error == "model call failed"
    assert result.finish_reason == FinishReason.ERROR


# --------------------------------------------------------------------------- record / replay


def test_record_replay_round_trip(tmp_path: Path) -> None:
    agent = make("a", tools=[renamed_tool])
    original = mock_run(agent, "p", [MockEvent.tool_call("custom", {"text": "x"}), *ROUTED.events[1:]])
    # Every usage field survives (counts, and whatever else TokenUsage carries, e.g. a cost).
    original.token_usage = TokenUsage(**{f.name: 15 for f in dataclasses.fields(TokenUsage)})
    original.correlation_id = "corr-1"
    original.metadata = {"suite": "unit"}
    original.events.append(
        AgentEvent(type="tool_retry", tool_name="custom", data={"attempt": 1}, timestamp=99)
    )
    path = tmp_path / "nested" / "dir" / "run.json"
    record(original, path)
    doc = json.loads(path.read_text())
    assert doc["finish_reason"] == "stop" and doc["token_usage"]["total_tokens"] == 15
    assert doc["events"][0] == {
        "type": "tool_call",
        "tool_name": "custom",
        "args": {"text": "x"},
        "call_id": original.events[0].call_id,
        "id": 1,
    }
    loaded = replay(path)
    assert loaded == original
    assert loaded.finish_reason is FinishReason.STOP
    expect(loaded).used_tool("custom", args={"text": "x"}).handoff_to("billing").guardrail_failed("tone")


def test_record_writes_non_json_outputs_in_their_json_form(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    record(AgentResult(output=Point(x=1, y=2), metadata={"when": object()}), path)
    loaded = replay(path)
    assert loaded.output == {"x": 1, "y": 2}
    assert str(loaded.metadata["when"]).startswith("<object object")
    assert loaded.finish_reason is None and loaded.token_usage is None


def test_replay_reads_minimal_and_foreign_documents(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps({"output": "hi", "events": [{"type": "done", "output": "hi"}], "finish_reason": "odd"})
    )
    loaded = replay(path)
    assert (loaded.output, loaded.status, loaded.finish_reason) == ("hi", "COMPLETED", "odd")
    assert loaded.events == [AgentEvent(type="done", output="hi")]
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        replay(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a recorded AgentResult"):
        replay(path)


# --------------------------------------------------------------------------- eval runner


@dataclasses.dataclass
class FakeRuntime:
    """Answers ``run(agent, prompt)`` from a table of scripted results."""

    results: dict[str, AgentResult | Exception]
    seen: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def run(self, agent: Agent, prompt: str) -> AgentResult:
        self.seen.append((agent.name, prompt))
        outcome = self.results[prompt]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_eval_runs_cases_and_records_every_check() -> None:
    support = team("sequential", "triage", "billing")
    runtime = FakeRuntime(
        {
            "refund": result_of(
                MockEvent.handoff("triage"),
                MockEvent.handoff("billing"),
                MockEvent.done("Refund ISSUED for order 7"),
                tool_calls=[{"name": "refund", "args": {"order": 7, "why": "late"}}],
            )
        }
    )
    case = EvalCase(
        name="refund",
        agent=support,
        prompt="refund",
        expect_tools=["refund"],
        expect_tools_not_used=["delete"],
        expect_tool_args={"refund": {"order": 7}},
        expect_handoff_to="billing",
        expect_no_handoff_to=["tech"],
        expect_output_contains=["refund issued", "order"],
        expect_output_matches=r"order \d+",
        custom_assertions=[lambda r: None],
        tags=["billing"],
    )
    suite = CorrectnessEval(runtime).run([case])
    assert isinstance(suite, EvalSuiteResult)
    assert runtime.seen == [("team", "refund")]
    (only,) = suite.cases
    assert isinstance(only, EvalCaseResult) and only.passed and only.error is None
    assert [c.check for c in only.checks] == [
        "status",
        "no_errors",
        "tool_used:refund",
        "tool_not_used:delete",
        "tool_args:refund",
        "handoff_to:billing",
        "no_handoff_to:tech",
        "output_contains:refund issued",
        "output_contains:order",
        "output_matches:order \\d+",
        "orchestration",
        "custom:<lambda>",
    ]
    assert all(isinstance(c, EvalCheckResult) and c.passed and c.message == "" for c in only.checks)
    assert (suite.all_passed, suite.pass_count, suite.fail_count, suite.total) == (True, 1, 0, 1)
    assert only.tags == ["billing"] and only.result is runtime.results["refund"]


def test_eval_reports_failures_errors_and_filters_by_tag() -> None:
    support = team("sequential", "triage", "billing")

    def mentions_lisbon(result: AgentResult) -> None:
        assert "Lisbon" in str(result.output), "no Lisbon"

    def broken(result: AgentResult) -> None:
        raise KeyError("oops")

    runtime = FakeRuntime(
        {
            "bad": result_of(MockEvent.handoff("billing"), MockEvent.done("sorry")),
            "crash": ConnectionError("server down"),
        }
    )
    cases = [
        EvalCase(
            name="bad",
            agent=support,
            prompt="bad",
            expect_tools=["refund"],
            expect_handoff_to=["triage"],
            custom_assertions=[mentions_lisbon, broken],
            tags=["smoke"],
        ),
        EvalCase(name="crash", agent=support, prompt="crash", tags=["smoke"]),
        EvalCase(agent=None, prompt="nobody", tags=["smoke"]),
        EvalCase(name="skipped", agent=support, prompt="not in the table", tags=["slow"]),
    ]
    suite = CorrectnessEval(runtime).run(cases, tags=["smoke"])
    assert [c.name for c in suite.cases] == ["bad", "crash", "case 3"]
    assert (suite.all_passed, suite.pass_count, suite.fail_count, suite.total) == (False, 0, 3, 3)
    assert suite.failed_cases() == suite.cases
    bad = suite.cases[0]
    failed = {c.check: c.message for c in bad.failed_checks}
    assert set(failed) == {
        "tool_used:refund",
        "handoff_to:triage",
        "orchestration",
        "custom:mentions_lisbon",
        "custom:broken",
    }
    assert "'triage' did not run" in failed["orchestration"]
    assert failed["custom:mentions_lisbon"].startswith("no Lisbon")
    assert failed["custom:broken"] == "KeyError: 'oops'"
    assert suite.cases[1].error == "ConnectionError: server down" and suite.cases[1].result is None
    assert suite.cases[2].error == "the case has no agent"
    out = io.StringIO()
    suite.print_summary(out)
    summary = out.getvalue()
    assert summary.startswith("Eval: 3 case(s), 0 passed, 3 failed\n  FAIL  bad\n")
    assert "        x tool_used:refund: expected tool 'refund' to be used" in summary
    assert "        error: ConnectionError: server down" in summary


def test_eval_output_checks_ignore_case_and_orchestration_can_be_skipped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = FakeRuntime({"p": result_of(MockEvent.done("HELLO"))})
    agent = team("handoff", "a")
    cases = [
        EvalCase(
            name="loose",
            agent=agent,
            prompt="p",
            expect_output_contains="hello",
            validate_orchestration=False,
        ),
        EvalCase(name="strict", agent=agent, prompt="p", expect_status=None, expect_no_errors=False),
    ]
    suite = CorrectnessEval(runtime).run(cases)
    assert [c.passed for c in suite.cases] == [True, False]
    assert [c.check for c in suite.cases[1].checks] == ["orchestration"]
    suite.print_summary()
    assert "PASS  loose" in capsys.readouterr().out


# --------------------------------------------------------------------------- pytest plugin and packaging


def plugin_args() -> list[str]:
    """Load the plugin by its module unless the installed entry point already loads it.

    Loading it both ways would register it twice, which pytest refuses.
    """
    installed = any(
        ep.name == "agentspan-testing" for ep in importlib.metadata.entry_points(group="pytest11")
    )
    if installed and not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return []
    return ["-p", PLUGIN_MODULE]


PLUGIN_TEST_FILE = """
import pytest

from agentspan.agents import Agent, tool


@tool(name="add_numbers")
def add(a: int, b: int) -> int:
    return a + b


AGENT = Agent(name="calc", model="openai/gpt-4o-mini", tools=[add])


@pytest.mark.agent_correctness
def test_fixtures(mock_agent_run, event):
    result = mock_agent_run(AGENT, "2+3?", [event.tool_call("add_numbers", {"a": 2, "b": 3}), event.done("5")])
    assert result.tool_calls[0]["result"] == 5
    assert result.output == "5"


@pytest.mark.semantic
def test_semantic_marker(event):
    assert event.done("x").type == "done"
"""


def test_pytest_plugin_fixtures_and_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agent_behaviour=PLUGIN_TEST_FILE)
    outcome = pytester.runpytest("--strict-markers", *plugin_args())
    outcome.assert_outcomes(passed=2)
    markers = pytester.runpytest("--markers", *plugin_args())
    markers.stdout.fnmatch_lines(["@pytest.mark.agent_correctness:*", "@pytest.mark.semantic:*"])


def test_pytest_plugin_is_a_pytest11_entry_point() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["entry-points"]["pytest11"] == {"agentspan-testing": PLUGIN_MODULE}


def test_testing_package_imports_neither_the_server_nor_pytest() -> None:
    code = (
        "import sys, agentspan.agents.testing as t; "
        "print([m for m in sys.modules if m.startswith('agentspan.server') or m in ('pytest', '_pytest')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_public_names() -> None:
    import agentspan.agents.testing as testing

    asserts = {name for name in testing.__all__ if name.startswith("assert_")}
    assert asserts == {
        "assert_agent_ran",
        "assert_event_sequence",
        "assert_events_contain",
        "assert_guardrail_failed",
        "assert_guardrail_passed",
        "assert_handoff_to",
        "assert_max_turns",
        "assert_no_errors",
        "assert_output_contains",
        "assert_output_matches",
        "assert_output_type",
        "assert_status",
        "assert_tool_call_order",
        "assert_tool_called_with",
        "assert_tool_not_used",
        "assert_tool_used",
        "assert_tools_used_exactly",
    }
    assert set(testing.__all__) - asserts == {
        "AgentResultExpectation",
        "CorrectnessEval",
        "EvalCase",
        "EvalCaseResult",
        "EvalCheckResult",
        "EvalSuiteResult",
        "MockEvent",
        "ScriptedModel",
        "StrategyViolation",
        "ToolCall",
        "expect",
        "mock_run",
        "record",
        "replay",
        "validate_constrained_transitions",
        "validate_handoff",
        "validate_parallel",
        "validate_round_robin",
        "validate_router",
        "validate_sequential",
        "validate_strategy",
        "validate_swarm",
        "scripted_or_live",
    }
    for name in testing.__all__:
        assert getattr(testing, name) is not None, name
        assert getattr(testing, name).__doc__, name


# --------------------------------------------------------------------------- example


def test_testing_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(ROOT / "examples" / "testing_example.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "tool result: {'city': 'Lisbon', 'temp_c': 21, 'sky': 'sunny'}" in out
    assert out.rstrip().endswith("all checks passed")


def test_testing_example_scripted_run() -> None:
    namespace: dict[str, Callable[[], AgentResult]] = runpy.run_path(
        str(ROOT / "examples" / "testing_example.py")
    )
    result = namespace["scripted_run"]()
    expect(result).used_tool("get_weather").max_turns(2)
    with pytest.raises(AssertionError, match="at most 1 turn"):
        expect(result).max_turns(1)
