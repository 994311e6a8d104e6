"""The async API: the same runtime from asyncio code, several runs at once.

    python examples/01-basics/07_async_api.py

Every method has an ``_async`` twin (``run_async``, ``start_async``, ``stream_async``,
``get_status_async``…), and ``async def`` tools run on the runtime's event loop. Here two
runs go concurrently with ``asyncio.gather``; each one's tool waits 1 s, and together they
take about one second, not two.
"""

import asyncio
import time

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
async def fetch_price(ticker: str) -> float:
    """Fetch a share price (an async stand-in for an HTTP call)."""
    await asyncio.sleep(1.0)
    return {"ACME": 12.5, "GLOBEX": 99.0}.get(ticker, 0.0)


def quoter(ticker: str) -> Agent:
    return Agent(
        name=f"quoter_{ticker.lower()}",
        model=scripted_or_live([ToolCall("fetch_price", {"ticker": ticker}), f"{ticker} quoted."]),
        instructions="Fetch the price of the ticker and state it.",
        tools=[fetch_price],
    )


async def main() -> None:
    async with AgentRuntime() as runtime:
        started = time.monotonic()
        results = await asyncio.gather(
            runtime.run_async(quoter("ACME"), "Price of ACME?"),
            runtime.run_async(quoter("GLOBEX"), "Price of GLOBEX?"),
        )
        elapsed = time.monotonic() - started
        for result in results:
            call = result.tool_calls[0]
            print(f"{call['args']['ticker']}: {call['result']} ({result.status})")
        print(f"both done concurrently: {elapsed < 1.9}")


asyncio.run(main())

# expect: ACME: 12.5 (COMPLETED)
# expect: GLOBEX: 99.0 (COMPLETED)
# expect: both done concurrently: True
