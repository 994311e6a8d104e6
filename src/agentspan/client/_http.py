"""The async REST client: the one real implementation every SDK path goes through."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx

from agentspan.agents._errors import AgentAPIError, AgentNotFoundError, AgentspanError
from agentspan.client._sse import SSEDecoder, SSEMessage

log = logging.getLogger("agentspan")

TERMINAL_EVENTS = frozenset({"done", "error"})


def default_actor() -> str:
    """Who is acting, recorded with approvals: ``sdk:<user>@<host>:<pid>``."""
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    return f"sdk:{user}@{socket.gethostname()}:{os.getpid()}"


class ApiClient:
    """Thin async wrapper over the server's REST API. Errors become ``AgentAPIError``."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"X-Agentspan-Actor": default_actor()}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        try:
            response = await self._http.request(
                method,
                path,
                json=json,
                params=params,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.TransportError as exc:
            raise AgentAPIError(
                0, f"cannot reach the Agentspan server: {exc!r}", self.base_url + path
            ) from exc
        if response.status_code >= 400:
            raise _api_error(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # --- executions -----------------------------------------------------------------------

    async def start(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", "/agent/start", json=body)
        return result

    async def status(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/agent/{execution_id}/status")
        return result

    async def detail(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/agent/execution/{execution_id}")
        return result

    async def respond(self, execution_id: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", f"/agent/{execution_id}/respond", json=body)
        return result

    async def pause(self, execution_id: str) -> None:
        await self.request("PUT", f"/agent/{execution_id}/pause")

    async def resume(self, execution_id: str) -> None:
        await self.request("PUT", f"/agent/{execution_id}/resume")

    async def cancel(self, execution_id: str, reason: str = "") -> None:
        await self.request("DELETE", f"/agent/{execution_id}/cancel", params={"reason": reason})

    async def stop(self, execution_id: str) -> None:
        await self.request("POST", f"/agent/{execution_id}/stop")

    # --- worker tasks ---------------------------------------------------------------------

    async def poll(self, names: list[str], worker_id: str, count: int, wait_ms: int) -> list[dict[str, Any]]:
        body = {"names": names, "workerId": worker_id, "count": count, "waitMs": wait_ms}
        result = await self.request("POST", "/tasks/poll", json=body, timeout=wait_ms / 1000 + 30)
        tasks: list[dict[str, Any]] = result["tasks"]
        return tasks

    async def heartbeat(self, task_id: str, lease_id: str) -> None:
        await self.request("POST", f"/tasks/{task_id}/heartbeat", json={"leaseId": lease_id})

    async def complete(
        self, task_id: str, lease_id: str, output: Any, state_updates: dict[str, Any] | None
    ) -> None:
        body: dict[str, Any] = {"leaseId": lease_id, "output": output}
        if state_updates is not None:
            body["stateUpdates"] = state_updates
        await self.request("POST", f"/tasks/{task_id}/complete", json=body)

    async def fail(self, task_id: str, lease_id: str, error: str, retryable: bool) -> None:
        body = {"leaseId": lease_id, "error": error, "retryable": retryable}
        await self.request("POST", f"/tasks/{task_id}/fail", json=body)

    # --- streaming ------------------------------------------------------------------------

    async def events(
        self, execution_id: str, last_event_id: int = 0, *, deltas: bool = True
    ) -> AsyncIterator[SSEMessage]:
        """Follow an execution's events until its terminal event.

        A dropped connection is resumed from the last event id, so no event is lost or
        repeated; an unknown execution raises ``AgentNotFoundError`` at once.
        """
        last = last_event_id
        failures = 0
        while True:
            headers = {"Accept": "text/event-stream"}
            if last:
                headers["Last-Event-ID"] = str(last)
            try:
                async with self._http.stream(
                    "GET",
                    f"/agent/stream/{execution_id}",
                    params={"deltas": "true" if deltas else "false"},
                    headers=headers,
                    timeout=httpx.Timeout(None, connect=5.0),
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise _api_error(response)
                    decoder = SSEDecoder()
                    async for line in response.aiter_lines():
                        message = decoder.feed(line)
                        if message is None:
                            continue
                        failures = 0
                        if message.id and message.id.isdigit():
                            last = int(message.id)
                        yield message
                        if message.event in TERMINAL_EVENTS:
                            return
            except httpx.TransportError as exc:
                failures += 1
                if failures > 30:
                    raise AgentAPIError(0, f"event stream lost: {exc!r}", self.base_url) from exc
                log.debug("event stream dropped (%r); resuming after event %d", exc, last)
            # The server closed the stream without a terminal event (e.g. a restart):
            # resume after a short pause.
            await asyncio.sleep(min(0.1 * (2**failures), 2.0))
            try:
                status = await self.status(execution_id)
                if status.get("isComplete") and not await self._has_events_after(execution_id, last):
                    return
            except AgentAPIError as exc:
                if exc.status_code != 0:
                    raise
                failures += 1  # the server is still down; keep trying

    async def _has_events_after(self, execution_id: str, last: int) -> bool:
        events = await self.request(
            "GET", f"/agent/executions/{execution_id}/events", params={"after": last, "limit": 1}
        )
        return bool(events)

    async def health(self, root_url: str, timeout: float = 2.0) -> bool:
        try:
            response = await self._http.get(root_url + "/health", timeout=timeout)
        except httpx.TransportError:
            return False
        return response.status_code < 500


def _api_error(response: httpx.Response) -> AgentAPIError:
    message = response.text
    code: str | None = None
    try:
        body = response.json()
        if isinstance(body, dict):
            message = str(body.get("detail") or body.get("error") or body.get("message") or message)
            code = body.get("code")
    except ValueError:
        pass
    url = str(response.request.url)
    if response.status_code == 404:
        return AgentNotFoundError(404, message, url, code)
    return AgentAPIError(response.status_code, message, url, code)


__all__ = ["AgentspanError", "ApiClient", "TERMINAL_EVENTS", "default_actor"]
