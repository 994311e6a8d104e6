"""The web UI in a real browser (issue 16): headless Chromium against a real server with
a scripted model. List -> open an execution -> see its tool call -> approve a waiting
execution from the inbox -> it completes; the execution page follows the live stream.
Screenshots of the list, an execution and the inbox are written to the artifacts dir."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from agentspan.agents import Agent, AgentRuntime, human_tool, tool

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess, ThreadServer

pytestmark = pytest.mark.browser

T = TypeVar("T")


@tool
def lookup_order(order_id: str) -> str:
    """Look an order up."""
    return f"order {order_id}: shipped"


@tool(approval_required=True)
def issue_refund(order_id: str, amount: int) -> str:
    """Refund an order."""
    return f"refunded {amount} on {order_id}"


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def until(browser: Any, find: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    """What ``find`` returns once it is truthy; fails naming ``what`` (and the page's
    console) when it never is."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = find()
        except (NoSuchElementException, StaleElementReferenceException):
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not appear; console: {browser.get_log('browser')}")


def test_list_execution_tool_call_and_approval(
    browser: Any, server: ThreadServer, runtime: AgentRuntime, fake: FakeOpenAI, artifacts: Path
) -> None:
    from selenium.webdriver.common.by import By

    css = By.CSS_SELECTOR
    fake.script(
        FakeOpenAI.tool_calls([("lookup_order", {"order_id": "A-17"})]),
        FakeOpenAI.text("Order A-17 has shipped."),
        FakeOpenAI.tool_calls([("issue_refund", {"order_id": "B-2", "amount": 40})]),
        FakeOpenAI.text("Refund issued."),
    )
    done = runtime.run(Agent(name="support", model="openai/gpt-4o", tools=[lookup_order]), "Where is A-17?")
    assert done.status == "COMPLETED"
    waiting = runtime.start(Agent(name="refunds", model="openai/gpt-4o", tools=[issue_refund]), "Refund B-2")
    until(browser, lambda: waiting.get_status().is_waiting, "the refund's approval wait")

    # The list: both executions, newest first, with status, tokens and cost.
    browser.get(server.root_url + "/")
    rows = until(browser, lambda: browser.find_elements(css, "#executions tbody tr a"), "the executions list")
    texts = [r.text for r in browser.find_elements(css, "#executions tbody tr")]
    assert any("refunds" in t and "RUNNING" in t for t in texts) and any(
        "support" in t and "COMPLETED" in t for t in texts
    )
    assert {r.text for r in rows} >= {done.execution_id, waiting.execution_id}
    browser.save_screenshot(str(artifacts / "ui-list.png"))

    # One execution: the tool call with its arguments and idempotency key, and the output.
    browser.find_element(css, f'a[href="#/executions/{done.execution_id}"]').click()
    call = until(
        browser, lambda: browser.find_element(css, '#timeline li[data-type="tool_call"]'), "the tool call"
    )
    assert "lookup_order" in call.text and "done" in call.text
    call.find_element(css, "summary").click()
    assert '"order_id": "A-17"' in call.text and f"{done.execution_id}:" in call.text
    assert "order A-17: shipped" in call.text  # its result, joined to the call
    assert "Order A-17 has shipped." in browser.find_element(css, "#output").text
    summary = browser.find_element(css, "#summary").text
    assert "COMPLETED" in summary and "null" not in summary and "undefined" not in summary
    assert browser.find_elements(css, '#timeline li[data-type="llm_call"]')
    browser.execute_script("document.getElementById('output').scrollIntoView()")  # output and timeline
    browser.save_screenshot(str(artifacts / "ui-execution.png"))

    # The inbox: the waiting refund with its arguments; approving it lets it complete.
    browser.find_element(css, 'nav a[data-page="inbox"]').click()
    card = until(
        browser,
        lambda: browser.find_element(css, f'#inbox [data-execution="{waiting.execution_id}"]'),
        "the inbox",
    )
    assert "refunds" in card.text and "issue_refund" in card.text
    browser.save_screenshot(str(artifacts / "ui-inbox.png"))
    card.find_element(css, 'button[data-action="approve"]').click()
    until(browser, lambda: "Approved." in card.text, "the approval's confirmation")
    result = waiting.join(timeout=10)
    assert result.output == "Refund issued." and result.tool_calls[0]["approval"]["approved"] is True

    browser.get(f"{server.root_url}/#/executions/{waiting.execution_id}")
    until(browser, lambda: "COMPLETED" in browser.find_element(css, "#summary").text, "the completed status")
    approval = browser.find_element(css, '#timeline li[data-type="tool_call"]').text
    assert "approved by" in approval and "issue_refund" in approval
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_an_open_execution_follows_the_live_stream(
    browser: Any, server: ThreadServer, runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    from selenium.webdriver.common.by import By

    css = By.CSS_SELECTOR
    fake.script(
        FakeOpenAI.tool_calls([("issue_refund", {"order_id": "C-9", "amount": 5})]),
        FakeOpenAI.text("Refund done."),
    )
    handle = runtime.start(Agent(name="refunds", model="openai/gpt-4o", tools=[issue_refund]), "Refund C-9")
    until(browser, lambda: handle.get_status().is_waiting, "the approval wait")
    browser.get(f"{server.root_url}/#/executions/{handle.execution_id}")
    form = until(browser, lambda: browser.find_element(css, "#waiting form"), "the approval form")
    assert browser.find_elements(css, '#timeline li[data-type="waiting"]')
    # Approved elsewhere (another operator's API call): the page sees it from the stream.
    status = httpx.get(f"{server.api_url}/agent/{handle.execution_id}/status").json()
    answer = {"approved": True, "taskRefName": status["pendingTool"]["taskRefName"]}
    assert httpx.post(f"{server.api_url}/agent/{handle.execution_id}/respond", json=answer).status_code == 200
    until(
        browser, lambda: browser.find_elements(css, '#timeline li[data-type="done"]'), "the live done event"
    )
    until(browser, lambda: "COMPLETED" in browser.find_element(css, "#summary").text, "the refreshed summary")
    assert not browser.find_elements(css, "#waiting form") and form is not None
    assert "Refund done." in browser.find_element(css, "#output").text


def test_api_docs_render_from_the_local_description(browser: Any, server: ThreadServer) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.root_url + "/api/docs")
    title = until(browser, lambda: browser.find_element(By.TAG_NAME, "h1"), "the docs title")
    until(browser, lambda: "API" in title.text and "Loading" not in browser.page_source, "the rendered docs")
    waiting = browser.find_element(By.ID, "get-api-agent-waiting")
    assert "/api/agent/waiting" in waiting.text and "cursor" in waiting.text
    assert browser.find_elements(By.CSS_SELECTOR, "#schema-WaitingList")
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_with_keys_on_the_ui_asks_for_one_and_sends_it(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    from agentspan.server.settings import Settings

    css = By.CSS_SELECTOR
    srv = ThreadServer(Settings(data_dir=tmp_path)).start()
    try:
        made = httpx.post(srv.api_url + "/keys", json={"name": "ops", "scopes": ["operator"]})
        key = made.json()["key"]
        browser.get(srv.root_url + "/")
        dialog = until(browser, lambda: browser.find_element(css, "dialog[open]"), "the key dialog")
        box = dialog.find_element(By.ID, "key-input")
        box.send_keys("asp_not-a-real-key")
        dialog.find_element(css, "button[type=submit]").click()
        until(browser, lambda: "refused" in browser.find_element(By.ID, "key-error").text, "the refusal")
        box.send_keys(key)
        dialog.find_element(css, "button[type=submit]").click()
        until(
            browser,
            lambda: "0 executions" in browser.find_element(By.ID, "main").text,
            "the list with the key",
        )
        assert not browser.find_elements(css, "dialog[open]")
        assert browser.execute_script("return sessionStorage.getItem('agentspan.apiKey')") == key
    finally:
        browser.execute_script("sessionStorage.clear()")
        srv.stop()


def test_the_live_view_resumes_after_the_server_restarts(
    browser: Any, fake: FakeOpenAI, tmp_path: Path
) -> None:
    """The stream drops when the server is killed; the page reconnects with Last-Event-ID
    and shows what happened meanwhile, each step once."""
    from selenium.webdriver.common.by import By

    from agentspan.agents import AgentConfig

    css = By.CSS_SELECTOR
    fake.script(
        FakeOpenAI.tool_calls([("issue_refund", {"order_id": "D-4", "amount": 9})]),
        FakeOpenAI.text("Refunded after the restart."),
    )
    srv = ServerProcess(tmp_path).start()
    config = AgentConfig(server_url=srv.api_url, auto_start_server=False)
    try:
        with AgentRuntime(config=config) as rt:
            handle = rt.start(
                Agent(name="refunds", model="openai/gpt-4o", tools=[issue_refund]), "Refund D-4"
            )
            until(browser, lambda: handle.get_status().is_waiting, "the approval wait", timeout=20)
            browser.get(f"{srv.root_url}/#/executions/{handle.execution_id}")
            until(browser, lambda: browser.find_element(css, "#waiting form"), "the approval form")
            srv.kill()  # SIGKILL: the page's stream is cut
            srv.start()
            status = httpx.get(f"{srv.api_url}/agent/{handle.execution_id}/status").json()
            answer = {"approved": True, "taskRefName": status["pendingTool"]["taskRefName"]}
            assert (
                httpx.post(f"{srv.api_url}/agent/{handle.execution_id}/respond", json=answer).status_code
                == 200
            )
            until(
                browser,
                lambda: browser.find_elements(css, '#timeline li[data-type="done"]'),
                "the done event after the reconnect",
                timeout=30,
            )
            for kind in ("waiting", "tool_call", "done"):
                assert len(browser.find_elements(css, f'#timeline li[data-type="{kind}"]')) == 1, kind
            assert "Refunded after the restart." in browser.find_element(css, "#output").text
    finally:
        srv.stop()


choose_plan = human_tool(
    name="choose_plan",
    description="Ask which plan to sell.",
    response_schema={
        "type": "object",
        "properties": {
            "plan": {"type": "string", "enum": ["basic", "pro"]},
            "seats": {"type": "integer", "description": "How many seats"},
            "note": {"type": "string"},
        },
        "required": ["plan", "seats"],
    },
)


def test_a_question_is_answered_with_a_form_built_from_its_schema(
    browser: Any, server: ThreadServer, runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    css = By.CSS_SELECTOR
    fake.script(
        FakeOpenAI.tool_calls([("choose_plan", {"question": "Which plan?"})]),
        FakeOpenAI.text("Selling pro."),
    )
    handle = runtime.start(Agent(name="sales", model="openai/gpt-4o", tools=[choose_plan]), "sell")
    until(browser, lambda: handle.get_status().is_waiting, "the question")
    browser.get(server.root_url + "/#/inbox")
    card = until(
        browser,
        lambda: browser.find_element(css, f'#inbox [data-execution="{handle.execution_id}"]'),
        "the card",
    )
    Select(card.find_element(css, 'select[name="plan"]')).select_by_visible_text("pro")
    seats = card.find_element(css, 'input[name="seats"]')
    assert seats.get_attribute("type") == "number" and seats.get_attribute("required") is not None
    seats.send_keys("12")
    card.find_element(css, 'button[data-action="respond"]').click()
    until(browser, lambda: "Answer sent." in card.text, "the confirmation")
    result = handle.join(timeout=10)
    assert result.output == "Selling pro."
    answer = fake.requests[1]["messages"][-1]
    assert (
        answer["role"] == "tool"
        and '"plan": "pro"' in answer["content"]
        and '"seats": 12' in answer["content"]
    )
    assert "note" not in answer["content"]  # an empty optional field is left out


def test_run_again_from_a_model_call_step(
    browser: Any, server: ThreadServer, runtime: AgentRuntime, fake: FakeOpenAI, artifacts: Path
) -> None:
    """ "Run again from here" on the last model call: the new execution copies the steps
    before it (the tool is not run again), answers with the edited instructions and model,
    and both pages show the link."""
    from selenium.webdriver.common.by import By

    css = By.CSS_SELECTOR
    looked_up: list[str] = []

    @tool
    def find_order(order_id: str) -> str:
        """Find an order."""
        looked_up.append(order_id)
        return f"order {order_id}: packed"

    fake.script(
        FakeOpenAI.tool_calls([("find_order", {"order_id": "F-1"})]),
        FakeOpenAI.text("F-1 is packed."),
        FakeOpenAI.text("Packed."),
    )
    done = runtime.run(Agent(name="orders", model="openai/gpt-4o", tools=[find_order]), "Where is F-1?")
    assert done.output == "F-1 is packed." and looked_up == ["F-1"]

    browser.get_log("browser")  # drain what earlier tests left (a killed server's resets)
    browser.get(f"{server.root_url}/#/executions/{done.execution_id}")
    calls = until(
        browser,
        lambda: browser.find_elements(css, '#timeline li[data-type="llm_call"] button.fork'),
        "the run-again buttons",
    )
    assert len(calls) == 2
    last = calls[-1]
    step = int(last.get_attribute("data-step"))
    last.click()
    form = until(browser, lambda: browser.find_element(css, "#timeline form.fork-form"), "the fork form")
    form.find_element(css, 'textarea[name="instructions"]').send_keys("Answer in one word.")
    model = form.find_element(css, 'input[name="model"]')
    assert model.get_attribute("value") == "openai/gpt-4o"
    model.clear()
    model.send_keys("openai/gpt-4o-mini")
    browser.save_screenshot(str(artifacts / "ui-fork-form.png"))
    form.find_element(css, 'button[type="submit"]').click()

    until(
        browser,
        lambda: "#/executions/" in browser.current_url and done.execution_id not in browser.current_url,
        "the page of the new execution",
    )
    until(browser, lambda: "COMPLETED" in browser.find_element(css, "#summary").text, "the fork's completion")
    until(browser, lambda: "Packed." in browser.find_element(css, "#output").text, "the fork's answer")
    summary = browser.find_element(css, "#summary")
    assert f"at step #{step}" in summary.text and "not counted again" in summary.text
    assert looked_up == ["F-1"]  # the copied tool call did not run again
    request = fake.requests[-1]
    assert request["model"] == "gpt-4o-mini" and request["messages"][0]["content"] == "Answer in one word."
    browser.save_screenshot(str(artifacts / "ui-fork.png"))

    summary.find_element(css, "a.fork-origin").click()
    back = until(
        browser, lambda: browser.find_element(css, "#summary a.fork-child"), "the origin's fork link"
    )
    assert f"(step #{step})" in browser.find_element(css, "#summary").text and back.text
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
