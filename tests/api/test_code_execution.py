"""Code and command execution through a real server: the auto-attached tools are ordinary
durable worker tools, their results (stderr and exit codes too) reach the model, and
refusals, approvals and guardrails apply to them like to any other tool."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentspan.agents import (
    Agent,
    AgentConfig,
    AgentRuntime,
    CliConfig,
    CodeExecutionConfig,
    JupyterCodeExecutor,
    LocalCodeExecutor,
    RegexGuardrail,
    ToolContext,
    tool,
)

from fakes.openai_server import FakeOpenAI, FakeReply
from support.servers import ThreadServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def echo_tool_result(body: dict[str, Any]) -> FakeReply:
    """The model's final answer repeats what the last tool returned."""
    last = body["messages"][-1]
    return FakeOpenAI.text(f"The tool said: {last['content']}" if last["role"] == "tool" else "no tool ran")


def test_local_code_execution_runs_the_models_code(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.tool_calls(
            [
                (
                    "coder_execute_code",
                    {"code": "print([sum(range(n)) for n in range(1, 6)])", "language": "python"},
                )
            ]
        ),
        FakeOpenAI.text("Done: [0, 1, 3, 6, 10]"),
    )
    agent = Agent(name="coder", model="openai/gpt-4o", local_code_execution=True)
    result = runtime.run(agent, "compute it")
    assert result.status == "COMPLETED" and result.output == "Done: [0, 1, 3, 6, 10]"
    (call,) = result.tool_calls
    assert call["name"] == "coder_execute_code"
    assert call["result"] == {"status": "success", "stdout": "[0, 1, 3, 6, 10]\n", "stderr": ""}
    tool_names = [t["function"]["name"] for t in fake.requests[0]["tools"]]
    assert tool_names == ["coder_execute_code"]


def test_a_refused_language_reaches_the_model_as_an_error(
    runtime: AgentRuntime, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake, "_default", echo_tool_result)
    fake.script(FakeOpenAI.tool_calls([("coder_execute_code", {"code": "echo hi", "language": "bash"})]))
    agent = Agent(name="coder", model="openai/gpt-4o", local_code_execution=True)
    result = runtime.run(agent, "run bash")
    assert result.status == "COMPLETED"
    assert "Language 'bash' is not allowed. Allowed languages: python" in str(result.output)
    assert [e.type for e in result.events].count("tool_retry") == 0  # terminal: not retried


def test_a_failing_command_reaches_the_answer(
    runtime: AgentRuntime, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fake, "_default", echo_tool_result)
    fake.script(
        FakeOpenAI.tool_calls(
            [
                (
                    "shell_run_command",
                    {"command": "ls", "args": ["/no/such/directory"], "context_key": "listing"},
                )
            ]
        )
    )
    agent = Agent(name="shell", model="openai/gpt-4o", cli_commands=True, cli_allowed_commands=["ls"])
    result = runtime.run(agent, "list /no/such/directory")
    assert result.status == "COMPLETED"
    assert "No such file or directory" in str(result.output) and '"exit_code": 2' in str(result.output)


@tool
def remembered(key: str, context: ToolContext) -> str:
    """What the shared state holds under key."""
    return str(context.state.get(key))


def test_context_key_keeps_the_output_in_the_shared_state(
    runtime: AgentRuntime, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("ops_run_command", {"command": "pwd", "context_key": "working_dir"})]),
        FakeOpenAI.tool_calls([("ops_execute_code", {"code": "echo $PWD", "language": "bash"})]),
        FakeOpenAI.tool_calls([("remembered", {"key": "working_dir"})]),
        FakeOpenAI.text("ok"),
    )
    agent = Agent(
        name="ops",
        model="openai/gpt-4o",
        tools=[remembered],
        cli_config=CliConfig(working_dir=str(tmp_path)),
        code_execution=CodeExecutionConfig(allowed_languages=["bash"], working_dir="/"),
    )
    result = runtime.run(agent, "where am I")
    assert result.status == "COMPLETED"
    assert result.tool_calls[0]["result"]["stdout"] == f"{tmp_path}\n"
    assert result.tool_calls[1]["result"]["stdout"] == "/\n"
    assert result.tool_calls[2]["result"] == str(tmp_path)


