"""Cost of waiting: server RSS before and after N executions paused for approval.

.venv/bin/python bench/paused_memory.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.servers import ServerProcess  # noqa: E402

TOOL = {
    "name": "needs_ok",
    "description": "Needs a human.",
    "inputSchema": {"type": "object", "properties": {}},
    "approvalRequired": True,
}
AGENT = {"name": "waiter", "model": "offline/basic", "tools": [TOOL]}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def start_many(api: str, n: int) -> list[str]:
    async with httpx.AsyncClient(base_url=api, timeout=60) as client:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> str:
            async with sem:
                r = await client.post("/agent/start", json={"agentConfig": AGENT, "prompt": f"job {i}"})
                return str(r.json()["executionId"])

        return list(await asyncio.gather(*(one(i) for i in range(n))))


async def count_waiting(api: str, ids: list[str]) -> int:
    async with httpx.AsyncClient(base_url=api, timeout=60) as client:
        sem = asyncio.Semaphore(32)

        async def one(execution_id: str) -> bool:
            async with sem:
                r = await client.get(f"/agent/{execution_id}/status")
                return bool(r.json()["isWaiting"])

        return sum(await asyncio.gather(*(one(i) for i in ids)))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp)).start()
        try:
            assert server.proc is not None
            warm = asyncio.run(start_many(server.api_url, 200))
            time.sleep(2)
            before = rss_mb(server.proc.pid)
            started = time.perf_counter()
            ids = asyncio.run(start_many(server.api_url, n))
            elapsed = time.perf_counter() - started
            time.sleep(3)
            waiting = asyncio.run(count_waiting(server.api_url, ids[-500:]))
            after = rss_mb(server.proc.pid)
            cpu_before = Path(f"/proc/{server.proc.pid}/stat").read_text().split()[13:15]
            time.sleep(5)
            cpu_after = Path(f"/proc/{server.proc.pid}/stat").read_text().split()[13:15]
            idle_ticks = sum(map(int, cpu_after)) - sum(map(int, cpu_before))
        finally:
            server.stop()
    print(f"started {n} executions in {elapsed:.1f}s ({n / elapsed:.0f}/s); {len(warm)} warm-up")
    print(f"sample of 500: {waiting} waiting for approval")
    print(f"server RSS: {before:.1f} MB -> {after:.1f} MB (+{after - before:.1f} MB)")
    print(f"server CPU while idle for 5s: {idle_ticks} clock ticks")


if __name__ == "__main__":
    main()
