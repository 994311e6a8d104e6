"""Shared pieces of the agent spec: the base of every nested part and small references."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from agentspan.protocol._base import WireModel


class SpecPart(WireModel):
    """A typed object inside an agent spec.

    Unknown keys are kept (not validated) so a newer SDK's additions pass through an older
    server unchanged and reach the same wire form on the way out.
    """

    model_config = ConfigDict(extra="allow")


class TaskRef(SpecPart):
    """A decision the user's own function makes, served by a worker as ``taskName``."""

    task_name: Annotated[str, Field(min_length=1)]


def tag_of(value: Any, key: str, attribute: str) -> Any:
    """The discriminator of a raw dict (camelCase or snake_case key) or of a built model."""
    if isinstance(value, dict):
        return value.get(key, value.get(attribute))
    return getattr(value, attribute, None)
