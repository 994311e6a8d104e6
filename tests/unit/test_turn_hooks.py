"""Turn hooks (engine/hooks.py): each of the four points is reached with the right data,
and each verdict takes effect. Hooks are built per test and passed to ``decide``, so
nothing global is changed."""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.hooks import (
    CONTINUE,
    NO_HOOKS,
    Block,
    Hooks,
    ModelRequest,
    Replace,
    Retry,
    Verdict,
    hooks_for,
)
from agentspan.server.engine.model import CallLlm, CallState, ExecState, LlmResult, RunTool

from support.decide import LOOKUP, Run, agent, assert_finished, call, commands, events


class Recorder:
    """Hooks for every point that record what they saw and answer as told."""

    def __init__(self, **answers: Verdict) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.answers = answers

    def _answer(self, point: str, data: Any) -> Verdict:
        self.seen.append((point, data))
        return self.answers.pop(point, CONTINUE)

    def before_model(self, spec: AgentConfig, state: ExecState, request: ModelRequest) -> Verdict:
        return self._answer("before_model", request)

    def after_model(self, spec: AgentConfig, state: ExecState, reply: LlmResult) -> Verdict:
        return self._answer("after_model", reply.content)

    def before_tool(self, spec: AgentConfig, state: ExecState, call: CallState) -> Verdict:
        return self._answer("before_tool", (call.name, dict(call.args)))

    def after_tool(self, spec: AgentConfig, state: ExecState, call: CallState) -> Verdict:
        return self._answer("after_tool", (call.name, call.result, call.error))

    def hooks(self) -> Hooks:
        return Hooks(
            before_model=(self.before_model,),
            after_model=(self.after_model,),
            before_tool=(self.before_tool,),
            after_tool=(self.after_tool,),
        )


def test_every_point_is_reached_with_its_data_in_turn_order() -> None:
    recorder = Recorder()
    run = Run(agent(LOOKUP), hooks=recorder.hooks())
    run.start()
    run.llm("let me look", call("lookup", {"q": "x"}))
    run.ok("c1", output="found")
    d = run.llm("the answer")
    assert recorder.seen == [
        ("before_model", ModelRequest("turn", 1)),
        ("after_model", "let me look"),
        ("before_tool", ("lookup", {"q": "x"})),
        ("after_tool", ("lookup", "found", None)),
        ("before_model", ModelRequest("turn", 2)),
        ("after_model", "the answer"),
    ]
    assert_finished(d, "COMPLETED", "stop")


def test_the_planning_call_is_a_model_call_too() -> None:
    recorder = Recorder()
    run = Run(agent(planner=True), hooks=recorder.hooks())
    run.start()
    assert recorder.seen == [("before_model", ModelRequest("plan", 1))]


def test_before_model_can_block_the_call_and_fail_the_run() -> None:
    run = Run(agent(), hooks=Recorder(before_model=Block("no model for you")).hooks())
    d = run.start()
    assert_finished(d, "FAILED", "blocked")
    assert d.state.error == "no model for you"


def test_after_model_can_replace_the_reply() -> None:
    def fix(spec: AgentConfig, state: ExecState, reply: LlmResult) -> Verdict:
        return Replace(
            reply.model_copy(update={"content": (reply.content or "").replace("secret", "[redacted]")})
        )

    run = Run(agent(), hooks=Hooks(after_model=(fix,)))
    run.start()
    d = run.llm("the secret is 42")
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "the [redacted] is 42"
    assert run.messages[-1]["content"] == "the [redacted] is 42"


def test_after_model_can_send_the_reply_back_with_feedback() -> None:
    run = Run(agent(), hooks=Recorder(after_model=Retry("be polite")).hooks())
    run.start()
    d = run.llm("go away")
    assert [e.fields["content"] for e in events(d, "reply_rejected")] == ["be polite"]
    assert run.messages[-2:] == [
        {"role": "assistant", "content": "go away", "tool_calls": []},
        {"role": "user", "content": "be polite"},
    ]
    assert commands(d, CallLlm) == [CallLlm()] and d.state.turn == 1
    d = run.llm("hello there")
    assert_finished(d, "COMPLETED", "stop")
    assert d.state.output == "hello there"


def test_after_model_can_block_the_reply_and_fail_the_run() -> None:
    run = Run(agent(LOOKUP), hooks=Recorder(after_model=Block("unsafe")).hooks())
    run.start()
    d = run.llm("rm -rf /", call("lookup"))
    assert_finished(d, "FAILED", "blocked")
    assert d.state.error == "unsafe"


def test_before_tool_can_replace_the_arguments() -> None:
    run = Run(agent(LOOKUP), hooks=Recorder(before_tool=Replace({"q": "safe"})).hooks())
    run.start()
    d = run.llm(None, call("lookup", {"q": "unsafe"}))
    assert [c.args for c in commands(d, RunTool)] == [{"q": "safe"}]


def test_before_tool_can_block_the_call_and_the_model_sees_why() -> None:
    run = Run(agent(LOOKUP), hooks=Recorder(before_tool=Block("lookup is off today")).hooks())
    run.start()
    d = run.llm(None, call("lookup", {"q": "x"}))
    assert not commands(d, RunTool)
    assert commands(d, CallLlm) == [CallLlm()]
    assert run.messages[-1]["content"] == "Error: lookup is off today"


def test_after_tool_can_replace_or_block_the_result_the_model_sees() -> None:
    run = Run(agent(LOOKUP), hooks=Recorder(after_tool=Replace("[hidden]")).hooks())
    run.start()
    run.llm(None, call("lookup"))
    d = run.ok("c1", output="card 4111")
    assert run.messages[-1]["content"] == "[hidden]"
    assert events(d, "tool_result")[0].fields["result"] == "[hidden]"

    run = Run(agent(LOOKUP), hooks=Recorder(after_tool=Block("leaked a card number")).hooks())
    run.start()
    run.llm(None, call("lookup"))
    run.ok("c1", output="card 4111")
    assert run.messages[-1]["content"] == "Error: leaked a card number"


def test_a_replace_is_passed_to_the_next_hook_and_a_block_ends_the_point() -> None:
    seen: list[dict[str, Any]] = []

    def first(spec: AgentConfig, state: ExecState, call: CallState) -> Verdict:
        return Replace({"q": "first"})

    def second(spec: AgentConfig, state: ExecState, args: Any) -> Verdict:
        seen.append(args)
        return Block("second says no")

    def never(spec: AgentConfig, state: ExecState, call: CallState) -> Verdict:
        raise AssertionError("a hook after a Block ran")

    run = Run(agent(LOOKUP), hooks=Hooks(before_tool=(first, second, never)))
    run.start()
    run.llm(None, call("lookup"))
    assert seen == [{"q": "first"}]
    assert run.messages[-1]["content"] == "Error: second says no"


def test_hooks_come_from_the_spec_through_the_sources_given() -> None:
    def redact(spec: AgentConfig, state: ExecState, reply: LlmResult) -> Verdict:
        return CONTINUE

    def guardrails(spec: AgentConfig) -> Hooks:
        return Hooks(after_model=(redact,)) if spec.name == "guarded" else NO_HOOKS

    assert hooks_for(agent(name="guarded"), [guardrails]).after_model == (redact,)
    assert hooks_for(agent(name="plain"), [guardrails]) == NO_HOOKS
    assert hooks_for(agent(name="guarded")) == NO_HOOKS  # none registered by default
