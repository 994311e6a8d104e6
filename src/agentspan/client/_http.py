"""The async REST client: the one real implementation every SDK path goes through."""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from agentspan._core.errors import AgentAPIError, AgentNotFoundError, AgentspanError
from agentspan.client._auth import auth_headers
from agentspan.client._sse import SSEDecoder, SSEMessage
from agentspan.client._wire import WireError, WirePool, usable_for
from agentspan.protocol.api import TERMINAL_EVENTS, TERMINAL_STATUSES

log = logging.getLogger("agentspan")

_WAIT_SLICE = 20.0  # seconds per long-poll while waiting for a result


def default_actor() -> str:
    """Who is acting, recorded with approvals: ``sdk:<user>@<host>:<pid>``."""
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    return f"sdk:{user}@{socket.gethostname()}:{os.getpid()}"


class ApiClient:
    """Thin async wrapper over the server's REST API. Errors become ``AgentAPIError``."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"X-Agentspan-Actor": default_actor(), **auth_headers(api_key)}
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        self._timeout = timeout
        # JSON requests go over the small direct client unless a proxy applies (_wire.py
        # says why); the event stream and proxied URLs stay with httpx.
        self._wire = WirePool(self.base_url, headers) if usable_for(self.base_url) else None

    async def aclose(self) -> None:
        if self._wire is not None:
            await self._wire.aclose()
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
        if self._wire is not None:
            return await self._wire_request(method, path, json, params, timeout)
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

    async def _wire_request(
        self, method: str, path: str, body: Any, params: dict[str, Any] | None, timeout: float | None
    ) -> Any:
        assert self._wire is not None
        payload = None if body is None else jsonlib.dumps(body, separators=(",", ":")).encode()
        try:
            response = await self._wire.request(
                method,
                path,
                body=payload,
                params=params,
                timeout=self._timeout if timeout is None else timeout,
            )
        except WireError as exc:
            raise AgentAPIError(0, f"cannot reach the Agentspan server: {exc}", self.base_url + path) from exc
        if response.status >= 400:
            text = response.body.decode("utf-8", "replace")
            raise _error_of(response.status, text, self.base_url + path)
        if response.status == 204 or not response.body:
            return None
        return jsonlib.loads(response.body)

    # --- executions -----------------------------------------------------------------------

    async def start(
        self, body: dict[str, Any], *, wait_ms: int = 0, path: str = "/agent/start"
    ) -> dict[str, Any]:
        """Start an execution. With ``wait_ms`` the server waits up to that long for it to
        end and then includes its detail as ``result``. A body with an ``idempotencyKey``
        is sent again after a connection error or a 502/503/504 (the key makes that safe)."""
        params = {"waitMs": wait_ms} if wait_ms else None
        timeout = wait_ms / 1000 + 30 if wait_ms else None
        failures = 0
        while True:
            try:
                result: dict[str, Any] = await self.request(
                    "POST", path, json=body, params=params, timeout=timeout
                )
                return result
            except AgentAPIError as exc:
                # No answer, or a proxy/replica that is briefly unavailable; a 500 is a
                # server bug and is reported at once.
                retryable = exc.status_code in (0, 502, 503, 504)
                failures += 1
                if not (retryable and body.get("idempotencyKey")) or failures > 10:
                    raise
                log.debug("start failed (%s); sending it again", exc)
                await asyncio.sleep(min(0.1 * (2**failures), 2.0))

    # --- deployments ----------------------------------------------------------------------

    async def deploy(self, agent_config: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST", "/deployments", json={"agentConfig": agent_config}
        )
        return result

    async def compile(self, agent_config: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST", "/agent/compile", json={"agentConfig": agent_config}
        )
        return result

    async def deployments(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("GET", "/deployments")
        return result

    async def deployment(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/deployments/{quote(name, safe='')}")
        return result

    async def status(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"/agent/{execution_id}/status")
        return result

    async def detail(
        self, execution_id: str, *, wait_ms: int = 0, include_events: bool = False
    ) -> dict[str, Any]:
        """The execution's detail; with ``wait_ms`` the server answers once the execution
        is terminal or the time is up."""
        params: dict[str, Any] = {}
        if wait_ms:
            params["waitMs"] = wait_ms
        if include_events:
            params["includeEvents"] = "true"
        result: dict[str, Any] = await self.request(
            "GET",
            f"/agent/execution/{execution_id}",
            params=params or None,
            timeout=wait_ms / 1000 + 30 if wait_ms else None,
        )
        return result

    async def wait_terminal(self, execution_id: str, timeout: float | None) -> dict[str, Any]:
        """Long-poll until the execution is terminal; return its detail with its events.

        Rides out a server restart (connection errors are retried with backoff, like the
        event stream); raises ``TimeoutError`` after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        failures = 0
        while True:
            remaining = _WAIT_SLICE if deadline is None else min(deadline - loop.time(), _WAIT_SLICE)
            if remaining <= 0:
                raise TimeoutError
            try:
                detail = await self.detail(
                    execution_id, wait_ms=max(int(remaining * 1000), 1), include_events=True
                )
            except AgentAPIError as exc:
                if exc.status_code != 0 and exc.status_code < 500:
                    raise
                failures += 1
                if failures > 30:
                    raise
                log.debug("waiting for %s failed (%s); retrying", execution_id, exc)
                await asyncio.sleep(min(0.1 * (2**failures), 2.0))
                continue
            failures = 0
            if detail.get("status") in TERMINAL_STATUSES:
                return detail

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

    async def send_message(
        self, execution_id: str, message: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        params = {"idempotencyKey": idempotency_key} if idempotency_key is not None else None
        result: dict[str, Any] = await self.request(
            "POST", f"/agent/{execution_id}/messages", json=message, params=params
        )
        return result

    async def signal(self, execution_id: str, message: str) -> None:
        await self.request("POST", f"/agent/{execution_id}/signal", json={"message": message})

    # --- worker tasks ---------------------------------------------------------------------

    async def poll(
        self, names: list[str], worker_id: str, count: int, wait_ms: int, domain: str | None = None
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"names": names, "workerId": worker_id, "count": count, "waitMs": wait_ms}
        if domain is not None:
            body["domain"] = domain  # the tasks of stateful tools scoped to that execution
        result = await self.request("POST", "/tasks/poll", json=body, timeout=wait_ms / 1000 + 30)
        tasks: list[dict[str, Any]] = result["tasks"]
        return tasks

    async def task_credentials(self, task_id: str, lease_id: str, names: list[str]) -> dict[str, str]:
        """The values of credentials the task's tool declares, for this lease only."""
        body = {"leaseId": lease_id, "names": names}
        values: dict[str, str] = await self.request("POST", f"/tasks/{task_id}/credentials", json=body)
        return values

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
                    lines = response.aiter_lines()
                    async for line in lines:
                        message = decoder.feed(line)
                        if message is None:
                            continue
                        failures = 0
                        if message.id and message.id.isdigit():
                            last = int(message.id)
                        if message.event in TERMINAL_EVENTS:
                            # The server ends the stream right after this event: read to
                            # the end so the connection goes back to the pool instead of
                            # being closed (a new TCP connection per run costs more).
                            await _drain(lines)
                            yield message
                            return
                        yield message
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


async def _drain(lines: AsyncIterator[str], timeout: float = 0.5) -> None:
    async def rest() -> None:
        async for _ in lines:
            pass

    # On a timeout the connection is closed instead of reused; nothing is lost.
    with contextlib.suppress(TimeoutError, httpx.TransportError):
        await asyncio.wait_for(rest(), timeout)


def _api_error(response: httpx.Response) -> AgentAPIError:
    return _error_of(response.status_code, response.text, str(response.request.url))


def _error_of(status: int, text: str, url: str) -> AgentAPIError:
    """An error answer as an exception; a problem document gives the message and code."""
    message = text
    code: str | None = None
    try:
        body = jsonlib.loads(text)
        if isinstance(body, dict):
            message = str(body.get("detail") or body.get("error") or body.get("message") or message)
            code = body.get("code")
    except ValueError:
        pass
    if status == 404:
        return AgentNotFoundError(404, message, url, code)
    return AgentAPIError(status, message, url, code)


__all__ = ["AgentspanError", "ApiClient", "TERMINAL_EVENTS", "default_actor"]
