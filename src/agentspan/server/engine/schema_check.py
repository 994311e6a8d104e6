"""A small, pure JSON Schema checker for structured output.

It covers what model JSON schemas use in practice (pydantic's output): ``type`` (incl.
lists of types), ``properties``/``required``/``additionalProperties: false``, ``items``,
``enum``/``const``, ``anyOf``/``oneOf``/``allOf``, local ``$ref`` into ``$defs``, string
length, numeric bounds, array length. Unknown keywords are ignored (accepted), so the
checker never rejects an answer for a rule it does not understand.
"""

from __future__ import annotations

import json
from typing import Any

_MAX_ERRORS = 10


def check(value: Any, schema: dict[str, Any]) -> list[str]:
    """Return the problems with ``value`` against ``schema`` (empty = valid)."""
    errors: list[str] = []
    _check(value, schema, schema, "$", errors)
    return errors[:_MAX_ERRORS]


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 32:
        ref = str(schema["$ref"])
        if not ref.startswith("#/"):
            return {}
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema = node if isinstance(node, dict) else {}
        seen += 1
    return schema


def _type_ok(value: Any, expected: str) -> bool:
    match expected:
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
        case "string":
            return isinstance(value, str)
        case "integer":
            return (
                isinstance(value, int)
                and not isinstance(value, bool)
                or (isinstance(value, float) and value.is_integer())
            )
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "boolean":
            return isinstance(value, bool)
        case "null":
            return value is None
    return True


def _check(value: Any, schema: Any, root: dict[str, Any], path: str, errors: list[str]) -> None:
    if not isinstance(schema, dict) or len(errors) >= _MAX_ERRORS:
        return
    schema = _resolve(schema, root)
    if not _check_combinators(value, schema, root, path, errors):
        return
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_type_ok(value, str(t)) for t in names):
            errors.append(f"{path}: expected {' or '.join(map(str, names))}, got {_kind(value)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}")
    if isinstance(value, dict):
        _check_object(value, schema, root, path, errors)
    elif isinstance(value, list):
        _check_array(value, schema, root, path, errors)
    elif isinstance(value, str):
        _check_bounds(len(value), schema, "minLength", "maxLength", path, "characters", errors)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(value, schema, path, errors)


def _check_combinators(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: str, errors: list[str]
) -> bool:
    for keyword in ("anyOf", "oneOf"):
        options = schema.get(keyword)
        if (
            isinstance(options, list)
            and options
            and not any(not check_sub(value, option, root) for option in options)
        ):
            errors.append(f"{path}: matches none of the allowed shapes")
            return False
    for option in schema.get("allOf", []) if isinstance(schema.get("allOf"), list) else []:
        _check(value, option, root, path, errors)
    return True


def check_sub(value: Any, schema: Any, root: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    _check(value, schema, root, "$", errors)
    return errors


def _check_object(
    value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str, errors: list[str]
) -> None:
    properties = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if name not in value:
            errors.append(f"{path}: missing required field {name!r}")
    for name, item in value.items():
        if name in properties:
            _check(item, properties[name], root, f"{path}.{name}", errors)
        elif schema.get("additionalProperties") is False:
            errors.append(f"{path}: unexpected field {name!r}")
        elif isinstance(schema.get("additionalProperties"), dict):
            _check(item, schema["additionalProperties"], root, f"{path}.{name}", errors)


def _check_array(
    value: list[Any], schema: dict[str, Any], root: dict[str, Any], path: str, errors: list[str]
) -> None:
    _check_bounds(len(value), schema, "minItems", "maxItems", path, "items", errors)
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            _check(item, items, root, f"{path}[{index}]", errors)


def _check_bounds(
    size: int, schema: dict[str, Any], low: str, high: str, path: str, unit: str, errors: list[str]
) -> None:
    if isinstance(schema.get(low), int) and size < schema[low]:
        errors.append(f"{path}: needs at least {schema[low]} {unit}")
    if isinstance(schema.get(high), int) and size > schema[high]:
        errors.append(f"{path}: allows at most {schema[high]} {unit}")


def _check_number(value: float, schema: dict[str, Any], path: str, errors: list[str]) -> None:
    if isinstance(schema.get("minimum"), int | float) and value < schema["minimum"]:
        errors.append(f"{path}: must be >= {schema['minimum']}")
    if isinstance(schema.get("maximum"), int | float) and value > schema["maximum"]:
        errors.append(f"{path}: must be <= {schema['maximum']}")
    if isinstance(schema.get("exclusiveMinimum"), int | float) and value <= schema["exclusiveMinimum"]:
        errors.append(f"{path}: must be > {schema['exclusiveMinimum']}")
    if isinstance(schema.get("exclusiveMaximum"), int | float) and value >= schema["exclusiveMaximum"]:
        errors.append(f"{path}: must be < {schema['exclusiveMaximum']}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "integer", float: "number"}.get(
        type(value), type(value).__name__
    )


def parse_json_answer(text: str) -> tuple[Any, str | None]:
    """Parse a model's JSON answer, tolerating a Markdown code fence around it."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0].strip()
    try:
        return json.loads(stripped), None
    except json.JSONDecodeError as exc:
        return None, f"the answer is not valid JSON ({exc.msg} at position {exc.pos})"
