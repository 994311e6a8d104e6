"""JSON schemas from type hints, docstring descriptions, and argument coercion.

No ``from __future__ import annotations`` here: the classes local to some tests must be
real objects in the annotations. PEP 563 modules are covered by an exec'd source below.
"""

import dataclasses
import enum
from typing import Annotated, Any, List, Literal, NotRequired, Optional, TypedDict  # noqa: UP035

import pytest
from pydantic import BaseModel, Field

from agentspan.agents._schema import (
    coerce_arguments,
    context_parameter,
    input_schema_for,
    output_schema_for,
    parse_docstring,
    tool_parameters,
)
from agentspan.agents._tool import ToolContext

# --------------------------------------------------------------------------- fixtures (types)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Item(BaseModel):
    sku: str
    qty: int = 1


class Order(BaseModel):
    items: list[Item]
    note: str = ""


class Node(BaseModel):
    value: int
    children: list["Node"] = []  # noqa: UP037 - a self-reference needs the quotes


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Address(TypedDict):
    street: str
    zip_code: NotRequired[str]


class First:
    class Item(BaseModel):
        sku: str


class Second:
    class Item(BaseModel):
        code: int


class HoldsFirst(BaseModel):
    item: First.Item


class HoldsSecond(BaseModel):
    item: Second.Item


def props(func: Any) -> dict[str, Any]:
    properties: dict[str, Any] = input_schema_for(func)["properties"]
    return properties


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs_in(value)]
    if isinstance(node, list):
        return [r for item in node for r in refs_in(item)]
    return []


def assert_refs_resolve(schema: dict[str, Any]) -> None:
    """Every ``$ref`` must point at a definition in the schema's own top-level ``$defs``."""
    defs = schema.get("$defs", {})
    for ref in refs_in(schema):
        assert ref.startswith("#/$defs/"), ref
        assert ref.removeprefix("#/$defs/") in defs, f"dangling {ref}"


# --------------------------------------------------------------------------- type rules


def test_primitives_and_required_follow_defaults() -> None:
    def f(s: str, i: int, x: float, b: bool, n: None, opt: str = "d") -> None: ...

    schema = input_schema_for(f)
    assert schema == {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "x": {"type": "number"},
            "b": {"type": "boolean"},
            "n": {"type": "null"},
            "opt": {"type": "string"},
        },
        "required": ["s", "i", "x", "b", "n"],
    }


def test_no_parameters_has_no_required_key() -> None:
    def f() -> None: ...

    assert input_schema_for(f) == {"type": "object", "properties": {}}


def test_containers() -> None:
    def f(
        a: list[int],
        b: List[str],  # noqa: UP006 - the typing alias must work too
        c: set[str],
        d: tuple[int, ...],
        e: tuple[int, str],
        g: dict[str, float],
        h: list,  # type: ignore[type-arg]
        k: dict,  # type: ignore[type-arg]
        m: list[list[bool]],
    ) -> None: ...

    p = props(f)
    assert p["a"] == {"type": "array", "items": {"type": "integer"}}
    assert p["b"] == {"type": "array", "items": {"type": "string"}}
    assert p["c"] == {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    assert p["d"] == {"type": "array", "items": {"type": "integer"}}
    assert p["e"] == {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
    }
    assert p["g"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert p["h"] == {"type": "array", "items": {}}
    assert p["k"] == {"type": "object", "additionalProperties": {}}
    assert p["m"] == {"type": "array", "items": {"type": "array", "items": {"type": "boolean"}}}


def test_optional_is_schema_of_inner_type_and_optional_only_with_default() -> None:
    def f(a: Optional[int] = None, b: str | None = None) -> None: ...  # noqa: UP045

    def g(c: int | None) -> None: ...

    assert input_schema_for(f) == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
    }
    # Without a default the parameter is still required, even though None is allowed.
    assert input_schema_for(g)["required"] == ["c"]


def test_other_unions_become_any_of() -> None:
    def f(a: int | str, b: int | list[str] | None = None, c: int | Any = 0) -> None: ...

    p = props(f)
    assert p["a"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert p["b"] == {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "string"}}]}
    assert p["c"] == {}  # One branch accepts anything.


