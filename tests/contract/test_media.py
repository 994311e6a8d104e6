"""The media aggregate (store/media.py) on every backend: bytes come back as stored, and a
second write of one id (a call re-run after a crash) keeps the first."""

from __future__ import annotations

import pytest

from agentspan.server.store import Store
from agentspan.server.store.media import MediaRow

pytestmark = pytest.mark.anyio


async def test_a_file_is_stored_once_per_id_and_read_back_byte_for_byte(store: Store) -> None:
    data = bytes(range(256)) * 40  # every byte value, NUL included
    async with store.transaction() as tx:
        await tx.put_media(MediaRow("m1", "e1", "image/png", data, 1.0))
    async with store.transaction() as tx:
        await tx.put_media(MediaRow("m1", "e1", "image/jpeg", b"second", 2.0))
    row = await store.get_media("m1")
    assert row == MediaRow("m1", "e1", "image/png", data, 1.0)
    assert await store.get_media("m2") is None


async def test_a_rolled_back_write_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.put_media(MediaRow("m1", "e1", "audio/mpeg", b"ID3", 1.0))
            raise RuntimeError("the step failed")
    assert await store.get_media("m1") is None
