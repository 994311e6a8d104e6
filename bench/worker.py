"""A worker process: serves the benchmark tools with ``runtime.serve()`` until SIGTERM.

Started by the driver with ``AGENTSPAN_SERVER_URL`` set; prints ``ready`` once its poll
loops are running.
"""

from __future__ import annotations

import signal
import threading

from agents import approval_agent, slow_agent, turn_agent

from agentspan.agents import AgentConfig, AgentRuntime


def main() -> None:
    config = AgentConfig.from_env()
    config.auto_start_server = False
    config.log_level = "WARNING"
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with AgentRuntime(config=config) as runtime:
        runtime.serve(turn_agent(), slow_agent(), approval_agent(), blocking=False)
        print("ready", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