def test_literal_becomes_typed_enum() -> None:
    def f(mode: Literal["fast", "slow"], level: Literal[1, 2, 3], mixed: Literal["a", 1]) -> None: ...

    p = props(f)
    assert p["mode"] == {"type": "string", "enum": ["fast", "slow"]}
    assert p["level"] == {"type": "integer", "enum": [1, 2, 3]}
    assert p["mixed"] == {"enum": ["a", 1]}


def test_enum_classes_become_enum_of_values() -> None:
    def f(color: Color, priority: Priority) -> None: ...

    p = props(f)
    assert p["color"] == {"type": "string", "enum": ["red", "blue"]}
    assert p["priority"] == {"type": "integer", "enum": [1, 2]}


def test_pydantic_model_is_inlined_with_defs_hoisted_to_the_top() -> None:
    def f(order: Order) -> None: ...

    schema = input_schema_for(f)
    order = schema["properties"]["order"]
    assert order["type"] == "object"
    assert order["required"] == ["items"]
    assert order["properties"]["items"]["items"] == {"$ref": "#/$defs/Item"}
    assert "$defs" not in order
    assert schema["$defs"]["Item"]["properties"]["sku"]["type"] == "string"
    assert schema["required"] == ["order"]
    assert_refs_resolve(schema)


