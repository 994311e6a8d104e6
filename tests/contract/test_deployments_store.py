"""The deployment aggregate (store/deployments.py) on every backend: versions count up
per name, the same spec deployed again is the latest version again, reads by version,
and how many unfinished executions run each spec."""

from __future__ import annotations

import json

import pytest

from agentspan.server.store import Store
from agentspan.server.store.deployments import DeploymentRow

pytestmark = pytest.mark.anyio


async def _deploy(store: Store, name: str, spec_hash: str, now: float) -> tuple[DeploymentRow, bool]:
    async with store.transaction() as tx:
        await tx.put_spec(spec_hash, json.dumps({"name": name}))
        return await tx.add_deployment(name, spec_hash, now, "alice")


async def test_versions_count_up_per_name_and_a_repeat_is_the_latest_again(store: Store) -> None:
    assert await store.get_deployment("bot") is None
    first, created = await _deploy(store, "bot", "h1", 1.0)
    assert created and first == DeploymentRow("bot", 1, "h1", 1.0, "alice")
    repeat, created = await _deploy(store, "bot", "h1", 2.0)
    assert not created and repeat == first
    second, created = await _deploy(store, "bot", "h2", 3.0)
    assert created and second.version == 2
    back, created = await _deploy(store, "bot", "h1", 4.0)
    assert created and back.version == 3  # an older definition again is a new version
    other, _ = await _deploy(store, "alpha", "h9", 5.0)
    assert other.version == 1
    assert await store.get_deployment("bot") == back
    assert await store.get_deployment("bot", 2) == second
    assert await store.get_deployment("bot", 9) is None
    assert [r.version for r in await store.deployment_versions("bot")] == [3, 2, 1]
    assert [(r.name, r.version) for r in await store.list_deployments()] == [("alpha", 1), ("bot", 3)]


async def test_active_by_spec_counts_unfinished_executions_of_the_name(store: Store) -> None:
    await _deploy(store, "bot", "h1", 1.0)
    assert await store.active_by_spec("bot", ["h1", "h2"]) == {"h1": 0, "h2": 0}
