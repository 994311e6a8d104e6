"""``pdf_tool`` over a real server: the model's markdown becomes a valid PDF holding its
text; the tool's defaults apply and the model's arguments win; bad options are refused."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader

from agentspan.agents import Agent, AgentRuntime, ConfigurationError, pdf_tool
from agentspan.server.executors.pdf_render import render

from fakes.openai_server import FakeOpenAI

REPORT = "# Quarterly report\n\nRevenue grew **12%**.\n\n- Widgets\n- Gadgets\n\n| Region | Sales |\n|---|---|\n| North | 40 |\n"


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def pdf_of(result: Any) -> tuple[bytes, dict[str, Any]]:
    (call,) = [c for c in result.tool_calls if c["name"] == "make_pdf"]
    out = call["result"]
    prefix = "data:application/pdf;base64,"
    assert out["url"].startswith(prefix)
    return base64.b64decode(out["url"][len(prefix) :]), out


def test_markdown_becomes_a_pdf_with_its_text(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.tool_calls([("make_pdf", {"markdown": REPORT})]), FakeOpenAI.text("Here it is."))
    agent = Agent(name="writer", model="openai/gpt-4o", tools=[pdf_tool(name="make_pdf", pageSize="Letter")])
    result = runtime.run(agent, "write the report")
    assert result.status == "COMPLETED", result.error
    data, out = pdf_of(result)
    assert data.startswith(b"%PDF-") and out["contentType"] == "application/pdf"
    assert out["sizeBytes"] == len(data) and out["pages"] == 1
    page = PdfReader(io.BytesIO(data)).pages[0]
    text = page.extract_text()
    for words in ("Quarterly report", "Revenue grew 12%.", "Widgets", "Gadgets", "North", "40"):
        assert words in text
    assert round(float(page.mediabox.width)) == 612  # Letter, from the tool's defaults


def test_the_models_arguments_win_and_bad_ones_are_an_error_it_sees(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("make_pdf", {"markdown": "x", "pageSize": "Tabloid"})]),
        FakeOpenAI.tool_calls([("make_pdf", {"markdown": "# A5 page", "pageSize": "A5"})]),
        FakeOpenAI.text("ok"),
    )
    agent = Agent(name="writer2", model="openai/gpt-4o", tools=[pdf_tool(name="make_pdf")])
    result = runtime.run(agent, "write")
    assert result.status == "COMPLETED"
    first, second = [c["result"] for c in result.tool_calls if c["name"] == "make_pdf"]
    assert "pageSize must be one of" in str(first)
    assert isinstance(second, dict) and "url" in second, (first, second)
    data = base64.b64decode(second["url"].split(",", 1)[1])
    assert round(float(PdfReader(io.BytesIO(data)).pages[0].mediabox.width)) == 420  # A5


def test_an_option_the_server_cannot_honour_is_refused_before_the_start(runtime: AgentRuntime) -> None:
    agent = Agent(name="writer3", model="openai/gpt-4o", tools=[pdf_tool(theme="corporate")])
    with pytest.raises(ConfigurationError) as refused:  # checked against the spec before sending
        runtime.start(agent, "write")
    assert "theme" in str(refused.value) and "default" in str(refused.value)


def test_without_a_unicode_font_other_characters_are_replaced_and_said_so() -> None:
    rendered = render("Caf\u00e9 \u2014 \u4f60\u597d", page_size="A4", base_font_size=11, font_dir=None)
    text = PdfReader(io.BytesIO(rendered.data)).pages[0].extract_text()
    assert "Caf\u00e9 - ??" in text and rendered.warnings
