"""The server's span exporter is a real child process: it exports what it was handed
when the server stops or is killed, outlives a terminal's Ctrl-C, and is replaced when it
dies."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime
from agentspan.server.observability import Observability
from agentspan.server.observability.metrics import Metrics, MetricsObserver
from agentspan.server.observability.span_export import LINGER_S, SpanForwarder
from agentspan.server.settings import Settings

from support.otlp_receiver import Received, otlp_receiver
from support.servers import ServerProcess, ThreadServer
from support.traced_turn import TURN


def feed(forwarder: SpanForwarder) -> None:
    for note in TURN:
        forwarder.observe_now(note)


def started(forwarder: SpanForwarder) -> int:
    deadline = time.monotonic() + 10
    while forwarder.child_pid is None:
        assert time.monotonic() < deadline, "the exporter process never started"
        time.sleep(0.02)
    return forwarder.child_pid


def wait_until(predicate: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def chat_spans(received: Received) -> int:
    return received.span_names().count("chat gpt-4o")


def test_stopping_exports_what_was_handed_over_and_ends_the_process() -> None:
    with otlp_receiver() as (url, received):
        forwarder = SpanForwarder(url + "/v1/traces")
        feed(forwarder)
        pid = started(forwarder)
        forwarder.shutdown()
        with pytest.raises(ChildProcessError):  # exited, and reaped by the forwarder
            os.waitpid(pid, os.WNOHANG)
        assert sorted(received.span_names()) == sorted(
            ["chat gpt-4o", "execute_tool forecast", "chat gpt-4o", "invoke_agent weather"]
        )
        assert forwarder.dropped == 0


def test_a_terminal_interrupt_does_not_lose_the_last_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")  # the exporter process exports within 50 ms
    with otlp_receiver() as (url, received):
        forwarder = SpanForwarder(url + "/v1/traces")
        feed(forwarder)
        pid = started(forwarder)
        # Ctrl-C goes to the terminal's foreground process group: the server's, not this one.
        assert os.getpgid(pid) != os.getpgid(0)
        wait_until(lambda: chat_spans(received) == 2, "the first spans were not exported")
        os.kill(pid, signal.SIGINT)  # and sent to it directly, it is ignored
        time.sleep(0.2)
        feed(forwarder)
        forwarder.shutdown()
        assert chat_spans(received) == 4


def test_a_killed_exporter_is_replaced() -> None:
    with otlp_receiver() as (url, received):
        forwarder = SpanForwarder(url + "/v1/traces", restart_after=0.0)
        feed(forwarder)
        first = started(forwarder)
        os.kill(first, signal.SIGKILL)
        time.sleep(0.3)
        feed(forwarder)
        wait_until(lambda: forwarder.child_pid != first, "no new exporter process was started")
        forwarder.shutdown()
        # The first process's spans died with it (it had not exported yet); the second's arrive.
        assert chat_spans(received) == 2


def test_a_crash_looping_exporter_drops_and_counts_instead_of_queueing() -> None:
    with otlp_receiver() as (url, received):
        forwarder = SpanForwarder(url + "/v1/traces", restart_after=3600.0)
        feed(forwarder)
        first = started(forwarder)
        os.kill(first, signal.SIGKILL)
        time.sleep(0.2)
        feed(forwarder)
        wait_until(lambda: forwarder.dropped == 3, f"dropped {forwarder.dropped} steps, not 3")
        assert forwarder.child_pid == first
        forwarder.shutdown()
        assert received.span_names() == []


def exporter_pids(server_pid: int) -> list[int]:
    """The server's span exporter processes (from /proc: they are in their own session, not
    the server's process group)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"agentspan.server.observability.span_export" in argv and parent == server_pid:
            found.append(int(entry.name))
    return found


def finished(pid: int) -> bool:
    """Exited (reaped, or a zombie waiting for whoever inherited it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_a_server_stopped_or_killed_leaves_its_spans_exported_and_no_process_behind(
    tmp_path: Path, stop: signal.Signals
) -> None:
    with otlp_receiver() as (url, received):
        env = {"AGENTSPAN_OTEL_ENDPOINT": url, "AGENTSPAN_LOG_FORMAT": "json"}
        server = ServerProcess(tmp_path, env=env).start()
        try:
            config = AgentConfig(server_url=server.api_url, auto_start_server=False)
            with AgentRuntime(config=config) as runtime:
                assert runtime.run(Agent(name="traced", model="offline/basic"), "hi").status == "COMPLETED"
            assert server.proc is not None
            server_pid = server.proc.pid
            wait_until(lambda: exporter_pids(server_pid), "no span exporter process started")
            (exporter,) = exporter_pids(server_pid)
            # The URL may carry credentials: it is not on the command line, which anyone can read.
            assert url.encode() not in Path(f"/proc/{exporter}/cmdline").read_bytes()
            time.sleep(LINGER_S * 2)  # the steps reached the exporter process
            server.kill(stop)
        finally:
            server.kill()
        # Killed, the server could not close the exporter's input: the kernel did, and the
        # exporter exported what it held and exited on its own.
        wait_until(lambda: finished(exporter), "the span exporter outlived its server")
        assert "invoke_agent traced" in received.span_names()
    for line in server.log_text().splitlines():
        if line.strip():
            assert json.loads(line)["level"] not in ("ERROR", "CRITICAL"), line


def test_steps_the_exporter_could_not_take_are_counted_in_metrics(tmp_path: Path) -> None:
    with otlp_receiver() as (url, _):
        forwarder = SpanForwarder(url + "/v1/traces", restart_after=3600.0)
        feed(forwarder)
        os.kill(started(forwarder), signal.SIGKILL)
        time.sleep(0.2)
        feed(forwarder)
        wait_until(lambda: forwarder.dropped == 3, f"dropped {forwarder.dropped} steps, not 3")
        metrics = Metrics()
        observability = Observability(
            metrics=metrics,
            observers=[MetricsObserver(metrics), forwarder],
            tracing_enabled=True,
            tracer=forwarder,
        )
        server = ThreadServer(Settings(data_dir=tmp_path), observability=observability).start()
        try:
            text = httpx.get(server.root_url + "/metrics", timeout=10).text
        finally:
            server.stop()
    assert "agentspan_observer_dropped 3.0" in text.splitlines()
