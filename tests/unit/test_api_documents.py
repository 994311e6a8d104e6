"""API descriptions → operations: the edge cases the served documents do not show."""

from __future__ import annotations

from typing import Any

import pytest

from agentspan.server.service.api_documents import MAX_OPERATIONS, DocumentError, document_format, operations


def openapi(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}


def test_formats_are_recognised_and_anything_else_is_refused() -> None:
    assert document_format(openapi({})) == "openapi3"
    assert document_format({"swagger": "2.0", "paths": {}}) == "swagger2"
    collection = {"info": {"_postman_id": "x"}, "item": []}
    assert document_format(collection) == "postman"
    assert document_format({"openapi": "2.0"}) is None and document_format([]) is None
    with pytest.raises(DocumentError, match="not an OpenAPI 3, Swagger 2 or Postman"):
        operations({"hello": "world"}, "https://api.test/")
    with pytest.raises(DocumentError, match="no 'paths'"):
        operations({"openapi": "3.0.0"}, "https://api.test/")


def test_server_urls_resolve_against_the_document_and_fill_in_variable_defaults() -> None:
    doc = openapi(
        {"/a": {"get": {"operationId": "a"}}},
        servers=[
            {
                "url": "https://{region}.api.test/{version}",
                "variables": {"region": {"default": "eu"}, "version": {"default": "v2"}},
            }
        ],
    )
    assert operations(doc, "https://docs.test/spec.json")[0].url == "https://eu.api.test/v2/a"
    relative = openapi({"/a": {"get": {}}}, servers=[{"url": "/api"}])
    assert operations(relative, "https://docs.test/x/spec.json")[0].url == "https://docs.test/api/a"
    none = openapi({"/a": {"get": {}}})
    assert operations(none, "https://docs.test/x/spec.json")[0].url == "https://docs.test/a"


def test_names_are_made_valid_and_unique_in_document_order() -> None:
    doc = openapi(
        {
            "/users/{id}": {"get": {}, "delete": {"operationId": "remove user!"}},
            "/u": {"get": {"operationId": "remove user?"}},
        }
    )
    names = [op.name for op in operations(doc, "https://api.test/")]
    assert names == ["get_users_id", "remove_user", "remove_user_2"]


def test_recursive_and_huge_refs_are_cut_off_not_followed_forever() -> None:
    node = {"type": "object", "properties": {"self": {"$ref": "#/components/schemas/Node"}}}
    doc = openapi(
        {
            "/n": {
                "post": {
                    "requestBody": {
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}
                    }
                }
            }
        },
        components={"schemas": {"Node": node}},
    )
    [op] = operations(doc, "https://api.test/")
    depth, schema = 0, op.input_schema["properties"]["self"]
    while schema.get("properties"):
        schema, depth = schema["properties"]["self"], depth + 1
    assert 3 < depth < 20  # bounded, and the leaf is an open schema
    with pytest.raises(DocumentError, match="unresolvable"):
        operations(
            openapi({"/x": {"get": {"parameters": [{"$ref": "#/components/parameters/Nope"}]}}}),
            "https://a.test/",
        )


def test_a_non_object_body_is_one_body_argument_and_cookies_are_not_arguments() -> None:
    doc = openapi(
        {
            "/bulk": {
                "post": {
                    "operationId": "bulk",
                    "parameters": [
                        {"name": "session", "in": "cookie"},
                        {"name": "X-Id", "in": "header", "required": True},
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"type": "array", "items": {"type": "integer"}}}
                        },
                    },
                }
            }
        }
    )
    [op] = operations(doc, "https://api.test/")
    assert op.body_param == "body" and op.header_params == ["X-Id"]
    assert op.input_schema["required"] == ["X-Id", "body"]
    assert set(op.input_schema["properties"]) == {"X-Id", "body"}


def test_the_number_of_operations_read_is_bounded() -> None:
    paths: dict[str, Any] = {f"/p{i}": {"get": {}} for i in range(MAX_OPERATIONS + 10)}
    assert len(operations(openapi(paths), "https://api.test/")) == MAX_OPERATIONS
