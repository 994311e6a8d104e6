"""pdf_tool: the model writes markdown, the server renders it as a PDF.

    python examples/07-server-tools/04_pdf_tool.py

The Agentspan server does the rendering (``pip install 'agentspan[pdf]'`` there); the PDF
comes back in the tool's result as a ``data:`` URL. This program decodes it and checks it
really is a PDF. With no API key the model is scripted.
"""

import base64
import tempfile
from pathlib import Path

from agentspan.agents import Agent, AgentRuntime, pdf_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

REPORT = """# Weekly report

| Team | Tickets closed |
|------|----------------|
| Core | 42 |
| Web  | 17 |

All systems **nominal**.
"""

agent = Agent(
    name="reporter",
    model=scripted_or_live([ToolCall("generate_pdf", {"markdown": REPORT}), "Your report is ready."]),
    instructions="Write the weekly report in markdown and render it with generate_pdf.",
    tools=[pdf_tool(pageSize="A5")],  # a default the model does not have to give
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Make this week's report as a PDF: Core closed 42 tickets, Web 17.")
    print(result.output)
    pdf = result.tool_calls[0]["result"]
    data = base64.b64decode(pdf["url"].split(",", 1)[1])
    print(f"{pdf['contentType']}, {pdf['pages']} page(s), {pdf['sizeBytes']} bytes")
    print("starts with the PDF magic number:", data.startswith(b"%PDF-"))
    saved = Path(tempfile.gettempdir()) / "weekly-report.pdf"
    saved.write_bytes(data)
    print(f"saved to {saved} (open it to see the table)")

# requires: fpdf
# expect: application/pdf, 1 page(s)
# expect: starts with the PDF magic number: True
