"""LangGraph checkpoints as JSON, so the server can record them (never pickle).

A checkpoint's channel values are the graph's state: plain JSON values, LangChain objects
(messages, documents) and LangGraph's own ``Send`` and ``Interrupt``. :func:`encode` turns
them into JSON with a few tagged forms (``{"$lc": …}`` for LangChain's own serialised form,
``{"$send": …}``, ``{"$interrupt": …}``, ``{"$tuple": …}``, ``{"$map": …}`` for a dict
whose keys are not plain strings); :func:`decode` reverses it, loading LangChain objects
only from ``langchain_core``'s own classes. Anything else (a custom class in the state) is
refused with :class:`UnencodableState` naming its type.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from langchain_core.load import dumpd, load
from langchain_core.load.serializable import Serializable
from langchain_core.messages import BaseMessage
from langgraph.types import Interrupt, Send

__all__ = ["UnencodableState", "decode", "encode", "plain"]


class UnencodableState(TypeError):
    """A value in the graph's state has no JSON form here."""


def encode(value: Any, where: str = "state") -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnencodableState(f"{where}: {value!r} is not a JSON number")
        return value
    if isinstance(value, list):
        return [encode(item, where) for item in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode(item, where) for item in value]}
    if isinstance(value, dict):
        if all(isinstance(key, str) and not key.startswith("$") for key in value):
            return {key: encode(item, f"{where}.{key}") for key, item in value.items()}
        return {"$map": [[encode(key, where), encode(item, where)] for key, item in value.items()]}
    if isinstance(value, Send):
        return {"$send": {"node": value.node, "arg": encode(value.arg, f"{where} (Send to {value.node})")}}
    if isinstance(value, Interrupt):
        return {"$interrupt": {"value": encode(value.value, where), "id": value.id}}
    if isinstance(value, Serializable) and value.is_lc_serializable():
        return {"$lc": dumpd(value)}
    raise UnencodableState(
        f"{where}: a {type(value).__module__}.{type(value).__qualname__} has no JSON form; a durable graph's "
        "state may hold JSON values, LangChain messages and documents, Send and Interrupt"
    )


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, body),) = value.items()
        if tag == "$tuple":
            return tuple(decode(item) for item in body)
        if tag == "$map":
            return {decode(key): decode(item) for key, item in body}
        if tag == "$send":
            return Send(body["node"], decode(body["arg"]))
        if tag == "$interrupt":
            return Interrupt(value=decode(body["value"]), id=body["id"])
        if tag == "$lc":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # load() is marked beta
                return load(body, allowed_objects="core")
    return {key: decode(item) for key, item in value.items()}


def plain(value: Any) -> Any:
    """``value`` as readable JSON for events and outputs (a message becomes ``{type,
    content}`` plus its tool calls); anything without a JSON form becomes its ``repr``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, BaseMessage):
        shown: dict[str, Any] = {"type": value.type, "content": plain(value.content)}
        calls = getattr(value, "tool_calls", None)
        if calls:
            shown["tool_calls"] = plain(calls)
        if value.name:
            shown["name"] = value.name
        return shown
    if isinstance(value, Send):
        return {"send": value.node, "arg": plain(value.arg)}
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return plain(model_dump())
    return repr(value)
