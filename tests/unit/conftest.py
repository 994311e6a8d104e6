"""Fixtures shared by the unit test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakes.openai_server import FakeOpenAI


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server of this test's own (the provider tests script it)."""
    with FakeOpenAI() as server:
        yield server
