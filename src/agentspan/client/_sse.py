"""One Server-Sent Events decoder, used by every streaming path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class SSEMessage:
    event: str
    data: dict[str, Any]
    id: str | None


class SSEDecoder:
    """Incremental decoder: feed lines, get complete messages.

    Comment lines (``:heartbeat``) are ignored; several ``data:`` lines are joined with
    newlines; data that is not JSON becomes ``{"content": raw}``.
    """

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> SSEMessage | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._flush()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        return None

    def _flush(self) -> SSEMessage | None:
        if not self._data and not self._event:
            return None
        raw = "\n".join(self._data)
        try:
            data = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            data = {"content": raw}
        if not isinstance(data, dict):
            data = {"content": data}
        event = self._event or str(data.get("type", "message"))
        message = SSEMessage(event=event, data=data, id=self._id)
        self._event, self._data, self._id = "", [], None
        return message
