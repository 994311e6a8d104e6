"""``ServerlessCodeExecutor``: code POSTed to an HTTP endpoint that runs it elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from agentspan.agents._sandbox.base import CodeExecutor, ExecutionResult

__all__ = ["ServerlessCodeExecutor"]

MAX_RESPONSE_BYTES = 1_000_000


class ServerlessCodeExecutor(CodeExecutor):
    """POSTs ``{"code", "language", "timeout"}`` as JSON to ``endpoint`` (with
    ``Authorization: Bearer <api_key>`` when given) and reads ``output``/``stdout``,
    ``error``/``stderr`` and ``exit_code`` from the JSON answer.

    The isolation is whatever the endpoint provides. Override :meth:`_send_request` to
    speak another service's protocol. Responses over 1 MB are refused.
    """

    def __init__(
        self,
        endpoint: str,
        api_key: str | None = None,
        language: str = "python",
        timeout: float = 30,
        headers: Mapping[str, str] | None = None,
        *,
        start_margin: float = 10,
    ) -> None:
        super().__init__(language, timeout)
        # What the endpoint may take on top of the code's timeout (a cold start).
        self.start_margin = start_margin
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = endpoint
        self.api_key = api_key
        self.headers = dict(headers or {})

    def __repr__(self) -> str:  # never show the API key
        return f"ServerlessCodeExecutor(endpoint={self.endpoint!r}, language={self.language!r})"

    def execute(self, code: str) -> ExecutionResult:
        try:
            return self._send_request(code)
        except httpx.TimeoutException:
            return ExecutionResult(
                error=f"the endpoint did not answer within {self.timeout:g}s", exit_code=-1, timed_out=True
            )
        except (httpx.HTTPError, ValueError) as exc:
            # The message names the endpoint and the failure, never the headers.
            return ExecutionResult(
                error=f"serverless execution failed: {type(exc).__name__}: {exc}", exit_code=1
            )

    def _send_request(self, code: str) -> ExecutionResult:
        headers = {"Content-Type": "application/json", **self.headers}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = {"code": code, "language": self.language, "timeout": self.timeout}
        with (
            httpx.Client(timeout=self.timeout + self.start_margin, follow_redirects=False) as client,
            client.stream("POST", self.endpoint, json=body, headers=headers) as response,
        ):
            raw = bytearray()
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) > MAX_RESPONSE_BYTES:
                    raise ValueError(f"the endpoint's answer is over {MAX_RESPONSE_BYTES} bytes")
            if response.status_code >= 400:
                text = raw.decode("utf-8", errors="replace")[:2000]
                return ExecutionResult(
                    error=f"endpoint answered HTTP {response.status_code}: {text}", exit_code=1
                )
        return _parse(httpx.Response(200, content=bytes(raw)).json())


def _parse(data: Any) -> ExecutionResult:
    if not isinstance(data, dict):
        raise ValueError("the endpoint's answer is not a JSON object")
    output = data.get("output", data.get("stdout", ""))
    error = data.get("error", data.get("stderr", ""))
    exit_code = data.get("exit_code", 0 if not error else 1)
    return ExecutionResult(
        output=str(output or ""),
        error=str(error or ""),
        exit_code=int(exit_code),
        timed_out=bool(data.get("timed_out", False)),
    )
