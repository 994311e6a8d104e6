"""The credential aggregate (store/credentials.py) and CredentialService on every backend:
values only as AES-256-GCM ciphertext bound to their name, upserts that keep who first
set a name, rotation in one transaction, and the resolver server-side tools use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentspan.server.errors import CredentialStoreUnavailable, NotFound, ValidationFailed
from agentspan.server.executors.base import MissingSecret
from agentspan.server.service.credentials import CredentialService, rotate
from agentspan.server.service.master_key import KeySource, MasterKey, MasterKeyError, encode, new_key
from agentspan.server.service.principal import Principal
from agentspan.server.store import Store
from agentspan.server.store.credentials import CredentialRow

pytestmark = pytest.mark.anyio

ALICE = Principal(id="k1", name="alice", scopes=frozenset({"admin"}))
BOB = Principal(id="k2", name="bob", scopes=frozenset({"admin"}))


def service(store: Store, tmp_path: Path, key: MasterKey | None = None) -> CredentialService:
    return CredentialService(store, KeySource(tmp_path, encode(key) if key else None))


async def test_rows_round_trip_and_an_upsert_keeps_who_first_set_the_name(store: Store) -> None:
    first = CredentialRow("GH", b"\x01sealed-1", "kid", 1.0, 1.0, "alice", "alice")
    again = CredentialRow("GH", b"\x01sealed-2", "kid", 5.0, 5.0, "bob", "bob")
    async with store.transaction() as tx:
        assert await tx.put_credential(first)
    async with store.transaction() as tx:
        assert not await tx.put_credential(again)
    assert await store.get_credential("GH") == CredentialRow(
        "GH", b"\x01sealed-2", "kid", 1.0, 5.0, "alice", "bob"
    )
    async with store.transaction() as tx:
        assert await tx.delete_credential("GH")
        assert not await tx.delete_credential("GH")
    assert await store.list_credentials() == []


async def test_a_value_is_stored_sealed_and_opens_only_under_its_own_name(
    store: Store, tmp_path: Path
) -> None:
    creds = service(store, tmp_path, new_key("test"))
    info, created = await creds.set(ALICE, "STRIPE_KEY", "sk_live_canary")
    assert created and info.name == "STRIPE_KEY" and info.created_by == "alice"
    row = await store.get_credential("STRIPE_KEY")
    assert row is not None and b"sk_live_canary" not in row.ciphertext
    assert await creds.resolve(["STRIPE_KEY"], "exec-1") == {"STRIPE_KEY": "sk_live_canary"}
    # The same ciphertext under another name does not open (the name is associated data).
    async with store.transaction() as tx:
        await tx.put_credential(CredentialRow("OTHER", row.ciphertext, row.key_id, 1.0, 1.0, "x", "x"))
    with pytest.raises(MissingSecret, match="'OTHER' cannot be read"):
        await creds.resolve(["OTHER"], "exec-1")
    assert await creds.lookup(["OTHER", "STRIPE_KEY", "NOPE"]) == {"STRIPE_KEY": "sk_live_canary"}


async def test_set_list_delete_and_the_resolver_names_what_is_missing(store: Store, tmp_path: Path) -> None:
    creds = service(store, tmp_path, new_key("test"))
    await creds.set(ALICE, "B_TOKEN", "one")
    _, created = await creds.set(BOB, "B_TOKEN", "two")
    await creds.set(ALICE, "A_TOKEN", "three")
    assert not created
    listed = await creds.list()
    assert [(c.name, c.created_by, c.updated_by) for c in listed] == [
        ("A_TOKEN", "alice", "alice"),
        ("B_TOKEN", "alice", "bob"),
    ]
    assert "two" not in repr(listed) and "three" not in repr(listed)
    assert await creds.resolve(["B_TOKEN"], "e") == {"B_TOKEN": "two"}
    with pytest.raises(MissingSecret, match=r"'C_TOKEN' is not set .*agentspan credentials set C_TOKEN"):
        await creds.resolve(["B_TOKEN", "C_TOKEN"], "e")
    await creds.delete("B_TOKEN")
    with pytest.raises(NotFound) as gone:
        await creds.delete("B_TOKEN")
    assert gone.value.code == "credential_not_found"
    with pytest.raises(MissingSecret):
        await creds.resolve(["B_TOKEN"], "e")
    for bad in ("1ABC", "A-B", "", "A B", "x" * 129):
        with pytest.raises(ValidationFailed):
            await creds.set(ALICE, bad, "v")


async def test_a_server_with_another_master_key_refuses_to_mix_keys(store: Store, tmp_path: Path) -> None:
    await service(store, tmp_path / "one", new_key("one")).set(ALICE, "TOKEN", "v1")
    other = service(store, tmp_path / "two", new_key("two"))
    with pytest.raises(CredentialStoreUnavailable, match="same AGENTSPAN_MASTER_KEY"):
        await other.set(ALICE, "NEW", "v2")
    with pytest.raises(MissingSecret, match="sealed with master key"):
        await other.resolve(["TOKEN"], "e")
    # Nor does a server without any key make a key file of its own over them.
    keyless = service(store, tmp_path / "three")
    with pytest.raises(CredentialStoreUnavailable, match="has no master key"):
        await keyless.set(ALICE, "NEW", "v2")
    assert not (tmp_path / "three" / "master.key").exists()


async def test_rotation_reseals_every_value_in_one_transaction(store: Store, tmp_path: Path) -> None:
    old, new = new_key("old"), new_key("new")
    creds = service(store, tmp_path, old)
    for i in range(3):
        await creds.set(ALICE, f"T{i}", f"value-{i}")
    assert await rotate(store, old, new) == 3
    assert {r.key_id for r in await store.list_credentials()} == {new.key_id}
    rotated = service(store, tmp_path, new)
    assert await rotated.resolve(["T0", "T1", "T2"], "e") == {f"T{i}": f"value-{i}" for i in range(3)}
    assert await rotate(store, old, new) == 0  # done already: nothing to do


async def test_rotation_with_a_row_under_an_unknown_key_changes_nothing(store: Store, tmp_path: Path) -> None:
    old, new, stray = new_key("old"), new_key("new"), new_key("stray")
    await service(store, tmp_path, old).set(ALICE, "A", "a")
    async with store.transaction() as tx:
        await tx.put_credential(CredentialRow("Z", stray.seal("Z", "z"), stray.key_id, 1.0, 1.0, "x", "x"))
    with pytest.raises(MasterKeyError, match="nothing was changed"):
        await rotate(store, old, new)
    row = await store.get_credential("A")
    assert row is not None and row.key_id == old.key_id


async def test_the_key_file_is_made_0600_on_first_use_and_read_after(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "data-dir"
    creds = service(store, data)
    assert not (data / "master.key").exists()
    await creds.list()
    assert not (data / "master.key").exists()  # no credential, no key
    old_umask = os.umask(0)
    try:
        await creds.set(ALICE, "TOKEN", "v")
    finally:
        os.umask(old_umask)
    assert (data / "master.key").stat().st_mode & 0o777 == 0o600
    restarted = service(store, data)
    assert await restarted.resolve(["TOKEN"], "e") == {"TOKEN": "v"}


async def test_a_running_server_with_a_key_file_follows_a_rotation(store: Store, tmp_path: Path) -> None:
    from agentspan.server.service.master_key import write_key_file

    running = service(store, tmp_path)  # key file mode
    await running.set(ALICE, "TOKEN", "v")
    source = KeySource(tmp_path, None)
    old = source.current()
    assert old is not None
    new = new_key(str(source.path))
    assert await rotate(store, old, new) == 1
    write_key_file(source.path, new, exclusive=False)  # what rotate-master-key leaves behind
    # The running service still holds the old key; it reads the file again.
    assert await running.resolve(["TOKEN"], "e") == {"TOKEN": "v"}
    await running.set(ALICE, "OTHER", "w")
    assert {r.key_id for r in await store.list_credentials()} == {new.key_id}
