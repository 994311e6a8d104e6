"""``get_credential`` and the environment during a worker call (_core/credentials.py)."""

from __future__ import annotations

import asyncio
import os

import pytest

from agentspan._core.credentials import credential_names, provided
from agentspan.agents import CredentialNotFoundError, get_credential


def test_values_live_for_the_call_and_the_environment_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEPT", "original")
    monkeypatch.delenv("FRESH", raising=False)
    with provided({"KEPT": "k1", "FRESH": "f1"}) as context:
        assert get_credential("KEPT") == "k1" and os.environ["FRESH"] == "f1"
        assert context.run(get_credential, "FRESH") == "f1"  # what a worker thread runs in
        with pytest.raises(CredentialNotFoundError) as other:
            get_credential("UNDECLARED")
        assert other.value.missing_names == ["UNDECLARED"]
    assert os.environ["KEPT"] == "original" and "FRESH" not in os.environ
    with pytest.raises(CredentialNotFoundError, match="outside a tool call"):
        get_credential("KEPT")


def test_overlapping_calls_keep_a_name_set_until_the_last_one_returns() -> None:
    outer = provided({"SHARED_NAME": "v"})
    outer.__enter__()
    with provided({"SHARED_NAME": "v"}):
        pass
    assert os.environ.get("SHARED_NAME") == "v"  # the outer call still runs
    outer.__exit__(None, None, None)
    assert "SHARED_NAME" not in os.environ


@pytest.mark.anyio
async def test_concurrent_async_calls_each_see_their_own_values() -> None:
    async def call(value: str) -> str:
        with provided({"TOKEN_A": value}):
            await asyncio.sleep(0.01)
            return get_credential("TOKEN_A")

    assert list(await asyncio.gather(call("one"), call("two"))) == ["one", "two"]


def test_a_credential_file_is_named_by_its_variable() -> None:
    class CredentialFile:
        env_var = "KUBECONFIG"

    assert credential_names(["A", CredentialFile()]) == ["A", "KUBECONFIG"]
