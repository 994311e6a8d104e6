"""Free-text search of 100,000 executions on PostgreSQL (issue 16): the search index
(migration 10, pg_trgm) against the scan it replaced, on the same rows.

Creates a scratch database, migrates it, inserts ROWS executions (five agents, distinct
prompts, finished ones with an output), then times ``list_executions(search=...)`` (one
count and one page, as the UI asks) and the old ``LOWER(column) LIKE`` scan.

    AGENTSPAN_TEST_DATABASE_URL=postgresql://... .venv/bin/python bench/search_100k_pg.py [ROWS]
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid

import asyncpg

from agentspan.server.store.postgres import PostgresStore

AGENTS = ("support", "refunds", "researcher", "writer", "triage")
OLD_SCAN = (
    "SELECT COUNT(*) FROM executions WHERE parent_id IS NULL AND (LOWER(id) LIKE $1 ESCAPE '!' "
    "OR LOWER(agent_name) LIKE $1 ESCAPE '!' OR LOWER(input) LIKE $1 ESCAPE '!')"
)


async def main() -> None:
    base = os.environ.get("AGENTSPAN_TEST_DATABASE_URL")
    if not base:
        sys.exit("set AGENTSPAN_TEST_DATABASE_URL (a server where databases may be created)")
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    name = f"agentspan_search_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = base.rsplit("/", 1)[0] + f"/{name}"
    try:
        store = PostgresStore(url)
        await store.open()
        conn = await asyncpg.connect(url)
        await conn.execute("INSERT INTO specs (hash, spec) VALUES ('h', '{}')")
        rng = random.Random(7)
        state = json.dumps({"turn": 2, "status": "COMPLETED", "output": "Here is what I found. " * 40})
        batch = [
            (
                str(uuid.UUID(int=rng.getrandbits(128))),
                None,
                "r",
                AGENTS[i % len(AGENTS)],
                "h",
                "RUNNING",
                state,
                1,
                5,
                time.time() - rng.uniform(0, 30 * 86400),
                1.0,
                json.dumps({"prompt": f"where is order {i}?"}),
                None,
                "",
            )
            for i in range(rows)
        ]
        started = time.perf_counter()
        await conn.executemany(
            "INSERT INTO executions VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
            batch,
        )
        await conn.execute("UPDATE executions SET status = 'COMPLETED'")  # the outputs join the index
        await conn.execute("ANALYZE")
        print(f"inserted and ended {rows:,} executions in {time.perf_counter() - started:.1f}s")
        print(f"{'query':40} {'median ms':>10} {'max ms':>8} {'hits':>8}")
        for text in ("order 4242", "researcher", "what i found"):
            times, hits = [], 0
            for _ in range(10):
                t = time.perf_counter()
                hits, _ = await store.list_executions(
                    status=None,
                    agent_name=None,
                    parent_id=None,
                    roots_only=True,
                    limit=51,
                    offset=0,
                    search=text,
                )
                times.append((time.perf_counter() - t) * 1000)
            print(f"{'index: ' + text:40} {statistics.median(times):10.1f} {max(times):8.1f} {hits:8,}")
            times = []
            for _ in range(3):
                t = time.perf_counter()
                hits = await conn.fetchval(OLD_SCAN, f"%{text}%")
                times.append((time.perf_counter() - t) * 1000)
            print(
                f"{'old scan (count only): ' + text:40} {statistics.median(times):10.1f} {max(times):8.1f} {hits:8,}"
            )
        await conn.close()
        await store.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
