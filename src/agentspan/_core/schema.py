"""JSON schemas for tool functions, and binding of model-supplied arguments to them.

The schema tells the LLM what to send; :func:`coerce_arguments` turns what it actually
sent back into the Python values the function declares (a dict becomes the pydantic
model, ``"3"`` becomes ``3``). Both read the same per-function analysis, which is cached.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import enum
import functools
import inspect
import json
import logging
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.errors import PydanticUserError
from pydantic.fields import FieldInfo

from agentspan._core.tool import ToolContext

__all__ = [
    "DocInfo",
    "ParamInfo",
    "coerce_arguments",
    "context_parameter",
    "input_schema_for",
    "output_schema_for",
    "parse_docstring",
    "tool_parameters",
]

log = logging.getLogger(__name__)

SchemaMode = Literal["validation", "serialization"]

_SKIPPED_NAMES = frozenset({"self", "cls", "context"})
_PRIMITIVES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARRAY_ORIGINS = (list, cabc.Sequence, cabc.MutableSequence, cabc.Iterable, cabc.Collection)
_SET_ORIGINS = (set, frozenset, cabc.Set, cabc.MutableSet)
_MAPPING_ORIGINS = (dict, cabc.Mapping, cabc.MutableMapping)
# Constraint keywords worth passing on to the model when pydantic metadata declares them.
_CONSTRAINT_KEYS = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minItems",
        "maxItems",
        "uniqueItems",
        "examples",
    }
)
_REF_PREFIX = "#/$defs/"
# TypedDict key qualifiers that say nothing about the value's type.
_QUALIFIERS = tuple(
    q for q in (getattr(typing, n, None) for n in ("Required", "NotRequired", "ReadOnly")) if q is not None
)
_EMPTY = inspect.Parameter.empty


# --------------------------------------------------------------------------- docstrings


@dataclasses.dataclass(frozen=True)
class DocInfo:
    """A docstring split into the text for the tool and per-parameter descriptions."""

    description: str
    params: dict[str, str]


_GOOGLE_HEADER = re.compile(
    r"^(\s*)(?:Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments):\s*$", re.IGNORECASE
)
_GOOGLE_ENTRY = re.compile(r"^\**(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_REST_FIELD = re.compile(r"^(\s*):(param|parameter|arg|argument|key|keyword|type)\s+([^:]*?)\s*:\s*(.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _take_google_section(lines: list[str], start: int, params: dict[str, str]) -> int:
    """Parse the ``Args:`` block whose header is ``lines[start]``; return the index after it."""
    header_indent = _indent(lines[start])
    entry_indent: int | None = None
    current: str | None = None
    i = start + 1
    while i < len(lines):
        line = lines[i]
        if line.strip() and _indent(line) <= header_indent:
            break
        if line.strip():
            indent = _indent(line)
            entry_indent = indent if entry_indent is None else entry_indent
            match = _GOOGLE_ENTRY.match(line.strip()) if indent == entry_indent else None
            if match:
                current = match.group(1)
                params[current] = match.group(2).strip()
            elif current is not None:
                params[current] = f"{params[current]} {line.strip()}".strip()
        i += 1
    return i


def _take_rest_field(lines: list[str], start: int, params: dict[str, str]) -> int:
    """Parse one ``:param x: text`` field (with continuation lines); return the next index."""
    match = _REST_FIELD.match(lines[start])
    assert match is not None
    field_indent, kind, target, text = match.groups()
    i = start + 1
    while i < len(lines) and lines[i].strip() and _indent(lines[i]) > len(field_indent):
        text = f"{text} {lines[i].strip()}"
        i += 1
    if kind != "type":
        # ``:param int count:`` names the parameter last; the words before it are its type.
        params[target.split()[-1]] = text.strip()
    return i


def parse_docstring(doc: str | None) -> DocInfo:
    """Split a Google-style (``Args:``) or reST (``:param x:``) docstring.

    The returned description is the docstring without its parameter documentation, since
    that text moves into the schema's per-property descriptions.
    """
    if not doc:
        return DocInfo("", {})
    lines = inspect.cleandoc(doc).splitlines()
    params: dict[str, str] = {}
    kept: list[str] = []
    i = 0
    while i < len(lines):
        if _GOOGLE_HEADER.match(lines[i]):
            i = _take_google_section(lines, i, params)
        elif _REST_FIELD.match(lines[i]):
            i = _take_rest_field(lines, i, params)
        else:
            kept.append(lines[i])
            i += 1
    description = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return DocInfo(description, params)


# --------------------------------------------------------------------------- signature analysis


@dataclasses.dataclass(frozen=True)
class ParamInfo:
    """One parameter the LLM supplies."""

    name: str
    annotation: Any
    """The resolved type hint (``typing.Any`` when missing or unresolvable)."""
    default: Any
    """The default value, or ``inspect.Parameter.empty``."""
    description: str | None

    @property
    def required(self) -> bool:
        return self.default is _EMPTY

    @property
    def accepts_none(self) -> bool:
        """``None`` is a valid value (the type is ``Optional``, ``None`` or ``Any``)."""
        return _accepts_none(self.annotation)

    @property
    def optional(self) -> bool:
        """The type says ``None`` explicitly (``X | None``), so leaving it out means ``None``."""
        return _strip_annotated(self.annotation) is not Any and _accepts_none(self.annotation)


@dataclasses.dataclass
class _Analysis:
    params: tuple[ParamInfo, ...]
    return_annotation: Any
    has_return_annotation: bool
    context_param: str | None
    var_keyword: bool
    # Built on first use: most tools never see a malformed argument, and a TypeAdapter is
    # not free. Two threads racing here only build the same adapter twice.
    adapters: dict[str, TypeAdapter[Any] | None] = dataclasses.field(default_factory=dict)


def _label(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__qualname__", None) or repr(func))


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _union_members(tp: Any) -> tuple[Any, ...] | None:
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return typing.get_args(tp)
    return None


def _accepts_none(tp: Any) -> bool:
    tp = _strip_annotated(tp)
    if tp is Any or tp is None or tp is type(None):
        return True
    members = _union_members(tp)
    return members is not None and any(_accepts_none(m) for m in members)


def _is_tool_context(tp: Any) -> bool:
    tp = _strip_annotated(tp)
    members = _union_members(tp)
    if members is not None:
        return any(_is_tool_context(m) for m in members if m is not type(None))
    return tp is ToolContext


def _resolve_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """Type hints with PEP 563 strings evaluated; unresolvable ones become ``Any``."""
    if not (inspect.isroutine(func) or inspect.isclass(func)) and callable(func):
        func = type(func).__call__  # A callable object: its hints are on __call__.
    try:
        return typing.get_type_hints(func, include_extras=True)
    except (NameError, TypeError, AttributeError, SyntaxError):
        pass
    # One bad annotation (e.g. a class local to a function) must not cost the others their
    # types, so resolve them one by one.
    target = inspect.unwrap(func)
    namespace = getattr(target, "__globals__", {})
    hints: dict[str, Any] = {}
    for name, raw in getattr(target, "__annotations__", {}).items():
        probe = types.SimpleNamespace(__annotations__={name: raw})
        try:
            hints[name] = typing.get_type_hints(probe, globalns=namespace, include_extras=True)[name]
        except (NameError, TypeError, AttributeError, SyntaxError):
            log.warning("cannot resolve the annotation %r of %s.%s; treating it as Any", raw, func, name)
            hints[name] = Any
    return hints


@functools.lru_cache(maxsize=1024)
def _analyse(func: Callable[..., Any]) -> _Analysis:
    signature = inspect.signature(func)
    hints = _resolve_hints(func)
    docs = parse_docstring(inspect.getdoc(func)).params
    params: list[ParamInfo] = []
    context_param: str | None = None
    var_keyword = False
    for param in signature.parameters.values():
        annotation = hints.get(param.name, Any)
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if param.name in _SKIPPED_NAMES or _is_tool_context(annotation):
            if param.name == "context" or _is_tool_context(annotation):
                context_param = param.name
            continue
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(
                f"{_label(func)}: parameter {param.name!r} is positional-only; tool arguments "
                "are passed by name, so remove the '/' from the signature"
            )
        params.append(ParamInfo(param.name, annotation, param.default, docs.get(param.name)))
    return _Analysis(
        params=tuple(params),
        return_annotation=hints.get("return", Any),
        has_return_annotation="return" in hints,
        context_param=context_param,
        var_keyword=var_keyword,
    )


def tool_parameters(func: Callable[..., Any]) -> tuple[ParamInfo, ...]:
    """The parameters of ``func`` that the LLM supplies (context and ``self`` excluded)."""
    return _analyse(func).params


def context_parameter(func: Callable[..., Any]) -> str | None:
    """Name of the parameter that receives the ``ToolContext``, if ``func`` takes one.

    That is a parameter named ``context`` or one annotated ``ToolContext``.
    """
    return _analyse(func).context_param


# --------------------------------------------------------------------------- schemas


def _json_type(values: list[Any]) -> str | None:
    """The single JSON type shared by ``values``, if they have one."""
    found: set[str] = set()
    for value in values:
        if value is None:
            found.add("null")
        elif isinstance(value, bool):
            found.add("boolean")
        elif isinstance(value, int):
            found.add("integer")
        elif isinstance(value, float):
            found.add("number")
        elif isinstance(value, str):
            found.add("string")
        else:
            return None
    if found == {"integer", "number"}:
        return "number"
    return found.pop() if len(found) == 1 else None


def _enum_schema(values: list[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    json_type = _json_type(values)
    if json_type is not None:
        schema["type"] = json_type
    schema["enum"] = values
    return schema


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                name = value[len(_REF_PREFIX) :]
                out[key] = _REF_PREFIX + renames.get(name, name)
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


class _SchemaBuilder:
    """Builds the schema of one tool, collecting shared ``$defs`` for its top level."""

    def __init__(self, mode: SchemaMode) -> None:
        self.mode: SchemaMode = mode
        self.defs: dict[str, Any] = {}
        self._open_typed_dicts: list[Any] = []

    def schema(self, tp: Any) -> dict[str, Any]:
        if tp is Any or tp is object or isinstance(tp, typing.TypeVar | str):
            return {}
        if tp is None or tp is type(None):
            return {"type": "null"}
        for primitive, json_type in _PRIMITIVES.items():
            if tp is primitive:  # identity: bool is an int subclass, and tp may be unhashable
                return {"type": json_type}
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            return self._annotated(tp)
        if origin in _QUALIFIERS:
            return self.schema(typing.get_args(tp)[0])
        if origin is Literal:
            values = [v.value if isinstance(v, enum.Enum) else v for v in typing.get_args(tp)]
            return _enum_schema(values)
        if _union_members(tp) is not None:
            return self._union(typing.get_args(tp))
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _enum_schema([member.value for member in tp])
        if isinstance(tp, typing.NewType):
            return self.schema(tp.__supertype__)
        if typing.is_typeddict(tp):
            return self._typed_dict(tp)
        container = self._container(tp, origin)
        return container if container is not None else self._from_pydantic(tp)

    def _container(self, tp: Any, origin: Any) -> dict[str, Any] | None:
        """Schemas of dicts, lists, sets and tuples, bare or parameterised; else ``None``."""
        kind = origin or tp
        args = typing.get_args(tp)
        if kind in _MAPPING_ORIGINS:
            return {"type": "object", "additionalProperties": self.schema(args[1]) if args else {}}
        if kind is tuple:
            return self._tuple(args, bare=origin is None)
        if kind in _SET_ORIGINS or kind in _ARRAY_ORIGINS:
            schema: dict[str, Any] = {"type": "array", "items": self.schema(args[0]) if args else {}}
            if kind in _SET_ORIGINS:
                schema["uniqueItems"] = True
            return schema
        return None

    def _annotated(self, tp: Any) -> dict[str, Any]:
        base, *metadata = typing.get_args(tp)
        schema = dict(self.schema(base))
        description: str | None = None
        rich = [m for m in metadata if not isinstance(m, str)]
        for item in metadata:
            if isinstance(item, str):
                description = item
            elif isinstance(item, FieldInfo) and item.description:
                description = item.description
        if rich:
            # Constraints such as Field(ge=0) or annotated_types.MinLen: let pydantic render
            # them, and keep only the constraint keywords so our own type mapping stands.
            extra = self._pydantic_schema(typing.Annotated[(base, *rich)])
            schema.update({k: v for k, v in (extra or {}).items() if k in _CONSTRAINT_KEYS})
        if description:
            schema["description"] = description
        return schema

    def _union(self, members: tuple[Any, ...]) -> dict[str, Any]:
        # Optional[X] is described as X: the model should send X or leave the argument out.
        non_null = [m for m in members if m is not type(None)]
        if not non_null:
            return {"type": "null"}
        if len(non_null) == 1:
            return self.schema(non_null[0])
        schemas = [self.schema(m) for m in non_null]
        if any(not s for s in schemas):
            return {}  # One branch accepts anything, so the union does too.
        return {"anyOf": schemas}

    def _typed_dict(self, tp: Any) -> dict[str, Any]:
        # Built here rather than by pydantic, which rejects typing.TypedDict before 3.12.
        if tp in self._open_typed_dicts:
            return {"type": "object"}  # A recursive TypedDict: stop at the second level.
        self._open_typed_dicts.append(tp)
        try:
            hints = typing.get_type_hints(tp, include_extras=True)
            properties = {key: self.schema(hint) for key, hint in hints.items()}
        finally:
            self._open_typed_dicts.pop()
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [key for key in hints if key in tp.__required_keys__]
        if required:
            schema["required"] = required
        return schema

    def _tuple(self, args: tuple[Any, ...], *, bare: bool) -> dict[str, Any]:
        if bare:
            return {"type": "array", "items": {}}
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": self.schema(args[0])}
        if args == ((),):  # tuple[()]
            return {"type": "array", "maxItems": 0}
        items = [self.schema(a) for a in args]
        return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}

    def _pydantic_schema(self, tp: Any) -> dict[str, Any] | None:
        try:
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                return tp.model_json_schema(mode=self.mode, ref_template=_REF_PREFIX + "{model}")
            return TypeAdapter(tp).json_schema(mode=self.mode, ref_template=_REF_PREFIX + "{model}")
        except (PydanticUserError, TypeError, ValueError):
            return None

    def _from_pydantic(self, tp: Any) -> dict[str, Any]:
        """Pydantic models, dataclasses, TypedDicts, datetimes and the like."""
        schema = self._pydantic_schema(tp)
        if schema is None:
            return {}  # A type pydantic cannot describe: accept anything.
        defs = schema.pop("$defs", {})
        renames = self._merge_defs(defs)
        result: dict[str, Any] = _rewrite_refs(schema, renames)
        return result

    def _merge_defs(self, incoming: dict[str, Any]) -> dict[str, str]:
        """Hoist ``incoming`` into the top-level ``$defs``; return the renames applied.

        Two different classes may share a name (``Item`` from two modules). The second one
        is stored under a fresh name and references to it are rewritten. A body that differs
        only because a definition it refers to was renamed must be renamed too, hence the loop
        until no new rename appears.
        """
        renames: dict[str, str] = {}
        while True:
            changed = False
            for name, body in incoming.items():
                if name in renames:
                    continue
                existing = self.defs.get(name)
                if existing is not None and existing != _rewrite_refs(body, renames):
                    renames[name] = self._fresh_name(name, renames)
                    changed = True
            if not changed:
                break
        for name, body in incoming.items():
            target = renames.get(name, name)
            self.defs.setdefault(target, _rewrite_refs(body, renames))
        return renames

    def _fresh_name(self, name: str, taken: Mapping[str, str]) -> str:
        used = set(self.defs) | set(taken.values())
        n = 2
        while f"{name}_{n}" in used:
            n += 1
        return f"{name}_{n}"


def input_schema_for(func: Callable[..., Any]) -> dict[str, Any]:
    """The JSON schema (an object) of the arguments ``func`` takes from the LLM."""
    builder = _SchemaBuilder("validation")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in _analyse(func).params:
        prop = dict(builder.schema(param.annotation))
        if param.description and "description" not in prop:
            prop["description"] = param.description
        properties[param.name] = prop
        if param.required:
            required.append(param.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if builder.defs:
        schema["$defs"] = builder.defs
    return schema


def output_schema_for(func: Callable[..., Any]) -> dict[str, Any]:
    """The JSON schema of what ``func`` returns; ``{}`` when it has no return annotation."""
    analysis = _analyse(func)
    if not analysis.has_return_annotation:
        return {}
    builder = _SchemaBuilder("serialization")
    schema = dict(builder.schema(analysis.return_annotation))
    if builder.defs:
        schema["$defs"] = builder.defs
    return schema


# --------------------------------------------------------------------------- argument binding


def _adapter(analysis: _Analysis, param: ParamInfo) -> TypeAdapter[Any] | None:
    if param.name not in analysis.adapters:
        adapter: TypeAdapter[Any] | None = None
        if param.annotation is not Any:
            try:
                adapter = TypeAdapter(param.annotation)
            except (PydanticUserError, TypeError, ValueError):
                adapter = None  # pydantic cannot validate this type; pass values through.
        analysis.adapters[param.name] = adapter
    return analysis.adapters[param.name]


def _format_error(name: str, error: ValidationError, value: Any) -> str:
    details = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        details.append(f"{where}: {item['msg']}" if where else item["msg"])
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return f"parameter {name!r} (got {shown}): {'; '.join(details)}"


def _validate(adapter: TypeAdapter[Any], value: Any) -> Any:
    """Validate ``value``, forgiving the usual ways an LLM mis-encodes an argument."""
    try:
        return adapter.validate_python(value)
    except ValidationError as first:
        # A list or object sent as a JSON string, or a number/object where a string was
        # declared: retry once through JSON before giving up with the original error.
        try:
            if isinstance(value, str):
                return adapter.validate_json(value)
            return adapter.validate_python(json.dumps(value))
        except (ValidationError, TypeError, ValueError):
            raise first from None


def coerce_arguments(func: Callable[..., Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """Bind the LLM's ``args`` to the parameters of ``func``, as keyword arguments.

    Each value is validated and converted to the declared type (dict → pydantic model or
    dataclass, ``"3"`` → ``3``, ``"red"`` → ``Color.RED``); missing arguments take their
    default. Unknown keys are dropped unless ``func`` takes ``**kwargs``. The context
    parameter is not included: the caller injects it.

    Raises:
        ValueError: an argument is invalid or a required one is missing; the message
            names every offending parameter.
    """
    analysis = _analyse(func)
    bound: dict[str, Any] = {}
    problems: list[str] = []
    missing: list[str] = []
    for param in analysis.params:
        if param.name not in args or (args[param.name] is None and not param.accepts_none):
            # A null for a parameter that has a default means "not given".
            if not param.required:
                bound[param.name] = param.default
            elif param.optional:
                bound[param.name] = None
            elif param.name in args:
                problems.append(f"parameter {param.name!r}: null is not allowed")
            else:
                missing.append(param.name)
            continue
        adapter = _adapter(analysis, param)
        if adapter is None:
            bound[param.name] = args[param.name]
            continue
        try:
            bound[param.name] = _validate(adapter, args[param.name])
        except ValidationError as exc:
            problems.append(_format_error(param.name, exc, args[param.name]))
    if missing:
        problems.insert(0, "missing required argument(s): " + ", ".join(repr(m) for m in missing))
    if problems:
        raise ValueError(f"invalid arguments for {_label(func)}: " + "; ".join(problems))
    if analysis.var_keyword:
        # Keys starting with "_" are runtime plumbing (shared state, execution token), not
        # arguments the model chose, so they never reach the user's **kwargs.
        known = {p.name for p in analysis.params} | _SKIPPED_NAMES
        bound.update({k: v for k, v in args.items() if k not in known and not k.startswith("_")})
    return bound
