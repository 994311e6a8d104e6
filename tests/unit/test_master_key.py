"""The master key (server/service/master_key.py): where it comes from, what a sealed value
looks like, and how an interrupted rotation of a key file is settled at the next start."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from agentspan.server.service.master_key import (
    KeySource,
    MasterKeyError,
    encode,
    new_key,
    parse_key,
    write_key_file,
)
from agentspan.server.settings import Settings


def test_a_sealed_value_is_random_each_time_and_bound_to_its_name() -> None:
    key = new_key("test")
    one, two = key.seal("NAME", "secret"), key.seal("NAME", "secret")
    assert one != two and one[:1] == b"\x01" and len(one) == 1 + 12 + len("secret") + 16
    assert key.open("NAME", one) == key.open("NAME", two) == "secret"
    with pytest.raises(MasterKeyError, match="does not open"):
        key.open("OTHER", one)
    tampered = one[:-1] + bytes([one[-1] ^ 1])
    with pytest.raises(MasterKeyError, match="does not open"):
        key.open("NAME", tampered)
    with pytest.raises(MasterKeyError, match="unknown format"):
        key.open("NAME", b"\x02" + one[1:])


def test_the_key_id_names_a_key_without_revealing_it() -> None:
    key = new_key("a")
    assert key.key_id == parse_key(encode(key), "b").key_id != new_key("c").key_id
    assert key.key_id not in (key.key.hex(), encode(key))


@pytest.mark.parametrize("raw", ["", "abc", base64.b64encode(b"x" * 31).decode(), "!!!!"])
def test_a_malformed_environment_key_is_refused_with_how_to_make_one(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(MasterKeyError, match="openssl rand -base64 32"):
        parse_key(raw, "AGENTSPAN_MASTER_KEY")
    if raw:
        monkeypatch.setenv("AGENTSPAN_MASTER_KEY", raw)
        with pytest.raises(ValueError, match="openssl rand -base64 32"):
            Settings.from_env()


def test_an_environment_key_wins_and_no_file_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key("env")
    urlsafe = base64.urlsafe_b64encode(key.key).decode()
    monkeypatch.setenv("AGENTSPAN_MASTER_KEY", urlsafe)
    assert Settings.from_env().master_key == urlsafe
    assert "master_key" not in repr(Settings.from_env())
    source = KeySource(tmp_path, urlsafe)
    current = source.current()
    assert current is not None and current.key == key.key
    with pytest.raises(MasterKeyError):
        source.create()
    assert not (tmp_path / "master.key").exists()


def test_a_key_file_readable_by_others_is_narrowed(tmp_path: Path) -> None:
    key = new_key("f")
    path = tmp_path / "master.key"
    write_key_file(path, key, exclusive=True)
    path.chmod(0o644)
    loaded = KeySource(tmp_path, None).current()
    assert loaded is not None and loaded.key == key.key
    assert path.stat().st_mode & 0o777 == 0o600


def test_an_interrupted_rotation_keeps_the_key_the_rows_carry(tmp_path: Path) -> None:
    old, new = new_key("old"), new_key("new")
    source = KeySource(tmp_path, None)
    write_key_file(source.path, old, exclusive=True)
    # Crashed after writing the new key, before the transaction committed: undo.
    write_key_file(source.pending_path, new, exclusive=True)
    source.settle_pending({old.key_id})
    assert not source.pending_path.exists() and source.current() == parse_key(encode(old), str(source.path))
    # Crashed after the commit, before the rename: finish it.
    write_key_file(source.pending_path, new, exclusive=True)
    source.settle_pending({new.key_id})
    current = source.current()
    assert not source.pending_path.exists() and current is not None and current.key == new.key
