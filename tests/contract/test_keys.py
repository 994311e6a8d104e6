"""The API-key aggregate (store/keys.py) on every backend: hashes in, one active key per
name, revocation kept as history."""

from __future__ import annotations

import pytest

from agentspan.server.store import Store
from agentspan.server.store.keys import ApiKeyRow

pytestmark = pytest.mark.anyio


def key(key_id: str, name: str, at: float = 1.0) -> ApiKeyRow:
    return ApiKeyRow(
        id=key_id,
        name=name,
        secret_hash="f" * 64,
        scopes=("operator", "worker"),
        created_at=at,
        created_by="root",
        revoked_at=None,
    )


async def test_keys_round_trip_and_names_are_unique_among_active_keys(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.insert_api_key(key("k1", "ops", 1.0))
        assert await tx.insert_api_key(key("k2", "ci", 2.0))
        assert not await tx.insert_api_key(key("k3", "ops", 3.0))
    assert await store.get_api_key("k1") == key("k1", "ops", 1.0)
    assert await store.get_api_key("k3") is None
    assert [k.id for k in await store.list_api_keys()] == ["k1", "k2"]


async def test_a_revoked_key_stays_listed_as_history_and_frees_its_name(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.insert_api_key(key("k1", "ops"))
    async with store.transaction() as tx:
        assert await tx.revoke_api_key("k1", 5.0)
        assert not await tx.revoke_api_key("k1", 6.0)  # once only
        assert not await tx.revoke_api_key("nope", 6.0)
    assert await store.list_api_keys() == []
    revoked = await store.list_api_keys(include_revoked=True)
    assert [(k.id, k.revoked_at) for k in revoked] == [("k1", 5.0)]
    async with store.transaction() as tx:
        assert await tx.insert_api_key(key("k2", "ops", 7.0))
    assert [k.id for k in await store.list_api_keys()] == ["k2"]