def test_recursive_model_schema_resolves() -> None:
    def f(tree: Node) -> None: ...

    schema = input_schema_for(f)
    assert_refs_resolve(schema)
    assert "Node" in schema["$defs"]
    assert schema["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}


def test_same_model_used_twice_shares_one_definition() -> None:
    def f(a: Order, b: Order) -> None: ...

    schema = input_schema_for(f)
    assert list(schema["$defs"]) == ["Item"]
    assert_refs_resolve(schema)


def test_two_different_models_with_one_name_are_both_kept() -> None:
    def f(first: HoldsFirst, second: HoldsSecond) -> None: ...

    schema = input_schema_for(f)
    assert_refs_resolve(schema)
    defs = schema["$defs"]
    assert set(defs) == {"Item", "Item_2"}
    first_ref = schema["properties"]["first"]["properties"]["item"]["$ref"]
    second_ref = schema["properties"]["second"]["properties"]["item"]["$ref"]
    assert defs[first_ref.removeprefix("#/$defs/")]["required"] == ["sku"]
    assert defs[second_ref.removeprefix("#/$defs/")]["required"] == ["code"]


def test_dataclass_and_typed_dict_become_object_schemas() -> None:
    def f(point: Point, address: Address) -> None: ...

    p = props(f)
    assert p["point"]["type"] == "object"
    assert p["point"]["required"] == ["x", "y"]
    assert p["point"]["properties"]["x"]["type"] == "number"
    assert p["address"] == {
        "type": "object",
        "properties": {"street": {"type": "string"}, "zip_code": {"type": "string"}},
        "required": ["street"],
    }


def test_any_and_missing_annotations_accept_anything() -> None:
    def f(a: Any, b, c: object) -> None: ...  # type: ignore[no-untyped-def]

    assert props(f) == {"a": {}, "b": {}, "c": {}}


def test_annotated_descriptions_and_constraints() -> None:
    def f(
        city: Annotated[str, "The city name"],
        days: Annotated[int, Field(description="How many days", ge=1, le=14)] = 3,
    ) -> None: ...

    p = props(f)
    assert p["city"] == {"type": "string", "description": "The city name"}
    assert p["days"] == {"type": "integer", "description": "How many days", "minimum": 1, "maximum": 14}


def test_skipped_parameters_are_not_in_the_schema() -> None:
    class Holder:
        def method(self, q: str) -> None: ...

        @classmethod
        def build(cls, q: str) -> None: ...

    def f(q: str, context: Any = None) -> None: ...

    def g(q: str, ctx: ToolContext | None = None, *args: int, **kwargs: int) -> None: ...

    assert list(props(Holder.method)) == ["q"]
    assert list(props(Holder.build)) == ["q"]
    assert list(props(f)) == ["q"]
    assert list(props(g)) == ["q"]
    assert context_parameter(f) == "context"
    assert context_parameter(g) == "ctx"
    assert context_parameter(Holder.method) is None


def test_positional_only_parameters_are_rejected() -> None:
    def f(a: int, /) -> None: ...

    with pytest.raises(TypeError, match="positional-only"):
        input_schema_for(f)


PEP563_SOURCE = """
from __future__ import annotations
from pydantic import BaseModel

class Pet(BaseModel):
    name: str

def adopt(pet: Pet, count: int, tags: list[str] | None = None) -> list[Pet]:
    return [pet] * count

def broken(a: int, b: NoSuchType) -> None:
    pass
"""


def test_pep563_string_annotations_are_resolved() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(PEP563_SOURCE, "<pep563>", "exec"), namespace)
    schema = input_schema_for(namespace["adopt"])
    assert schema["properties"]["pet"]["properties"]["name"] == {"title": "Name", "type": "string"}
    assert schema["properties"]["count"] == {"type": "integer"}
    assert schema["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert output_schema_for(namespace["adopt"])["items"]["properties"]["name"]["type"] == "string"
    # One unresolvable name does not cost the other parameters their types.
    assert props(namespace["broken"]) == {"a": {"type": "integer"}, "b": {}}


# --------------------------------------------------------------------------- output schemas


def test_output_schema() -> None:
    def none() -> None: ...

    def untyped():  # type: ignore[no-untyped-def]
        return 1

    def mapping() -> dict:  # type: ignore[type-arg]
        return {}

    def orders() -> list[Order]:
        return []

    assert output_schema_for(untyped) == {}
    assert output_schema_for(none) == {"type": "null"}
    assert output_schema_for(mapping) == {"type": "object", "additionalProperties": {}}
    schema = output_schema_for(orders)
    assert schema["type"] == "array"
    assert schema["items"]["properties"]["items"]["items"] == {"$ref": "#/$defs/Item"}
    assert_refs_resolve(schema)


# --------------------------------------------------------------------------- docstrings


def test_google_docstring_descriptions() -> None:
    def f(city: str, days: int = 3) -> str:
        """Get the weather forecast.

        Uses the public API.

        Args:
            city (str): The city to look up,
                for example "Paris".
            days: Number of days.

        Returns:
            The forecast text.
        """
        return ""

    p = props(f)
    assert p["city"]["description"] == 'The city to look up, for example "Paris".'
    assert p["days"]["description"] == "Number of days."
    doc = parse_docstring(f.__doc__)
    assert (
        doc.description
        == "Get the weather forecast.\n\nUses the public API.\n\nReturns:\n    The forecast text."
    )


def test_rest_docstring_descriptions() -> None:
    def f(city: str, days: int = 3) -> str:
        """Get the weather forecast.

        :param city: The city to look up,
            for example "Paris".
        :param int days: Number of days.
        :type city: str
        :returns: The forecast text.
        """
        return ""

    p = props(f)
    assert p["city"]["description"] == 'The city to look up, for example "Paris".'
    assert p["days"]["description"] == "Number of days."
    assert (
        parse_docstring(f.__doc__).description == "Get the weather forecast.\n\n:returns: The forecast text."
    )


def test_annotated_description_wins_over_docstring() -> None:
    def f(city: Annotated[str, "From Annotated"]) -> None:
        """Do it.

        Args:
            city: From the docstring.
        """

    assert props(f)["city"]["description"] == "From Annotated"


def test_empty_docstring() -> None:
    assert parse_docstring(None).description == ""
    assert parse_docstring("").params == {}


# --------------------------------------------------------------------------- coercion


def test_coerce_converts_to_declared_types() -> None:
    def f(order: Order, count: int, color: Color, point: Point, flag: bool = False) -> None: ...

    bound = coerce_arguments(
        f,
        {
            "order": {"items": [{"sku": "a", "qty": "2"}]},
            "count": "3",
            "color": "red",
            "point": {"x": 1, "y": "2.5"},
            "flag": "true",
        },
    )
    assert bound["order"] == Order(items=[Item(sku="a", qty=2)])
    assert isinstance(bound["order"], Order)
    assert bound["count"] == 3
    assert bound["color"] is Color.RED
    assert bound["point"] == Point(1.0, 2.5)
    assert bound["flag"] is True


def test_coerce_fills_defaults_and_optional_none() -> None:
    def f(a: int, b: int = 7, c: str | None = None, e: str = "x") -> None: ...

    def g(a: int, d: int | None) -> None: ...

    assert coerce_arguments(f, {"a": 1}) == {"a": 1, "b": 7, "c": None, "e": "x"}
    # A null for a non-nullable parameter that has a default means "use the default".
    assert coerce_arguments(f, {"a": 1, "e": None})["e"] == "x"
    # A missing nullable parameter without a default is bound to None...
    assert coerce_arguments(g, {"a": 1}) == {"a": 1, "d": None}

    # ...but an unannotated one is simply missing.
    def h(a, b: Any) -> None: ...  # type: ignore[no-untyped-def]

    with pytest.raises(ValueError, match="missing required argument\\(s\\): 'a', 'b'"):
        coerce_arguments(h, {})


def test_coerce_missing_and_invalid_arguments_name_the_parameters() -> None:
    def f(city: str, days: int, mode: Literal["a", "b"] = "a") -> None: ...

    with pytest.raises(ValueError, match="missing required argument\\(s\\): 'city', 'days'"):
        coerce_arguments(f, {})
    with pytest.raises(ValueError) as info:
        coerce_arguments(f, {"city": "Paris", "days": "many", "mode": "c"})
    message = str(info.value)
    assert "parameter 'days'" in message
    assert "parameter 'mode'" in message
    assert "'many'" in message
    with pytest.raises(ValueError, match="parameter 'days': null is not allowed"):
        coerce_arguments(f, {"city": "Paris", "days": None})


def test_coerce_nested_model_error_shows_the_path() -> None:
    def f(order: Order) -> None: ...

    with pytest.raises(ValueError, match=r"parameter 'order'.*items\.0\.sku: Field required"):
        coerce_arguments(f, {"order": {"items": [{"qty": 1}]}})


def test_coerce_forgives_json_encoding_mistakes() -> None:
    def f(tags: list[str], order: Order, label: str, raw: str = "") -> None: ...

    bound = coerce_arguments(
        f,
        {"tags": '["a", "b"]', "order": '{"items": []}', "label": 42, "raw": {"k": 1}},
    )
    assert bound["tags"] == ["a", "b"]
    assert bound["order"] == Order(items=[])
    assert bound["label"] == "42"
    assert bound["raw"] == '{"k": 1}'


def test_coerce_drops_unknown_keys_and_context() -> None:
    def f(q: str, context: ToolContext | None = None) -> None: ...

    assert coerce_arguments(f, {"q": "x", "hallucinated": 1, "context": {}, "_agent_state": {}}) == {"q": "x"}


def test_coerce_passes_extras_to_var_keyword() -> None:
    def f(q: str, **kwargs: Any) -> None: ...

    bound = coerce_arguments(f, {"q": "x", "extra": 1, "_agent_state": {}, "__agentspan_ctx__": "t"})
    assert bound == {"q": "x", "extra": 1}


def test_coerce_passes_through_types_pydantic_cannot_validate() -> None:
    class Opaque:
        pass

    def f(thing: Opaque, anything: Any, untyped) -> None: ...  # type: ignore[no-untyped-def]

    marker = object()
    assert coerce_arguments(f, {"thing": marker, "anything": marker, "untyped": marker}) == {
        "thing": marker,
        "anything": marker,
        "untyped": marker,
    }


def test_analysis_is_cached_per_function() -> None:
    def f(a: int) -> None: ...

    assert tool_parameters(f) is tool_parameters(f)
    assert tool_parameters(f)[0].name == "a"
    assert tool_parameters(f)[0].required
