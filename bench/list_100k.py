"""How fast the executions list answers over HTTP with 100,000 executions (issue 16).

Runs one real execution (offline model, one tool) on a real server, then copies its row
100,000 times straight into the SQLite file (new ids, start times spread over 30 days,
five agents, mixed statuses, distinct prompts), restarts the server on that file and
times ``GET /api/agent/executions`` the way the UI asks for it: the first page, a page
deep in the list by keyset cursor (and, for comparison, by offset), filtered by status,
by agent, and by free-text search (one selective, one matching a fifth of the rows, one
with a LIKE wildcard character, matched literally). Prints the median and the slowest of each.

    .venv/bin/python bench/list_100k.py [ROWS]
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool  # noqa: E402

from support.servers import ServerProcess  # noqa: E402

AGENTS = ("support", "refunds", "researcher", "writer", "triage")
STATUSES = ("COMPLETED",) * 8 + ("FAILED", "RUNNING")
SIZE = 50
REPEAT = 10


@tool
def lookup(order_id: str) -> str:
    """Look an order up."""
    return f"order {order_id}: shipped"


def seed(db: Path, rows: int) -> None:
    conn = sqlite3.connect(db)
    template = list(conn.execute("SELECT * FROM executions LIMIT 1").fetchone())
    names = [d[0] for d in conn.execute("SELECT * FROM executions LIMIT 1").description]
    col = {n: i for i, n in enumerate(names)}
    rng = random.Random(7)
    now = time.time()
    batch: list[list[Any]] = []
    for i in range(rows):
        row = list(template)
        created = now - rng.uniform(0, 30 * 86400)
        row[col["id"]] = row[col["root_id"]] = str(uuid.UUID(int=rng.getrandbits(128)))
        row[col["agent_name"]] = AGENTS[i % len(AGENTS)]
        row[col["status"]] = rng.choice(STATUSES)
        row[col["created_at"]], row[col["updated_at"]] = created, created + rng.uniform(0.2, 30)
        row[col["input"]] = f'{{"prompt": "where is order {i}?"}}'
        row[col["idempotency_key"]] = None
        batch.append(row)
    marks = ",".join("?" * len(names))
    conn.executemany(f"INSERT INTO executions VALUES ({marks})", batch)
    conn.commit()
    conn.close()


def timed(
    client: httpx.Client, params: dict[str, Any], repeat: int = REPEAT
) -> tuple[float, float, dict[str, Any]]:
    times = []
    page: dict[str, Any] = {}
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get("/api/agent/executions", params=params)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        page = response.json()
    return statistics.median(times), max(times), page


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        server = ServerProcess(data).start()
        try:
            config = AgentConfig(server_url=server.api_url, auto_start_server=False)
            with AgentRuntime(config=config) as rt:
                rt.run(Agent(name="support", model="offline/basic", tools=[lookup]), "Where is A-1?")
        finally:
            server.stop()
        started = time.perf_counter()
        seed(data / "agentspan.db", rows)
        print(f"seeded {rows:,} executions in {time.perf_counter() - started:.1f}s")
        server = ServerProcess(data).start()
        try:
            with httpx.Client(base_url=server.root_url, timeout=30) as client:
                deep = {"size": SIZE, "start": rows // 2}
                _, _, probe = timed(client, {"size": 1, "start": rows // 2}, 1)
                cursor = probe["nextCursor"]
                cases = {
                    "first page": {"size": SIZE},
                    "page at depth 50% by cursor": {"size": SIZE, "cursor": cursor},
                    "page at depth 50% by offset": deep,
                    "status=FAILED": {"size": SIZE, "status": "FAILED"},
                    "status=FAILED, next page by cursor": None,
                    "agentName=refunds": {"size": SIZE, "agentName": "refunds"},
                    "search q=order 4242": {"size": SIZE, "q": "order 4242"},
                    "search q=refunds (a fifth of the rows)": {"size": SIZE, "q": "refunds"},
                    "search q=order 42_ (escaped: no index)": {"size": SIZE, "q": "order 42_"},
                }
                print(f"{'query':40} {'median ms':>10} {'max ms':>8} {'totalHits':>10}")
                last: dict[str, Any] = {}
                for name, params in cases.items():
                    if params is None:
                        params = {"size": SIZE, "status": "FAILED", "cursor": last["nextCursor"]}
                    median, worst, last = timed(client, params, 3 if "offset" in name else REPEAT)
                    print(f"{name:40} {median:10.1f} {worst:8.1f} {last['totalHits']:10,}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
