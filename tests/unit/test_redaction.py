"""``providers/redaction.py``: no credential of the server's survives a model answer."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import LlmFailed
from agentspan.server.executors.llm import LlmExecutor
from agentspan.server.providers.base import LlmRequest, LlmResponse, LlmToolCall, ProviderError
from agentspan.server.providers.redaction import (
    MASK,
    Masked,
    MaskedDeltas,
    env_secrets,
    mask,
    secret_forms,
)
from agentspan.server.settings import Settings

KEY = "sk-canary-0123456789abcdef/+xyz"


def test_env_secrets_are_the_credential_values() -> None:
    env = {
        "OPENAI_API_KEY": KEY,
        "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
        "AGENTSPAN_AUTH_TOKEN": "token-123456",
        "SHORT_KEY": "abc",  # too short to be worth masking everywhere
        "HOME": "/root/not-a-secret",
    }
    assert set(env_secrets(env)) == {KEY, "aws-secret-value", "token-123456"}


def test_mask_reaches_every_depth_and_the_json_escaped_form() -> None:
    forms = secret_forms([KEY])
    value = {"a": [{"b": f"x {KEY} y"}, ("t", KEY)], KEY: 1, "n": 3, "esc": KEY.replace("/", "\\/")}
    masked = mask(value, forms)
    assert KEY not in repr(masked) and "0123456789abcdef" not in repr(masked)
    assert masked["a"][0]["b"] == f"x {MASK} y" and masked[MASK] == 1 and masked["n"] == 3


@pytest.mark.parametrize("split", [1, 3, 10, len(KEY) - 1])
def test_streamed_text_masks_a_key_split_across_pieces(split: int) -> None:
    out: list[str] = []
    deltas = MaskedDeltas(out.append, secret_forms([KEY]))
    text = f"your key is {KEY}, keep it safe"
    cut = text.index(KEY) + split
    for piece in (text[:cut], text[cut:]):
        deltas(piece)
    deltas.flush()
    assert "".join(out) == f"your key is {MASK}, keep it safe"


def test_streamed_text_passes_a_false_start_on_unchanged() -> None:
    out: list[str] = []
    deltas = MaskedDeltas(out.append, secret_forms([KEY]))
    for piece in ("ask", "-can", "ned", " s"):  # "sk-can" begins the key, then it does not
        deltas(piece)
    deltas.flush()
    assert "".join(out) == "ask-canned s"


class _Echo:
    """A provider that echoes the key everywhere it can (or fails with it)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    async def complete(self, request: LlmRequest, on_delta: object = None) -> LlmResponse:
        if callable(on_delta):
            on_delta(KEY[:7])
            on_delta(KEY[7:] + " done")
        if self.fail:
            raise ProviderError(f"HTTP 401: bad key {KEY}", retryable=True, retry_after=2.0)
        return LlmResponse(
            content=f"key {KEY}",
            thinking=f"I saw {KEY}",
            tool_calls=[LlmToolCall(id="c1", name="lookup", arguments=f'{{"q": {{"deep": ["{KEY}"]}}}}')],
        )

    async def aclose(self) -> None:
        return None


@pytest.mark.anyio
async def test_masked_provider_masks_answers_streams_and_errors() -> None:
    streamed: list[str] = []
    reply = await Masked(_Echo(), [KEY]).complete(LlmRequest(model="m", messages=[]), streamed.append)
    assert KEY not in f"{reply.content}{reply.thinking}{reply.tool_calls}"
    assert reply.tool_calls[0].arguments == f'{{"q": {{"deep": ["{MASK}"]}}}}'
    assert "".join(streamed) == f"{MASK} done"
    with pytest.raises(ProviderError) as failed:
        await Masked(_Echo(fail=True), [KEY]).complete(LlmRequest(model="m", messages=[]))
    assert KEY not in str(failed.value) and MASK in str(failed.value)
    assert failed.value.retryable and failed.value.retry_after == 2.0 and failed.value.__cause__ is None


class _Crashing:
    async def complete(self, request: LlmRequest, on_delta: object = None) -> LlmResponse:
        raise RuntimeError(f"adapter bug while holding {KEY}")

    async def aclose(self) -> None:
        return None


class _Providers:
    def key_names(self, model: str) -> tuple[str, ...]:
        return ()  # the environment has the key: the credential store is not asked

    def resolve(
        self, model: str, caller_base_url: str | None = None, stored: object = None
    ) -> tuple[_Crashing, str]:
        return _Crashing(), "m"

    def secrets(self) -> tuple[str, ...]:
        return (KEY,)


@pytest.mark.anyio
async def test_a_crashing_adapter_leaves_the_key_out_of_the_error_and_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unexpected exception is not a ``ProviderError``: its text (and the traceback
    logged for it) went out unmasked."""
    ctx: Any = SimpleNamespace(providers=_Providers(), delta_sink=lambda _: None)
    spec = AgentConfig(name="a", model="openai/m")
    with caplog.at_level(logging.ERROR, logger="agentspan.server"):
        failed = await LlmExecutor(Settings())._call("e1", spec, [], ctx, planning=False)
    assert isinstance(failed, LlmFailed) and "internal error" in failed.error
    assert KEY not in failed.error and MASK in failed.error
    assert "adapter bug" in caplog.text and KEY not in caplog.text
