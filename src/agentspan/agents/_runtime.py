"""``AgentRuntime``: connects to a server, starts executions, runs local workers.

One async implementation (the ``*_core`` coroutines) runs on the runtime's private loop;
the public sync and ``_async`` methods are thin facades over it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
import threading
import uuid
from collections.abc import Callable
from typing import Any

from agentspan.agents._agent import Agent
from agentspan.agents._agent_def import as_agent
from agentspan.agents._config import AgentConfig
from agentspan.agents._deploy import definition_of, deployment_info, discover_agents, start_path
from agentspan.agents._handle import AgentHandle
from agentspan.agents._result import AgentEvent, AgentResult, AgentStatus, DeploymentInfo, result_from_detail
from agentspan.agents._serialize import collect_tool_functions, serialize_agent
from agentspan.agents._stateful import stateful_tools
from agentspan.agents._stream import AgentStream, AsyncAgentStream
from agentspan.agents._system_functions import collect_system_functions
from agentspan.agents.memory import remember_exchange
from agentspan.agents.semantic_memory import with_recall
from agentspan.client._auth import bearer_token
from agentspan.client._autostart import ensure_server
from agentspan.client._http import ApiClient
from agentspan.client._loop import LoopThread
from agentspan.client._worker import WorkerPool
from agentspan.protocol.api import TERMINAL_STATUSES

log = logging.getLogger("agentspan")

EventCallback = Callable[[AgentEvent], None]
# What run/start/stream/serve take: an Agent, the name of a deployed one, or an agent of
# another framework (an OpenAI Agents SDK Agent, ...; docs/frameworks.md).
AgentLike = Agent | str | Any
_FIRST_WAIT_SECONDS = 20.0  # how long ``run()``'s start request may wait for the result


def _not_finished(execution_id: str, timeout: float | None) -> TimeoutError:
    return TimeoutError(
        f"execution {execution_id} did not finish within {timeout}s; it keeps running on the "
        "server (AgentHandle(execution_id=..., runtime=...).join() to wait again)"
    )


class AgentRuntime:
    """A connection to an Agentspan server plus this process's tool workers.

    Use it as a context manager (``with AgentRuntime() as runtime:``); on exit the
    workers stop. Executions keep running on the server either way.
    """

    def __init__(
        self,
        *,
        server_url: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        config: AgentConfig | None = None,
    ) -> None:
        base = config or AgentConfig.from_env()
        overrides: dict[str, Any] = {}
        if server_url is not None:
            overrides["server_url"] = server_url
        if api_key is not None:
            overrides["api_key"] = api_key
        if api_secret is not None:
            overrides["auth_secret"] = api_secret
        self.config = dataclasses.replace(base, **overrides)
        logging.getLogger("agentspan").setLevel(self.config.log_level.upper())
        ensure_server(self.config.root_url, auto_start=self.config.auto_start_server)
        self._loop = LoopThread()
        self._client, self._workers = self._loop.run(self._make_clients())
        self._output_types: dict[str, type] = {}
        self._closed = False
        self._close_lock = threading.Lock()

    async def _make_clients(self) -> tuple[ApiClient, WorkerPool]:
        token = bearer_token(self.config.api_key, self.config.auth_key)
        client = ApiClient(self.config.server_url, api_key=token)
        return client, WorkerPool(client, max_concurrency=max(1, self.config.worker_thread_count))

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> AgentRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    async def __aenter__(self) -> AgentRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown_async()

    def shutdown(self) -> None:
        """Stop this process's workers and close the connection (idempotent)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._loop.run(self._close_core(), timeout=15)
        finally:
            self._loop.stop()
            _stop_kernels()

    async def shutdown_async(self) -> None:
        await asyncio.to_thread(self.shutdown)

    async def _close_core(self) -> None:
        await self._workers.stop()
        await self._client.aclose()

    # --- core (runs on the runtime loop) --------------------------------------------------

    async def _start_core(self, agent: Agent | str, prompt: str | None, **kwargs: Any) -> AgentHandle:
        agent = await _native(agent, kwargs.get("context"))
        body = self._start_body(agent, prompt, **kwargs)
        started = await self._client.start(body, path=start_path(agent))
        return self._started(agent, started)

    def _started(self, agent: Agent | str, started: dict[str, Any]) -> AgentHandle:
        execution_id = str(started["executionId"])
        if isinstance(agent, Agent) and isinstance(agent.output_type, type):
            self._output_types[execution_id] = agent.output_type
        run_id = self._serve_scope(agent, execution_id)
        return AgentHandle(execution_id, self, correlation_id=str(uuid.uuid4()), run_id=run_id)

    def _serve_scope(self, agent: AgentLike, execution_id: str) -> str | None:
        """Poll the calls of ``agent``'s stateful tools scoped to ``execution_id`` from
        this process (on the loop); the execution's id is the run id (the reference's
        worker domain). ``None`` when the agent has no stateful tool."""
        if not isinstance(agent, Agent) or not self.config.auto_start_workers:
            return None
        tools = stateful_tools(agent)
        if not tools:
            return None
        self._workers.serve_scope(execution_id, tools)
        return execution_id

    def _start_body(
        self,
        agent: Agent | str,
        prompt: str | None,
        *,
        version: int | None = None,
        session_id: str | None = None,
        idempotency_key: str | None = None,
        media: list[str] | None = None,
        context: dict[str, Any] | None = None,
        timeout_seconds: float | None = None,
        credentials: list[str] | None = None,
        max_cost_usd: float | None = None,
        max_tokens_total: int | None = None,
    ) -> dict[str, Any]:
        """The start request for ``agent`` (and its tools registered with the workers).

        A string names a deployed agent (``deploy``): the server starts its latest
        version, or ``version``; its tools must be served by some process (``serve``)."""
        body: dict[str, Any] = {}
        if isinstance(agent, str):
            if version is not None:
                body["version"] = version
        else:
            agent = as_agent(agent)
            if not isinstance(agent, Agent):
                raise TypeError(f"expected an Agent or a deployed agent's name, got {type(agent).__name__}")
            if self.config.auto_start_workers:
                self._register_now(agent)
            spec = with_recall(serialize_agent(agent), agent.memory, prompt or "")
            body["agentConfig"] = spec.wire()
        body.update(
            {
                "prompt": prompt or "",
                "sessionId": session_id or "",
                "media": list(media or []),
            }
        )
        if context:
            body["context"] = context
        if idempotency_key:
            body["idempotencyKey"] = idempotency_key
        if timeout_seconds:
            body["timeoutSeconds"] = timeout_seconds
        if credentials:
            body["credentials"] = list(credentials)
        if max_cost_usd is not None:
            body["maxCostUsd"] = max_cost_usd
        if max_tokens_total is not None:
            body["maxTokensTotal"] = max_tokens_total
        return body

    async def _wait_core(
        self, execution_id: str, timeout: float | None, on_event: EventCallback | None = None
    ) -> AgentResult:
        if on_event is None:
            return await self._wait_quiet(execution_id, timeout)
        events: list[AgentEvent] = []

        async def follow() -> None:
            # Live text deltas only matter to an on_event callback; the result keeps the
            # durable events.
            async for message in self._client.events(execution_id, deltas=on_event is not None):
                event = AgentEvent.from_wire(message.event, message.data)
                if on_event is not None:
                    on_event(event)
                if event.id:
                    events.append(event)

        try:
            await asyncio.wait_for(follow(), timeout)
        except TimeoutError:
            raise _not_finished(execution_id, timeout) from None
        return await self._result_core(execution_id, events)

    async def _wait_quiet(self, execution_id: str, timeout: float | None) -> AgentResult:
        """Nobody watches the events as they happen: one long-poll for the final detail
        (events included) instead of a stream plus a read."""
        try:
            detail = await self._client.wait_terminal(execution_id, timeout)
        except TimeoutError:
            raise _not_finished(execution_id, timeout) from None
        return self._final_result(execution_id, detail)

    def _final_result(self, execution_id: str, detail: dict[str, Any]) -> AgentResult:
        _end_kernels(execution_id, detail)
        events = [AgentEvent.from_wire(str(e.get("type", "")), e) for e in detail.get("events") or []]
        return result_from_detail(detail, output_type=self._output_types.get(execution_id), events=events)

    async def _result_core(self, execution_id: str, events: list[AgentEvent]) -> AgentResult:
        detail = await self._client.detail(execution_id)
        _end_kernels(execution_id, detail)
        return result_from_detail(detail, output_type=self._output_types.get(execution_id), events=events)

    def _result_of(self, execution_id: str, events: list[AgentEvent]) -> AgentResult:
        return self._loop.run(self._result_core(execution_id, events))

    async def _run_core(self, agent: Agent | str, prompt: str | None, **kwargs: Any) -> AgentResult:
        timeout = kwargs.pop("timeout", None)
        on_event = kwargs.pop("on_event", None)
        agent = as_agent(await _native(agent, kwargs.get("context")))
        if timeout is None and isinstance(agent, Agent) and agent.timeout_seconds:
            timeout = agent.timeout_seconds + 30  # the server times the run out first
        if on_event is None:
            result = await self._run_quiet(agent, prompt, timeout, kwargs)
        else:
            handle = await self._start_core(agent, prompt, **kwargs)
            result = await self._wait_core(handle.execution_id, timeout, on_event)
            result.correlation_id = handle.correlation_id
        if not kwargs.get("session_id"):  # a session's conversation is kept by the server
            remember_exchange(agent, prompt, result)
        return result

    async def _run_quiet(
        self, agent: Agent | str, prompt: str | None, timeout: float | None, kwargs: dict[str, Any]
    ) -> AgentResult:
        """Start and wait in one request: the server answers with the result when the run
        ends within the first long-poll (a quick run costs one round trip), else with the
        id to keep waiting on. A key of our own makes the start safe to send again after
        a dropped connection: the server returns the execution it already created."""
        body = self._start_body(agent, prompt, **kwargs)
        body.setdefault("idempotencyKey", f"run-{uuid.uuid4()}")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        first_wait = _FIRST_WAIT_SECONDS if timeout is None else min(timeout, _FIRST_WAIT_SECONDS)
        # A stateful agent's calls wait for this process to poll with the new execution's
        # id, so its start cannot also wait for the result.
        wait_ms = 0 if isinstance(agent, Agent) and stateful_tools(agent) else max(int(first_wait * 1000), 1)
        started = await self._client.start(body, wait_ms=wait_ms, path=start_path(agent))
        handle = self._started(agent, started)
        detail = started.get("result")
        if detail is None:
            remaining = None if deadline is None else deadline - loop.time()
            result = await self._wait_quiet(handle.execution_id, remaining)
        else:
            result = self._final_result(handle.execution_id, detail)
        result.correlation_id = handle.correlation_id
        return result

    # --- running agents -------------------------------------------------------------------

    def run(
        self,
        agent: AgentLike,
        prompt: str | None = None,
        *,
        version: int | None = None,
        media: list[str] | None = None,
        session_id: str | None = None,
        idempotency_key: str | None = None,
        on_event: EventCallback | None = None,
        timeout: float | None = None,
        credentials: list[str] | None = None,
        context: dict[str, Any] | None = None,
        max_cost_usd: float | None = None,
        max_tokens_total: int | None = None,
        **kwargs: Any,
    ) -> AgentResult:
        """Run ``agent`` on ``prompt`` and wait for the result (``TimeoutError`` after ``timeout``)."""
        _warn_unknown(kwargs)
        return self._loop.run(
            self._run_core(
                agent,
                prompt,
                version=version,
                media=media,
                session_id=session_id,
                idempotency_key=idempotency_key,
                on_event=on_event,
                timeout=timeout,
                credentials=credentials,
                context=context,
                max_cost_usd=max_cost_usd,
                max_tokens_total=max_tokens_total,
            )
        )

    async def run_async(
        self,
        agent: AgentLike,
        prompt: str | None = None,
        *,
        version: int | None = None,
        media: list[str] | None = None,
        session_id: str | None = None,
        idempotency_key: str | None = None,
        on_event: EventCallback | None = None,
        timeout: float | None = None,
        credentials: list[str] | None = None,
        context: dict[str, Any] | None = None,
        max_cost_usd: float | None = None,
        max_tokens_total: int | None = None,
        **kwargs: Any,
    ) -> AgentResult:
        _warn_unknown(kwargs)
        return await self._loop.run_async(
            self._run_core(
                agent,
                prompt,
                version=version,
                media=media,
                session_id=session_id,
                idempotency_key=idempotency_key,
                on_event=on_event,
                timeout=timeout,
                credentials=credentials,
                context=context,
                max_cost_usd=max_cost_usd,
                max_tokens_total=max_tokens_total,
            )
        )

    def start(
        self,
        agent: AgentLike,
        prompt: str | None = None,
        *,
        version: int | None = None,
        media: list[str] | None = None,
        session_id: str | None = None,
        idempotency_key: str | None = None,
        context: dict[str, Any] | None = None,
        max_cost_usd: float | None = None,
        max_tokens_total: int | None = None,
        **kwargs: Any,
    ) -> AgentHandle:
        """Start ``agent`` and return at once with a handle to the execution."""
        _warn_unknown(kwargs)
        return self._loop.run(
            self._start_core(
                agent,
                prompt,
                version=version,
                session_id=session_id,
                idempotency_key=idempotency_key,
                media=media,
                context=context,
                max_cost_usd=max_cost_usd,
                max_tokens_total=max_tokens_total,
            )
        )

    async def start_async(
        self,
        agent: AgentLike,
        prompt: str | None = None,
        *,
        version: int | None = None,
        media: list[str] | None = None,
        session_id: str | None = None,
        idempotency_key: str | None = None,
        context: dict[str, Any] | None = None,
        max_cost_usd: float | None = None,
        max_tokens_total: int | None = None,
        **kwargs: Any,
    ) -> AgentHandle:
        _warn_unknown(kwargs)
        return await self._loop.run_async(
            self._start_core(
                agent,
                prompt,
                version=version,
                session_id=session_id,
                idempotency_key=idempotency_key,
                media=media,
                context=context,
                max_cost_usd=max_cost_usd,
                max_tokens_total=max_tokens_total,
            )
        )

    def stream(
        self,
        agent: AgentLike | None = None,
        prompt: str | None = None,
        *,
        version: int | None = None,
        handle: AgentHandle | None = None,
        media: list[str] | None = None,
        session_id: str | None = None,
        **kwargs: Any,
    ) -> AgentStream:
        """Start ``agent`` (or follow ``handle``) and iterate its events."""
        if handle is None:
            if agent is None or prompt is None:
                raise ValueError("stream() needs an agent and a prompt, or handle=")
            handle = self.start(agent, prompt, version=version, media=media, session_id=session_id, **kwargs)
        return AgentStream(handle, self)

    async def stream_async(
        self,
        agent: AgentLike | None = None,
        prompt: str | None = None,
        *,
        version: int | None = None,
        handle: AgentHandle | None = None,
        media: list[str] | None = None,
        session_id: str | None = None,
        **kwargs: Any,
    ) -> AsyncAgentStream:
        if handle is None:
            if agent is None or prompt is None:
                raise ValueError("stream_async() needs an agent and a prompt, or handle=")
            handle = await self.start_async(
                agent, prompt, version=version, media=media, session_id=session_id, **kwargs
            )
        return AsyncAgentStream(handle, self)

    def _join(self, execution_id: str, timeout: float | None) -> AgentResult:
        return self._loop.run(self._wait_core(execution_id, timeout))

    async def _join_async(self, execution_id: str, timeout: float | None) -> AgentResult:
        return await self._loop.run_async(self._wait_core(execution_id, timeout))

    # --- workers --------------------------------------------------------------------------

    def serve(self, *agents: AgentLike, packages: list[str] | None = None, blocking: bool = True) -> None:
        """Serve the tools of ``agents`` for executions started anywhere.

        With ``blocking=True`` (the default) this waits until SIGINT/SIGTERM, then shuts
        the runtime down.
        """
        agents = (*agents, *discover_agents(packages or []))
        if not agents:
            raise ValueError("serve() needs at least one agent (or packages= holding some)")
        tools = {}
        for given in agents:
            if isinstance(given, str):
                continue  # a name: its tools are served by whoever has its definition
            agent = as_agent(self._loop.run(_native(given, None, serving=True)))
            tools.update(collect_tool_functions(agent))
            tools.update(collect_system_functions(agent))
        self._loop.run(self._register(list(tools.values())))
        log.info("serving tools: %s", ", ".join(sorted(tools)) or "(none)")
        if not blocking:
            return
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        # A blocking serve() is often the whole program: say what it does, on stderr, so
        # a terminal that shows nothing else does not look hung (after the handlers: a
        # Ctrl+C right after the message stops it cleanly).
        print(serving_banner(agents, sorted(tools), self.config.server_url), file=sys.stderr, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        finally:
            self.shutdown()

    async def _register(self, tools: list[Any]) -> None:
        self._workers.register(tools)

    def _register_now(self, agent: Agent) -> None:
        """Serve ``agent``'s tools and decision functions from this process (on the loop)."""
        self._workers.register(collect_tool_functions(agent).values())
        self._workers.register(collect_system_functions(agent).values())

    # --- deployments ----------------------------------------------------------------------

    def deploy(self, *agents: AgentLike, packages: list[str] | None = None) -> list[DeploymentInfo]:
        """Store each agent's definition on the server as the next version of its name, so
        any process can run it by name (``run("name", prompt)``); nothing is served here."""
        return self._loop.run(self._deploy_core(agents, packages))

    async def deploy_async(
        self, *agents: AgentLike, packages: list[str] | None = None
    ) -> list[DeploymentInfo]:
        return await self._loop.run_async(self._deploy_core(agents, packages))

    async def _deploy_core(
        self, agents: tuple[AgentLike, ...], packages: list[str] | None
    ) -> list[DeploymentInfo]:
        found = [*agents, *discover_agents(packages or [])]
        if not found:
            raise ValueError("deploy() needs at least one agent (or packages= holding some)")
        natives = [as_agent(await _native(a, None, serving=True)) for a in found]
        return [deployment_info(await self._client.deploy(definition_of(a))) for a in natives]

    def plan(self, agent: AgentLike) -> dict[str, Any]:
        """The definition the server would store for ``agent`` (``agentConfig``, after
        templates and discovering tools), the worker tasks it needs (``requiredWorkers``)
        and its ``specHash``; nothing runs. A string plans the latest deployed version."""
        return self._loop.run(self._plan_core(agent))

    async def _plan_core(self, agent: AgentLike) -> dict[str, Any]:
        if isinstance(agent, str):
            return await self._client.deployment(agent)
        native = as_agent(await _native(agent, None, serving=True))
        return await self._client.compile(definition_of(native))

    def prepare(self, agent: AgentLike) -> dict[str, Any] | None:
        """Serve ``agent``'s tools from this process before the first start, and return
        its plan (``plan``); a string (a deployed agent's name) is ignored (``None``)."""
        if isinstance(agent, str):
            return None
        native = as_agent(self._loop.run(_native(agent, None, serving=True)))
        self._loop.run(self._register(list(collect_tool_functions(native).values())))
        self._loop.run(self._register(list(collect_system_functions(native).values())))
        return self.plan(native)

    # --- control --------------------------------------------------------------------------

    def get_status(self, execution_id: str) -> AgentStatus:
        return self._loop.run(self._status_core(execution_id))

    async def get_status_async(self, execution_id: str) -> AgentStatus:
        return await self._loop.run_async(self._status_core(execution_id))

    async def _status_core(self, execution_id: str) -> AgentStatus:
        return AgentStatus.from_wire(await self._client.status(execution_id))

    def respond(self, execution_id: str, output: Any) -> None:
        self._loop.run(self._client.respond(execution_id, _as_body(output)))

    async def respond_async(self, execution_id: str, output: Any) -> None:
        await self._loop.run_async(self._client.respond(execution_id, _as_body(output)))

    def approve(self, execution_id: str) -> None:
        self.respond(execution_id, {"approved": True})

    async def approve_async(self, execution_id: str) -> None:
        await self.respond_async(execution_id, {"approved": True})

    def reject(self, execution_id: str, reason: str = "") -> None:
        self.respond(execution_id, {"approved": False, "reason": reason})

    async def reject_async(self, execution_id: str, reason: str = "") -> None:
        await self.respond_async(execution_id, {"approved": False, "reason": reason})

    def pause(self, execution_id: str) -> None:
        self._loop.run(self._client.pause(execution_id))

    async def pause_async(self, execution_id: str) -> None:
        await self._loop.run_async(self._client.pause(execution_id))

    def resume(
        self, execution_id: str, agent: AgentLike | None = None, *, timeout: float | None = None
    ) -> Any:
        """With ``agent``: re-attach to ``execution_id`` after a restart (serve the agent's
        tools from this process) and return its ``AgentHandle``. Without: un-pause it."""
        if agent is None:
            self._loop.run(self._client.resume(execution_id))
            return None
        self.serve(agent, blocking=False)
        native = as_agent(self._loop.run(_native(agent, None, serving=True)))
        run_id = self._loop.run(self._serve_scope_async(native, execution_id))
        return AgentHandle(execution_id, self, run_id=run_id)

    async def _serve_scope_async(self, agent: AgentLike, execution_id: str) -> str | None:
        return self._serve_scope(agent, execution_id)

    async def resume_async(
        self, execution_id: str, agent: AgentLike | None = None, *, timeout: float | None = None
    ) -> Any:
        if agent is None:
            await self._loop.run_async(self._client.resume(execution_id))
            return None
        await asyncio.to_thread(self.serve, agent, blocking=False)
        native = as_agent(await self._loop.run_async(_native(agent, None, serving=True)))
        run_id = await self._loop.run_async(self._serve_scope_async(native, execution_id))
        return AgentHandle(execution_id, self, run_id=run_id)

    def cancel(self, execution_id: str, reason: str = "") -> None:
        self._loop.run(self._client.cancel(execution_id, reason))

    async def cancel_async(self, execution_id: str, reason: str = "") -> None:
        await self._loop.run_async(self._client.cancel(execution_id, reason))

    def stop(self, execution_id: str) -> None:
        self._loop.run(self._client.stop(execution_id))

    async def stop_async(self, execution_id: str) -> None:
        await self._loop.run_async(self._client.stop(execution_id))

    def send_message(self, execution_id: str, message: Any, *, idempotency_key: str | None = None) -> None:
        """Queue a message for the run's ``wait_for_message_tool`` calls (a non-dict is
        sent as ``{"message": value}``); durable, taken in order, each by one call. A send
        repeated with the same ``idempotency_key`` (e.g. a retry after a timeout) is
        queued once."""
        self._loop.run(self._client.send_message(execution_id, _as_message(message), idempotency_key))

    async def send_message_async(
        self, execution_id: str, message: Any, *, idempotency_key: str | None = None
    ) -> None:
        await self._loop.run_async(
            self._client.send_message(execution_id, _as_message(message), idempotency_key)
        )

    def signal(self, execution_id: str, message: str) -> None:
        """Set a note the model sees with every later call (``[SIGNALS]...``); ``""`` clears it."""
        self._loop.run(self._client.signal(execution_id, message))

    async def signal_async(self, execution_id: str, message: str) -> None:
        await self._loop.run_async(self._client.signal(execution_id, message))


async def _native(agent: Any, context: Any, *, serving: bool = False) -> Any:
    """An agent of another framework (OpenAI Agents SDK, ...) as a native ``Agent``; the
    adapter is imported only when such an object is passed (docs/frameworks.md)."""
    if isinstance(agent, Agent | str):
        return agent
    from agentspan.frameworks import to_native_agent

    return await to_native_agent(agent, context=context, serving=serving)


def _as_body(output: Any) -> dict[str, Any]:
    return output if isinstance(output, dict) else {"output": output}


def _as_message(message: Any) -> dict[str, Any]:
    return message if isinstance(message, dict) else {"message": message}


def _warn_unknown(kwargs: dict[str, Any]) -> None:
    if kwargs:
        log.warning("ignoring unrecognised arguments: %s", ", ".join(sorted(kwargs)))


def _stop_kernels() -> None:
    """Jupyter kernels live as long as the workers that use them (only if the module was
    ever loaded: most programs never start one)."""
    jupyter = sys.modules.get("agentspan.agents._sandbox.jupyter")
    if jupyter is not None:
        jupyter.shutdown_all_kernels()


def _end_kernels(execution_id: str, detail: dict[str, Any]) -> None:
    """A finished execution's Jupyter kernels in this process go with it (a worker in
    another process relies on the executor's idle timeout)."""
    jupyter = sys.modules.get("agentspan.agents._sandbox.jupyter")
    if jupyter is not None and detail.get("status") in TERMINAL_STATUSES:
        jupyter.end_execution(execution_id)


def serving_banner(agents: tuple[Any, ...], tools: list[str], server_url: str) -> str:
    """What a blocking ``serve()`` prints: which agents and tools, where, and that it waits."""
    names = ", ".join(a if isinstance(a, str) else str(getattr(a, "name", a)) for a in agents)
    served = ", ".join(tools) if tools else "(no tools: nothing to run here)"
    return (
        f"agentspan: serving {len(tools)} tool(s) of {names} for {server_url}: {served}\n"
        "agentspan: waiting for tool calls from executions started anywhere (Ctrl+C to stop)"
    )
