"""Quick orchestration-overhead probe (not the full benchmark suite of ``make bench``).

Runs N sequential executions of a one-tool agent on the offline model against a real
server (SQLite, in another process) with the tool served by this process over HTTP, and
reports time per execution. Each execution is 3 durable steps (model, tool, model) plus
start and the final read, so per-step overhead is bounded by time/3.

    .venv/bin/python bench/quick_overhead.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool  # noqa: E402

from support.servers import ServerProcess  # noqa: E402


@tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp)).start()
        try:
            config = AgentConfig(server_url=server.api_url, auto_start_server=False)
            agent = Agent(name="bench", model="offline/basic", tools=[echo])
            with AgentRuntime(config=config) as runtime:
                for _ in range(20):
                    runtime.run(agent, "warm up")
                times = []
                for _ in range(n):
                    started = time.perf_counter()
                    result = runtime.run(agent, "say hi")
                    times.append(time.perf_counter() - started)
                    assert result.status == "COMPLETED"
        finally:
            server.stop()
    times.sort()
    median = statistics.median(times) * 1000
    p99 = times[int(len(times) * 0.99) - 1] * 1000
    print(f"{n} runs: median {median:.2f} ms/run, p99 {p99:.2f} ms/run (3 durable steps each)")


if __name__ == "__main__":
    main()
