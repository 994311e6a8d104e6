"""The pure rules of server-side HTTP tools: where arguments go, which destinations are
refused, how secrets are masked, and what the SDK constructors produce."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, api_tool, http_tool
from agentspan.agents._serialize import serialize_agent
from agentspan.protocol.spec import ApiTool, HttpTool
from agentspan.protocol.spec.tools import HttpSettings
from agentspan.server.executors.http_tool import build_request, fill_in, placeholders
from agentspan.server.executors.tools import ToolCallError
from agentspan.server.outbound import DestinationRefused, Masker, OutboundPolicy, blocked_address, refusal_of
from agentspan.server.settings import HttpToolSettings, Settings


def settings(url: str, **extra: object) -> HttpSettings:
    return HttpSettings.model_validate({"url": url, **extra})


def test_path_arguments_are_quoted_into_the_url_and_the_rest_goes_to_the_query_for_a_get() -> None:
    request = build_request(
        settings("https://api.test/users/{user}/posts", method="get"),
        {"user": "a b/c", "n": 2, "tags": ["x", "y"], "on": True},
    )
    assert request.method == "GET" and request.url == "https://api.test/users/a%20b%2Fc/posts"
    assert request.params == [("n", "2"), ("tags", "x"), ("tags", "y"), ("on", "true")]
    assert request.content is None and request.headers == {"Accept": "application/json"}


def test_a_post_sends_the_rest_as_json_and_listed_query_and_header_arguments_apart() -> None:
    config = settings(
        "https://api.test/items",
        method="POST",
        headers={"X-Fixed": "1"},
        accept=["application/json", "text/plain"],
        queryParams=["dry"],
        headerParams=["X-Trace"],
    )
    request = build_request(config, {"dry": False, "X-Trace": "t", "name": "n", "meta": {"a": 1}})
    assert request.params == [("dry", "false")]
    assert request.headers == {
        "X-Fixed": "1",
        "X-Trace": "t",
        "Accept": "application/json, text/plain",
        "Content-Type": "application/json",
    }
    assert request.content == b'{"name": "n", "meta": {"a": 1}}'


def test_a_body_argument_is_the_whole_body_and_a_form_content_type_sends_a_form() -> None:
    whole = build_request(
        settings("https://api.test/x", method="PUT", bodyParam="body"), {"body": [1, 2], "q": "z"}
    )
    assert whole.content == b"[1, 2]" and whole.params == [("q", "z")]
    form = build_request(
        settings("https://api.test/x", method="POST", contentType="application/x-www-form-urlencoded"),
        {"a": "1 2", "b": True},
    )
    assert form.content == b"a=1+2&b=true"
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_a_url_argument_the_model_did_not_give_is_an_error_it_sees_not_a_retry() -> None:
    with pytest.raises(ToolCallError) as caught:
        build_request(settings("https://api.test/users/{user}"), {})
    assert caught.value.retryable is False and "missing argument 'user'" in str(caught.value)


def test_placeholders_are_found_in_header_values_and_filled_in() -> None:
    headers = {"Authorization": "Bearer ${TOKEN}", "X-Both": "${A}-${TOKEN}", "X-Plain": "$NOT {this}"}
    assert placeholders(headers) == ["TOKEN", "A"]
    assert fill_in(headers, {"TOKEN": "t0k", "A": "a"}) == {
        "Authorization": "Bearer t0k",
        "X-Both": "a-t0k",
        "X-Plain": "$NOT {this}",
    }


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("169.254.169.254", True),
        ("169.254.0.1", True),
        ("fe80::1", True),
        ("fe80::1%eth0", True),
        ("fd00:ec2::254", True),
        ("::ffff:169.254.169.254", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("::1", False),
        ("example.com", False),
    ],
)
def test_link_local_and_metadata_addresses_are_blocked(address: str, blocked: bool) -> None:
    assert blocked_address(address) is blocked


def test_the_policy_refuses_bad_urls_link_local_literals_and_urls_off_the_allow_list() -> None:
    open_policy = OutboundPolicy(HttpToolSettings())
    assert open_policy.check("http://127.0.0.1:9/x").link_local_ok is False
    for url, why in [
        ("ftp://files.test/x", r"not an http\(s\) URL"),
        ("http://user:pw@api.test/", "carries user info"),
        ("http://169.254.169.254/latest/", "link-local or cloud-metadata"),
        ("http://[fd00:ec2::254]/", "link-local or cloud-metadata"),
        ("http://api.test:notaport/", "not a valid URL"),
    ]:
        with pytest.raises(DestinationRefused, match=why):
            open_policy.check(url)
    listed = OutboundPolicy(
        HttpToolSettings(allowed_urls=("https://api.test/v1", "http://169.254.169.254/latest"))
    )
    assert listed.check("https://api.test/v1/users").link_local_ok is True
    assert (
        listed.check("http://169.254.169.254/latest/meta-data").link_local_ok is True
    )  # the operator listed it
    for url in ("https://api.test/v10", "https://api.test/", "http://api.test/v1/x", "https://other.test/v1"):
        with pytest.raises(DestinationRefused, match="AGENTSPAN_HTTP_TOOL_ALLOWED_URLS"):
            listed.check(url)


def test_a_name_resolving_to_a_metadata_address_is_refused_when_connecting() -> None:
    """The name looks harmless to a URL check; only what it resolves to shows it."""
    policy = OutboundPolicy(HttpToolSettings())

    async def call(url: str) -> BaseException:
        destination = policy.check(url)  # passes: the host is not an address literal
        async with policy.client(destination, 2.0) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                await client.get(url)
        return caught.value

    for url in ("http://2852039166/latest/", "http://0xa9fea9fe/latest/"):
        refused = refusal_of(asyncio.run(call(url)))
        assert refused is not None and "(169.254.169.254) is a link-local" in str(refused)


def test_the_masker_hides_secrets_in_text_json_and_their_json_escaped_form() -> None:
    masker = Masker(['p"w', "tok"])
    assert masker.text('got tok and p\\"w and p"w') == "got *** and *** and ***"
    assert masker.json({"tok": ["a tok", 1, {"k": 'p"w'}]}) == {"***": ["a ***", 1, {"k": "***"}]}
    assert Masker([]).json({"a": "tok"}) == {"a": "tok"}


def test_http_tool_and_api_tool_produce_the_reference_wire_shapes() -> None:
    weather = http_tool(
        name="get_weather",
        description="Weather",
        url="https://api.test/{city}",
        method="post",
        headers={"Authorization": "Bearer ${WEATHER_KEY}"},
        credentials=["WEATHER_KEY"],
    )
    assert weather.tool_type == "http" and weather.func is None
    assert weather.config == {
        "url": "https://api.test/{city}",
        "method": "POST",
        "headers": {"Authorization": "Bearer ${WEATHER_KEY}"},
        "accept": ["application/json"],
        "contentType": "application/json",
    }
    assert weather.input_schema == {"type": "object", "properties": {}}
    api = api_tool("https://api.test/openapi.json", tool_names=["a"], max_tools=5)
    assert (api.name, api.description, api.tool_type) == (
        "api_tools",
        "API tools from https://api.test/openapi.json",
        "api",
    )
    assert api.config == {"url": "https://api.test/openapi.json", "tool_names": ["a"], "max_tools": 5}

    spec = serialize_agent(Agent(name="a", model="openai/gpt-4o", tools=[weather, api]))
    http_spec, api_spec = spec.tools
    assert isinstance(http_spec, HttpTool) and isinstance(api_spec, ApiTool)
    assert http_spec.config.method == "POST" and http_spec.config.credentials == ["WEATHER_KEY"]
    assert api_spec.config.tool_names == ["a"] and api_spec.config.max_tools == 5
    wire: Any = spec.wire()["tools"]
    assert wire[0]["config"]["contentType"] == "application/json"
    assert wire[1]["config"]["max_tools"] == 5


def test_every_header_placeholder_must_be_a_declared_credential() -> None:
    with pytest.raises(ValueError, match=r"placeholders \['KEY'\] are not declared"):
        http_tool(name="t", description="d", url="https://api.test", headers={"X-Key": "${KEY}"})
    with pytest.raises(ValueError, match=r"placeholders \['B'\]"):
        api_tool("https://api.test", headers={"A": "${A}", "B": "${B}"}, credentials=["A"])
    with pytest.raises(ValueError, match="max_tools must be at least 1"):
        api_tool("https://api.test", max_tools=0)


def test_the_limits_are_read_from_the_environment_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSPAN_HTTP_TOOL_ALLOWED_URLS", " https://a.test/v1 , http://b.test ")
    monkeypatch.setenv("AGENTSPAN_HTTP_TOOL_MAX_RESPONSE_BYTES", "4096")
    monkeypatch.setenv("AGENTSPAN_API_TOOL_DISCOVERY_SECONDS", "2.5")
    tools = Settings.from_env().http_tools
    assert tools.allowed_urls == ("https://a.test/v1", "http://b.test")
    assert (tools.max_response_bytes, tools.discovery_seconds, tools.timeout_seconds) == (4096, 2.5, 30.0)
    for value in ("0", "-1", "inf", "nan"):
        monkeypatch.setenv("AGENTSPAN_HTTP_TOOL_TIMEOUT_SECONDS", value)
        with pytest.raises(ValueError, match="AGENTSPAN_HTTP_TOOL_TIMEOUT_SECONDS must be a positive"):
            Settings.from_env()
