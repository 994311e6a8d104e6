"""Base model for every wire object: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A JSON object exchanged over HTTP.

    Field names are snake_case in Python and camelCase on the wire; both spellings are
    accepted on input. Unknown fields are ignored so older peers keep working.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=False,
    )

    def wire(self) -> dict[str, object]:
        """The JSON-ready dict with camelCase keys and no null fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