def test_execute_code_waits_for_approval_when_configured(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("guarded_execute_code", {"code": "print('approved run')"})]),
        FakeOpenAI.text("ran it"),
    )
    agent = Agent(
        name="guarded", model="openai/gpt-4o", code_execution=CodeExecutionConfig(approval_required=True)
    )
    handle = runtime.start(agent, "run it")
    deadline = time.monotonic() + 20
    while not handle.get_status().is_waiting and time.monotonic() < deadline:
        time.sleep(0.05)
    assert handle.get_status().is_waiting
    assert fake.request_count == 1, "nothing ran before the approval"
    handle.approve()
    result = handle.join(timeout=30)
    assert result.status == "COMPLETED" and result.tool_calls[0]["result"]["stdout"] == "approved run\n"


def test_an_executor_tool_takes_tool_guardrails(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("execute_code", {"code": "print('token secret-123')"})]),
        FakeOpenAI.text("done"),
    )
    no_secrets = RegexGuardrail([r"secret-\d+"], name="no_secret_out")
    tool = LocalCodeExecutor(timeout=5).as_tool(guardrails=[no_secrets])
    result = runtime.run(Agent(name="careful", model="openai/gpt-4o", tools=[tool]), "show it")
    assert result.status == "COMPLETED"
    (seen,) = [m["content"] for m in fake.requests[1]["messages"] if m["role"] == "tool"]
    assert "Output blocked by guardrail 'no_secret_out'" in seen and "secret-123" not in seen


HOSTILE = {
    "fork_bomb": ("bash", ":(){ :|:& };:"),
    "busy_loop": ("python", "while True:\n    pass"),
    "one_gigabyte": ("python", "data = bytearray(1024 ** 3)"),
    "huge_print": ("python", "import sys\nsys.stdout.write('x' * 100_000_000)"),
}


def test_hostile_code_is_contained_and_reported_and_the_worker_carries_on(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    calls = [("tough_execute_code", {"code": code, "language": lang}) for lang, code in HOSTILE.values()]
    fake.script(
        # The fork bomb alone first: parallel calls share the sandbox user's process budget.
        FakeOpenAI.tool_calls(calls[:1]),
        FakeOpenAI.tool_calls(calls[1:]),
        FakeOpenAI.tool_calls([("tough_execute_code", {"code": "print('still here')"})]),
        FakeOpenAI.text("survived"),
    )
    config = CodeExecutionConfig(allowed_languages=["python", "bash"], timeout=4)
    result = runtime.run(Agent(name="tough", model="openai/gpt-4o", code_execution=config), "break things")
    assert result.status == "COMPLETED" and result.output == "survived"
    bomb, loop, memory, printed, after = (c["result"] for c in result.tool_calls)
    assert "Resource temporarily unavailable" in bomb["stderr"] or "background were stopped" in bomb["stderr"]
    assert loop["status"] == "error" and "TIMED OUT after 4s" in loop["stderr"]
    assert memory["status"] == "error" and "MemoryError" in memory["stderr"]
    assert len(printed["stdout"]) == 100_000 and "[output truncated" in printed["stderr"]
    assert after == {"status": "success", "stdout": "still here\n", "stderr": ""}
    # What the model saw for each is that result, in its tool messages.
    seen = [m["content"] for m in fake.requests[2]["messages"] if m["role"] == "tool"]
    assert len(seen) == 4 and "MemoryError" in seen[2]


def test_a_jupyter_kernel_keeps_state_per_execution_and_stops_when_it_ends(
    server: ThreadServer, fake: FakeOpenAI
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("execute_code", {"code": "total = 40"})]),
        FakeOpenAI.tool_calls([("execute_code", {"code": "print(total + 2)"})]),
        FakeOpenAI.text("42"),
    )
    executor = JupyterCodeExecutor(timeout=20)
    agent = Agent(name="notebook", model="openai/gpt-4o", tools=[executor.as_tool()])
    with AgentRuntime(config=AgentConfig(server_url=server.api_url, auto_start_server=False)) as runtime:
        started: list[Any] = []
        original = executor._start

        def remember() -> Any:
            started.append(original())
            return started[-1]

        executor._start = remember  # type: ignore[method-assign]
        result = runtime.run(agent, "add")
        assert result.status == "COMPLETED"
        assert result.tool_calls[1]["result"] == {"status": "success", "stdout": "42\n", "stderr": ""}
        # The runtime saw the execution finish: its kernel is gone with it.
        (kernel,) = started
        assert not kernel.manager.is_alive() and executor.running_executions() == []
        # A kernel used outside any execution lives until the runtime's workers stop.
        assert executor.execute("print('outside')").output == "outside\n"
        (outside,) = executor._kernels.values()
        assert outside.manager.is_alive()
    assert not outside.manager.is_alive() and not executor._kernels
