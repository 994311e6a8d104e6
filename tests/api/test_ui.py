"""The web UI's server side (issue 16): the page and its assets are served from the
package, work offline and are public while the data stays behind the key; the list API
pages by keyset cursor and searches; the inbox lists what waits for a person."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.server.api.ui import ASSETS
from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer

OFFLINE = {"name": "lister", "model": "offline/basic"}


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def _problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def test_page_and_assets_are_served_with_a_strict_policy(server: ThreadServer) -> None:
    page = httpx.get(server.root_url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy
        and "connect-src 'self'" in policy
        and "frame-ancestors 'none'" in policy
    )
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/ui/app.js">' in page.text
    script = httpx.get(server.root_url + "/ui/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(server.root_url + "/ui/app.css").headers["content-type"].startswith("text/css")
    _problem(httpx.get(server.root_url + "/ui/missing.js"), 404, "not_found")
    _problem(httpx.get(server.root_url + "/ui/..%2Fapi%2Fui.py"), 404, "not_found")


def test_every_asset_is_local_and_never_parses_text_as_markup() -> None:
    assert {"index.html", "app.js", "api.js", "dom.js", "list.js", "execution.js", "inbox.js"} <= set(ASSETS)
    for name, body in ASSETS.items():
        text = body.decode()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f"{name} loads from another site"
        assert (
            "innerHTML" not in text and "insertAdjacentHTML" not in text and "document.write" not in text
        ), name
        assert "import(" not in text.replace('import("', ""), name


def test_each_module_a_page_imports_is_served(server: ThreadServer) -> None:
    for name, body in ASSETS.items():
        for imported in re.findall(r"from \"\./([\w.]+)\"", body.decode()):
            assert imported in ASSETS, f"{name} imports {imported}, which is not shipped"


def test_api_docs_work_offline(server: ThreadServer) -> None:
    page = httpx.get(server.root_url + "/api/docs")
    assert page.status_code == 200 and "/ui/docs.js" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert httpx.get(server.root_url + "/ui/docs.js").status_code == 200
    assert httpx.get(server.api_url + "/openapi.json").json()["paths"]["/api/agent/waiting"]["get"]


def test_with_keys_on_the_page_is_public_and_the_data_is_not(tmp_path: Path) -> None:
    srv = ThreadServer(Settings(data_dir=tmp_path)).start()
    try:
        made = httpx.post(srv.api_url + "/keys", json={"name": "ops", "scopes": ["operator"]})
        key = made.json()["key"]
        for path in ("/", "/ui/app.js", "/ui/inbox.js", "/api/docs"):
            assert httpx.get(srv.root_url + path).status_code == 200, path
        _problem(httpx.get(srv.api_url + "/agent/waiting"), 401, "unauthorized")
        _problem(httpx.get(srv.api_url + "/agent/executions"), 401, "unauthorized")
        _problem(httpx.post(srv.root_url + "/ui/app.js", json={}), 401, "unauthorized")
        ok = httpx.get(srv.api_url + "/agent/waiting", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200 and ok.json() == {"results": []}
    finally:
        srv.stop()


def _start(server: ThreadServer, prompt: str, name: str = "lister") -> str:
    body = {"agentConfig": {**OFFLINE, "name": name}, "prompt": prompt}
    response = httpx.post(server.api_url + "/agent/start", params={"waitMs": 10_000}, json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["executionId"])


def _page(server: ThreadServer, **params: Any) -> dict[str, Any]:
    response = httpx.get(server.api_url + "/agent/executions", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_cursor_pages_cover_every_execution_once_newest_first(server: ThreadServer) -> None:
    ids = [_start(server, f"keyset probe {i}", name="keyset-agent") for i in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        page = _page(server, agentName="keyset-agent", size=2, **({"cursor": cursor} if cursor else {}))
        assert page["totalHits"] == 5
        seen += [r["executionId"] for r in page["results"]]
        cursor = page.get("nextCursor")
        if cursor is None:
            break
    assert seen == ids[::-1]
    first = _page(server, agentName="keyset-agent", size=1)["results"][0]
    assert first["status"] == "COMPLETED" and first["durationMs"] >= 0
    assert first["tokenUsage"]["totalTokens"] > 0


def test_search_finds_by_input_id_and_agent(server: ThreadServer) -> None:
    wanted = _start(server, "find the PELICAN report", name="searcher")
    _start(server, "something else", name="searcher")
    assert [r["executionId"] for r in _page(server, q="pelican")["results"]] == [wanted]
    assert [r["executionId"] for r in _page(server, q=wanted[-8:].upper())["results"]] == [wanted]
    assert _page(server, q="searcher")["totalHits"] == 2
    assert _page(server, q="100%_no_such")["totalHits"] == 0


@pytest.mark.parametrize("cursor", ["nope", "1.0", "inf:x", "nan:x", ":x"])
def test_a_bad_cursor_is_a_validation_problem(server: ThreadServer, cursor: str) -> None:
    for path in ("/agent/executions", "/agent/waiting"):
        _problem(httpx.get(server.api_url + path, params={"cursor": cursor}), 400, "validation_failed")


def test_search_and_cursor_are_bounded(server: ThreadServer) -> None:
    _problem(
        httpx.get(server.api_url + "/agent/executions", params={"q": "x" * 201}), 400, "validation_failed"
    )
    _problem(httpx.get(server.api_url + "/agent/waiting", params={"size": 201}), 400, "validation_failed")


def test_inbox_lists_waiting_approvals_with_their_schema(
    server: ThreadServer, runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    @tool(approval_required=True)
    def wire_money(amount: int) -> str:
        """Send money."""
        return f"sent {amount}"

    fake.script(FakeOpenAI.tool_calls([("wire_money", {"amount": 7})]), FakeOpenAI.text("Sent."))
    handle = runtime.start(Agent(name="payer", model="openai/gpt-4o", tools=[wire_money]), "pay")
    deadline = time.monotonic() + 10
    entries: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not entries:
        got = httpx.get(server.api_url + "/agent/waiting").json()["results"]
        entries = [e for e in got if e["executionId"] == handle.execution_id]
        time.sleep(0.05)
    (entry,) = entries
    pending = entry["pendingTool"]
    assert entry["agentName"] == "payer" and pending["tool_name"] == "wire_money"
    assert pending["parameters"] == {"amount": 7}
    assert pending["response_schema"]["properties"]["approved"]["type"] == "boolean"
    answer = {"approved": True, "taskRefName": pending["taskRefName"]}
    url = f"{server.api_url}/agent/{handle.execution_id}/respond"
    assert httpx.post(url, json=answer).status_code == 200
    again = httpx.post(url, json=answer)  # compare-and-set: the second answer is refused
    assert again.status_code == 409 and again.json()["code"] in {
        "already_decided",
        "not_waiting",
        "invalid_state",
    }
    assert handle.join(timeout=10).output == "Sent."
    left = httpx.get(server.api_url + "/agent/waiting").json()["results"]
    assert handle.execution_id not in [e["executionId"] for e in left]
