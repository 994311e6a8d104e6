"""A boolean is not a poll count: schemathesis found JSON true accepted as 1."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentspan.protocol.api import PollRequest


def test_poll_count_rejects_bool() -> None:
    with pytest.raises(ValidationError):
        PollRequest.model_validate({"names": ["a"], "count": True})
    assert PollRequest.model_validate({"names": ["a"], "count": 3, "waitMs": 0}).count == 3
