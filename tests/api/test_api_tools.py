"""``api_tool``: an OpenAPI 3 document, a Swagger 2 document and a Postman collection,
served by a real local service, become one tool per operation at start; the model's
calls reach the service with each argument where the description puts it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentRuntime, api_tool
from agentspan.agents._config import AgentConfig
from agentspan.server.executors.base import NoSecrets
from agentspan.server.settings import HttpToolSettings, Settings

from fakes.openai_server import FakeOpenAI
from support.http_target import DictSecrets, HttpTarget, Seen, tool_messages
from support.servers import ThreadServer

PET = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "tag": {"type": "string"},
        "owner": {"$ref": "#/components/schemas/Owner"},
    },
}


def openapi3() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Pets", "version": "1"},
        "servers": [{"url": "/v1"}],  # relative: resolved against the document's URL
        "paths": {
            "/pets/{petId}": {
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": {
                    "operationId": "getPetById",
                    "summary": "Find a pet by id",
                    "parameters": [
                        {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                    ],
                },
                "delete": {"operationId": "deletePet", "summary": "Delete a pet"},
            },
            "/pets": {
                "post": {
                    "operationId": "createPet",
                    "description": "Add a pet",
                    "parameters": [{"name": "dryRun", "in": "query", "schema": {"type": "boolean"}}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Pet": PET,
                "Owner": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "pets": {"$ref": "#/components/schemas/Pet"}},
                },
            }
        },
    }


def swagger2(port: int) -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": "Store", "version": "1"},
        "host": f"127.0.0.1:{port}",
        "basePath": "/store/v2",
        "schemes": ["http"],
        "paths": {
            "/orders/{orderId}": {
                "put": {
                    "operationId": "updateOrder",
                    "summary": "Update an order",
                    "parameters": [
                        {"name": "orderId", "in": "path", "required": True, "type": "integer"},
                        {"name": "notify", "in": "query", "type": "boolean"},
                        {
                            "name": "order",
                            "in": "body",
                            "required": True,
                            "schema": {"$ref": "#/definitions/Order"},
                        },
                    ],
                }
            }
        },
        "definitions": {
            "Order": {
                "type": "object",
                "required": ["qty"],
                "properties": {"qty": {"type": "integer"}, "note": {"type": "string"}},
            }
        },
    }


def postman(base: str) -> dict[str, Any]:
    return {
        "info": {
            "_postman_id": "6f1c",
            "name": "Users",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "variable": [{"key": "baseUrl", "value": base}],
        "item": [
            {
                "name": "users",
                "item": [
                    {
                        "name": "Get user",
                        "request": {
                            "method": "GET",
                            "url": {
                                "raw": "{{baseUrl}}/users/:id?expand=true",
                                "query": [
                                    {"key": "expand", "value": "true", "description": "Include details"}
                                ],
                            },
                        },
                    },
                    {
                        "name": "Create user",
                        "request": {
                            "method": "POST",
                            "header": [{"key": "X-Source", "value": "postman"}],
                            "url": "{{baseUrl}}/users",
                            "body": {"mode": "raw", "raw": json.dumps({"name": "Ann", "age": 30})},
                        },
                    },
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as service:
        service.json_route("GET", "/openapi.json", openapi3())
        service.json_route("GET", "/petstore2/swagger.json", swagger2(service.port))
        service.json_route("GET", "/collections/users.json", postman(service.url + "/pm"))
        yield service


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[ThreadServer]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("api-tools"), http_tools=HttpToolSettings(timeout_seconds=5.0)
    )
    server = ThreadServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rt(api_server: ThreadServer, fake_openai: FakeOpenAI) -> Iterator[AgentRuntime]:
    fake_openai.reset()
    api_server.services.pool.ctx.secrets = NoSecrets()
    with AgentRuntime(config=AgentConfig(server_url=api_server.api_url, auto_start_server=False)) as runtime:
        yield runtime


def offered(fake: FakeOpenAI) -> dict[str, dict[str, Any]]:
    return {t["function"]["name"]: t["function"] for t in fake.requests[0]["tools"]}


def stored_tools(server: ThreadServer, agent_name: str) -> list[dict[str, Any]]:
    with sqlite3.connect(Path(server.settings.data_dir) / "agentspan.db") as db:
        rows = db.execute("SELECT spec FROM specs").fetchall()
    specs = [json.loads(r[0]) for r in rows]
    [spec] = [s for s in specs if s["name"] == agent_name]
    tools: list[dict[str, Any]] = spec["tools"]
    return tools


def test_an_openapi3_document_becomes_one_tool_per_operation_and_calls_reach_the_service(
    rt: AgentRuntime, api_server: ThreadServer, target: HttpTarget, fake_openai: FakeOpenAI
) -> None:
    api_server.services.pool.ctx.secrets = secrets = DictSecrets({"PET_TOKEN": "pet-secret"})
    target.route("POST", "/v1/pets", lambda seen: (201, {"id": "7", **seen.json()}))
    target.route("GET", "/v1/pets/{petId}", lambda seen: (200, {"id": seen.params["petId"], "name": "Rex"}))
    pets = api_tool(
        target.url + "/openapi.json",
        headers={"Authorization": "Bearer ${PET_TOKEN}"},
        credentials=["PET_TOKEN"],
    )
    fake_openai.script(
        FakeOpenAI.tool_calls([("createPet", {"name": "Rex", "tag": "dog", "dryRun": False})]),
        FakeOpenAI.tool_calls([("getPetById", {"petId": "7", "verbose": True, "X-Trace": "t-1"})]),
        FakeOpenAI.text("Rex is pet 7"),
    )
    result = rt.run(Agent(name="petkeeper", model="openai/gpt-4o", tools=[pets]), "Add Rex, then fetch him")

    assert result.status == "COMPLETED" and result.output == "Rex is pet 7"
    tools = offered(fake_openai)
    assert list(tools) == ["getPetById", "deletePet", "createPet"]  # document order
    assert tools["getPetById"]["description"] == "Find a pet by id"
    assert tools["getPetById"]["parameters"] == {
        "type": "object",
        "properties": {
            "petId": {"type": "string"},
            "verbose": {"type": "boolean"},
            "X-Trace": {"type": "string"},
        },
        "required": ["petId"],
    }
    create = tools["createPet"]["parameters"]
    assert set(create["properties"]) == {"dryRun", "name", "tag", "owner"} and create["required"] == ["name"]
    assert create["properties"]["owner"]["properties"]["pets"]["properties"]["name"] == {"type": "string"}

    [created] = target.requests_to("/v1/pets")
    assert created.method == "POST" and created.json() == {"name": "Rex", "tag": "dog"}
    assert created.query == {"dryRun": ["false"]}  # a query parameter stays in the query for a POST
    assert created.headers["authorization"] == "Bearer pet-secret"
    [fetched] = target.requests_to("/v1/pets/7")
    assert fetched.query == {"verbose": ["true"]} and fetched.headers["x-trace"] == "t-1"
    assert fetched.headers["authorization"] == "Bearer pet-secret"
    assert json.loads(tool_messages(fake_openai)[1]) == {"status": 200, "body": {"id": "7", "name": "Rex"}}
    # The document was read with the credential too, once, at start; the stored spec holds
    # the expanded tools (with the placeholder), so nothing is discovered again later.
    docs = target.requests_to("/openapi.json")
    assert len(docs) == 1 and docs[0].headers["authorization"] == "Bearer pet-secret"
    assert secrets.asked[0] == (["PET_TOKEN"], "")
    stored = stored_tools(api_server, "petkeeper")
    assert [t["toolType"] for t in stored] == ["http"] * 3
    assert stored[0]["config"]["url"] == target.url + "/v1/pets/{petId}"
    assert stored[0]["config"]["headers"] == {"Authorization": "Bearer ${PET_TOKEN}"}


def test_a_base_url_serving_swagger2_at_a_well_known_path_is_found(
    rt: AgentRuntime, target: HttpTarget, fake_openai: FakeOpenAI
) -> None:
    target.route(
        "PUT",
        "/store/v2/orders/{orderId}",
        lambda seen: (200, {"updated": seen.params["orderId"], **seen.json()}),
    )
    store = api_tool(target.url + "/petstore2")  # 404 there: /petstore2/swagger.json is tried
    fake_openai.script(
        FakeOpenAI.tool_calls([("updateOrder", {"orderId": 12, "notify": True, "qty": 3})]),
        FakeOpenAI.text("updated"),
    )
    result = rt.run(Agent(name="clerk", model="openai/gpt-4o", tools=[store]), "update order 12")

    assert result.output == "updated"
    params = offered(fake_openai)["updateOrder"]["parameters"]
    # An object body's properties are arguments of their own, next to path and query ones.
    assert params["required"] == ["orderId", "qty"]
    assert set(params["properties"]) == {"orderId", "notify", "qty", "note"}
    [seen] = target.requests_to("/store/v2/orders/12")
    assert seen.method == "PUT" and seen.query == {"notify": ["true"]} and seen.json() == {"qty": 3}
    assert json.loads(tool_messages(fake_openai)[0])["body"] == {"updated": "12", "qty": 3}


def test_a_postman_collection_honours_tool_names(
    rt: AgentRuntime, target: HttpTarget, fake_openai: FakeOpenAI
) -> None:
    def create(seen: Seen) -> tuple[int, Any]:
        return 201, {"created": seen.json(), "source": seen.headers.get("x-source")}

    target.route("POST", "/pm/users", create)
    users = api_tool(target.url + "/collections/users.json", tool_names=["Create_user"])
    fake_openai.script(
        FakeOpenAI.tool_calls([("Create_user", {"name": "Bo", "age": 41})]), FakeOpenAI.text("created Bo")
    )
    result = rt.run(Agent(name="admin", model="openai/gpt-4o", tools=[users]), "create Bo")

    assert result.output == "created Bo"
    tools = offered(fake_openai)
    assert list(tools) == ["Create_user"]
    assert tools["Create_user"]["parameters"]["properties"] == {
        "name": {"type": "string"},
        "age": {"type": "integer"},
    }
    [seen] = target.requests_to("/pm/users")
    assert seen.json() == {"name": "Bo", "age": 41} and seen.headers["x-source"] == "postman"
    assert json.loads(tool_messages(fake_openai)[0])["body"]["created"] == {"name": "Bo", "age": 41}


def test_max_tools_keeps_the_first_operations_in_document_order(
    rt: AgentRuntime, target: HttpTarget, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(FakeOpenAI.text("nothing to do"))
    users = api_tool(target.url + "/collections/users.json", max_tools=1)
    pets = api_tool(target.url + "/openapi.json", max_tools=2)  # two default names: both expand
    rt.run(Agent(name="capped", model="openai/gpt-4o", tools=[users, pets]), "hi")
    assert list(offered(fake_openai)) == ["Get_user", "getPetById", "deletePet"]
    get_user = offered(fake_openai)["Get_user"]["parameters"]
    assert (
        get_user["required"] == ["id"]
        and get_user["properties"]["expand"]["description"] == "Include details"
    )


def start_problem(server: ThreadServer, tools: list[dict[str, Any]]) -> dict[str, Any]:
    agent = {"name": "discoverer", "model": "openai/gpt-4o", "tools": tools}
    response = httpx.post(
        f"{server.api_url}/agent/start", json={"agentConfig": agent, "prompt": "x"}, timeout=30
    )
    assert response.status_code == 400, response.text
    problem: dict[str, Any] = response.json()
    return problem


def test_discovery_errors_are_a_400_naming_the_url(api_server: ThreadServer, target: HttpTarget) -> None:
    def api(url: str, **config: Any) -> dict[str, Any]:
        return {"name": "api_tools", "toolType": "api", "config": {"url": url, **config}}

    with HttpTarget() as empty:
        empty.route("GET", "/index", lambda seen: (200, "<html>docs</html>", "text/html"))
        nothing = empty.url + "/nothing/here"
        problem = start_problem(api_server, [api(nothing)])
        assert problem["code"] == "tool_discovery_failed"
        assert nothing in problem["detail"] and "/nothing/here/openapi.json" in problem["detail"]
        assert f"{empty.url}/swagger.json" in problem["detail"]  # the origin's root was tried too
        html = start_problem(api_server, [api(empty.url + "/index")])  # HTML, nothing well-known below
        assert html["code"] == "tool_discovery_failed" and "no API description there" in html["detail"]

    unknown = start_problem(api_server, [api(target.url + "/openapi.json", tool_names=["nope"])])
    assert unknown["code"] == "tool_discovery_failed"
    assert "no operation named ['nope']; it has: getPetById, deletePet, createPet" in unknown["detail"]

    metadata = start_problem(api_server, [api("http://169.254.169.254/openapi.json")])
    assert metadata["code"] == "tool_discovery_failed" and "link-local" in metadata["detail"]

    secret = start_problem(
        api_server,
        [api(target.url + "/openapi.json", headers={"Authorization": "${NOT_SET}"}, credentials=["NOT_SET"])],
    )
    assert "credential 'NOT_SET' is not set" in secret["detail"]
    undeclared = start_problem(
        api_server, [api(target.url + "/openapi.json", headers={"Authorization": "${NOT_SET}"})]
    )
    assert undeclared["code"] == "invalid_agent" and "without declaring it" in undeclared["detail"]

    twice = start_problem(
        api_server, [api(target.url + "/openapi.json"), {**api(target.url + "/openapi.json"), "name": "b"}]
    )
    assert "two tools are named 'getPetById'" in twice["detail"]


def test_a_document_over_the_size_cap_is_refused(tmp_path: Path, target: HttpTarget) -> None:
    settings = Settings(data_dir=tmp_path, http_tools=HttpToolSettings(max_document_bytes=200))
    server = ThreadServer(settings).start()
    try:
        problem = start_problem(
            server, [{"name": "a", "toolType": "api", "config": {"url": target.url + "/openapi.json"}}]
        )
    finally:
        server.stop()
    assert problem["code"] == "tool_discovery_failed"
    assert "larger than 200 bytes" in problem["detail"] and "/openapi.json" in problem["detail"]


def test_discovered_tools_count_against_the_tools_per_agent_limit(tmp_path: Path, target: HttpTarget) -> None:
    settings = Settings(data_dir=tmp_path, max_tools_per_agent=2)
    server = ThreadServer(settings).start()
    try:
        agent = {
            "name": "greedy",
            "model": "openai/gpt-4o",
            "tools": [{"name": "a", "toolType": "api", "config": {"url": target.url + "/openapi.json"}}],
        }
        response = httpx.post(f"{server.api_url}/agent/start", json={"agentConfig": agent, "prompt": "x"})
    finally:
        server.stop()
    assert response.status_code == 413, response.text
    assert (
        response.json()["code"] == "limit_exceeded" and response.json()["limit"]["name"] == "tools_per_agent"
    )
