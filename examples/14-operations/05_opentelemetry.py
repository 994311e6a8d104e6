"""OpenTelemetry traces: the server's spans reach an OTLP receiver, the worker's continue them.

    python examples/14-operations/05_opentelemetry.py

This example controls its own server, started with ``AGENTSPAN_OTEL_ENDPOINT`` pointing at
an OTLP/HTTP receiver that runs in a thread here (a stand-in for a collector such as
Jaeger or the OpenTelemetry Collector; ``pip install 'agentspan[otel]'``). This process
also sets up OpenTelemetry with an in-memory exporter, so the worker's own span around the
tool lands in the same trace, as a child of the server's ``execute_tool`` span. The trace
id is the run's execution id. With no API key the model is scripted.
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live

received: list[tuple[str, str]] = []  # (trace id, span name) of every span the server exported


class OtlpReceiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request = ExportTraceServiceRequest.FromString(self.rfile.read(int(self.headers["Content-Length"])))
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                received.extend((span.trace_id.hex(), span.name) for span in scope.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


worker_spans = InMemorySpanExporter()  # this process's spans (the worker side)
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(worker_spans))
trace.set_tracer_provider(provider)


@tool
def lookup_flight(number: str) -> str:
    """Status of a flight."""
    return f"{number}: on time, gate B12"


agent = Agent(
    name="traced_flights",
    model=scripted_or_live([ToolCall("lookup_flight", {"number": "KL1001"}), "KL1001 is on time."]),
    instructions="Look the flight up, then answer.",
    tools=[lookup_flight],
)

collector = ThreadingHTTPServer(("127.0.0.1", 0), OtlpReceiver)
threading.Thread(target=collector.serve_forever, daemon=True).start()
with tempfile.TemporaryDirectory() as data, socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = {
        **os.environ,
        "AGENTSPAN_OTEL_ENDPOINT": f"http://127.0.0.1:{collector.server_port}",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export every 0.2 s instead of every 5 s
    }
    cmd = [sys.executable, "-m", "agentspan.cli", "server", "run", "--port", str(port), "--data-dir", data]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with AgentRuntime(config=AgentConfig(server_url=f"http://127.0.0.1:{port}")) as runtime:
            result = runtime.run(agent, "Is KL1001 on time?")
        trace_id = result.execution_id.replace("-", "")
        deadline = time.monotonic() + 15
        while (
            not any(name.startswith("invoke_agent") for _, name in received) and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        print(result.output)
        print("server spans:", sorted({name for tid, name in received if tid == trace_id}))
        mine = [s for s in worker_spans.get_finished_spans() if s.name.startswith("execute_tool")]
        print(
            "worker span:",
            mine[0].name,
            "in the run's trace:",
            f"{mine[0].context.trace_id:032x}" == trace_id,
        )
    finally:
        server.terminate()
        server.wait()
        collector.shutdown()

# requires: opentelemetry.sdk
# requires: opentelemetry.proto
# timeout: 60
# expect: 'execute_tool lookup_flight', 'invoke_agent traced_flights']
# expect: in the run's trace: True
