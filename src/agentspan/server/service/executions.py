"""``ExecutionService``: everything a client can do to or ask of an execution.

The HTTP edge parses a request into protocol models and calls one method here; this
layer reads the store, waits on the hub, builds the engine's inputs and hands them to
the driver. Errors leave as ``DomainError`` (``server/errors.py``), never as HTTP.
Every method takes the calling ``Principal`` first: authorization goes here, once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, get_args

from agentspan.protocol.api import (
    TERMINAL_STATUSES,
    ExecutionDetail,
    ExecutionList,
    ExecutionStatus,
    ForkRequest,
    ForkResponse,
    MessageQueued,
    RespondRequest,
    RespondResult,
    StartRequest,
    StartResponse,
    StatusResponse,
    StreamEvent,
    TokenUsageWire,
    WaitingList,
)
from agentspan.protocol.errors import ErrorCode
from agentspan.protocol.spec import AgentConfig
from agentspan.server.driver import Driver
from agentspan.server.engine.model import (
    ApprovalDecided,
    Cancel,
    HumanAnswered,
    Input,
    Pause,
    Resume,
    Selection,
    Stop,
)
from agentspan.server.engine.schema_check import check
from agentspan.server.engine.waits import pending_tool
from agentspan.server.errors import BaseUrlNotAllowed, InvalidState, NotFound, ValidationFailed, not_found
from agentspan.server.executors.media_tool import check_media_tools
from agentspan.server.service.approvals import waiting_list
from agentspan.server.service.credentials import check_declarations
from agentspan.server.service.forks import Forks, inherited_usage
from agentspan.server.service.inbox import Inbox
from agentspan.server.service.limits import Limits, ModelProblem, check_answer, check_start
from agentspan.server.service.principal import Principal
from agentspan.server.service.queries import (
    add_usage,
    detail_view,
    event_view,
    list_cursor,
    parse_cursor,
    state_of,
    status_view,
    summary_view,
    usage_view,
)
from agentspan.server.service.stream import sse_frames
from agentspan.server.service.templates import PromptTemplates
from agentspan.server.service.tools import ToolExpander
from agentspan.server.store.base import ExecutionRow

Control = Literal["pause", "resume", "stop", "cancel"]
Gone = Callable[[], Awaitable[bool]]

_YES = ("yes", "y", "true", "approve", "approved")
_NO = ("no", "n", "false", "reject", "rejected")

EXECUTION_STATUSES: tuple[str, ...] = get_args(ExecutionStatus)


class ExecutionService:
    """Start, read, answer and steer executions (the client side of the API)."""

    def __init__(
        self,
        driver: Driver,
        base_url_allowed: Callable[[str], bool] = lambda _: False,
        limits: Limits | None = None,
        model_problem: ModelProblem | None = None,
        tools: ToolExpander | None = None,
        templates: PromptTemplates | None = None,
    ) -> None:
        """``base_url_allowed`` says whether an agent may name its own model endpoint
        (``Settings.base_url_allowed``; by default none may); ``limits`` bound what a
        request may ask for; ``model_problem`` says why a model string names no provider
        (``ProviderRegistry.model_problem``; ``None``: model strings are not checked);
        ``tools`` expands discovering tools at start (``api_tool``; default settings
        without one); ``templates`` renders ``PromptTemplate`` instructions (by default
        there are none)."""
        self.driver = driver
        self.base_url_allowed = base_url_allowed
        self.limits = limits or Limits()
        self.model_problem = model_problem
        self.tools = tools or ToolExpander()
        self.templates = templates or PromptTemplates(None)
        self.store = driver.store
        self.hub = driver.hub
        self.inbox = Inbox(driver, self.limits)
        """``send_message``, ``signal`` and the stop that releases a message wait."""
        self.forks = Forks(driver, self.limits, model_problem)

    # --- starting -----------------------------------------------------------------------

    async def start(self, principal: Principal, req: StartRequest, wait_ms: int = 0) -> StartResponse:
        """Start (or, with a known idempotency key, find) an execution. With ``wait_ms``
        the answer waits for the run to end and carries its detail, events included.
        Limits and model strings are checked first: they are cheap, and bound the rest."""
        started = await self.driver.start(await self.prepare(req))
        if wait_ms:
            row = await self._wait_terminal(started.execution_id, wait_ms)
            if row.status in TERMINAL_STATUSES:
                started.result = await self._detail_of(row, include_events=True)
        return started

    async def prepare(self, req: StartRequest) -> StartRequest:
        """``req`` as the server will store and run it, after every check a start makes
        before anything is written (limits, models, endpoints, credential declarations),
        with prompt templates rendered and discovering tools expanded. Also what
        ``compile`` and a deploy store, so a deployed definition runs as compiled."""
        check_start(req, self.limits, self.model_problem)
        self._check_base_urls(req.agent_config)
        check_declarations(req.agent_config, req.credentials)
        check_media_tools(req.agent_config)
        rendered = self.templates.resolve(req.agent_config)  # stored rendered: never re-read
        if rendered is not req.agent_config:
            req = req.model_copy(update={"agent_config": rendered})
        expanded = await self.tools.expand(req)  # before the spec is stored: never discovered again
        if expanded is not req:
            check_start(expanded, self.limits, self.model_problem)  # discovered tools count too
        return expanded

    def _check_base_urls(self, spec: AgentConfig, path: str = "") -> None:
        """Refuse a tree in which an agent names a model endpoint the operator has not
        allowed: a caller must not be able to point the server's model calls anywhere."""
        where = f"{path}{spec.name}"
        if spec.base_url is not None and not self.base_url_allowed(spec.base_url):
            raise BaseUrlNotAllowed(
                f"agent '{where}': baseUrl {spec.base_url!r} is not allowed on this server "
                "(the operator lists allowed model endpoints in AGENTSPAN_ALLOWED_BASE_URLS)"
            )
        for nested in spec.nested_agents():
            self._check_base_urls(nested, f"{where}/")

    async def fork(self, principal: Principal, execution_id: str, req: ForkRequest) -> ForkResponse:
        """A new execution that runs ``execution_id`` again from the model call at
        ``req.from_step`` (``service/forks.py``)."""
        return await self.forks.fork(execution_id, req)

    # --- reading ------------------------------------------------------------------------

    async def status(self, principal: Principal, execution_id: str) -> StatusResponse:
        """The execution's status; while it runs without a wait of its own, a wait of one
        of its descendants (a sub-agent's approval, a person's turn in a team) is shown as
        its wait, with that descendant's ``executionId`` in ``pendingTool``, so the handle a
        user holds can see and answer it."""
        row = await self._row(execution_id)
        view = status_view(row)
        if row.parent_id is None:  # forks are of top-level executions only
            view.forked_from = await self.forks.origin_of(row.id)
        if view.is_waiting or view.is_complete:
            return view
        found = await self._waiting_descendant(row)
        if found is None:
            return view
        inner = status_view(found)
        return view.model_copy(
            update={
                "is_waiting": True,
                "pending_tool": {**(inner.pending_tool or {}), "executionId": found.id},
                "waiting_reason": f"{found.agent_name}: {inner.waiting_reason}",
            }
        )

    async def detail(
        self, principal: Principal, execution_id: str, *, wait_ms: int = 0, include_events: bool = False
    ) -> ExecutionDetail:
        """The detail; with ``wait_ms``, once the execution is terminal or the time is up."""
        row = await self._wait_terminal(execution_id, wait_ms)
        return await self._detail_of(row, include_events=include_events)

    async def wait_terminal(self, principal: Principal, execution_id: str, wait_ms: int) -> ExecutionRow:
        """The execution's row once it is terminal, or as it is when ``wait_ms`` is up."""
        return await self._wait_terminal(execution_id, wait_ms)

    async def list_executions(
        self,
        principal: Principal,
        *,
        status: str | None = None,
        agent_name: str | None = None,
        parent_id: str | None = None,
        include_children: bool = False,
        size: int = 20,
        start: int = 0,
        cursor: str | None = None,
        search: str | None = None,
    ) -> ExecutionList:
        """A page, newest first: by offset (``start``) or, faster at depth, after a
        ``cursor`` an earlier page handed out (``nextCursor``)."""
        if status and status.upper() not in EXECUTION_STATUSES:
            choices = ", ".join(EXECUTION_STATUSES)
            raise ValidationFailed(f"status: unknown status {status!r}; use one of {choices}")
        before = parse_cursor(cursor) if cursor else None
        if cursor and before is None:
            raise ValidationFailed(f"cursor: {cursor!r} is not a cursor this server handed out (nextCursor)")
        total, rows = await self.store.list_executions(
            status=status.upper() if status else None,
            agent_name=agent_name,
            parent_id=parent_id,
            roots_only=not include_children and parent_id is None,
            limit=size + 1,  # one more than asked: whether a next page exists
            offset=start,
            before=before,
            search=search.strip() or None if search else None,
        )
        page = rows[:size]
        return ExecutionList(
            total_hits=total,
            results=[summary_view(r) for r in page],
            next_cursor=list_cursor(page[-1]) if len(rows) > size else None,
        )

    async def waiting(
        self, principal: Principal, *, size: int = 50, cursor: str | None = None
    ) -> WaitingList:
        """The approvals inbox (``service/approvals.py``)."""
        before = parse_cursor(cursor) if cursor else None
        if cursor and before is None:
            raise ValidationFailed(f"cursor: {cursor!r} is not a cursor this server handed out (nextCursor)")
        return await waiting_list(self.store, size=size, cursor=before)

    async def events(
        self, principal: Principal, execution_id: str, *, after: int = 0, limit: int = 1000
    ) -> list[StreamEvent]:
        """The stored event log after event ``after`` (history, not live)."""
        await self._row(execution_id)
        return [event_view(e) for e in await self.store.list_events(execution_id, after, limit)]

    async def stream(
        self, principal: Principal, execution_id: str, *, after: int, deltas: bool, gone: Gone
    ) -> AsyncIterator[str]:
        """The live stream's SSE frames, from after event ``after`` to the terminal event.

        The execution is looked up now (an unknown id raises before any frame is due),
        and the frames are produced only as the caller iterates."""
        await self._row(execution_id)
        return sse_frames(self.store, self.hub, gone, execution_id, after, deltas)

    async def tree_usage(self, principal: Principal, execution_id: str) -> TokenUsageWire:
        """Token usage and cost of an execution and all its descendants."""
        row = await self._row(execution_id)
        return await self._tree_usage(row, await self.store.children_of(row.id))

    # --- answering and steering ---------------------------------------------------------

    async def respond(
        self, principal: Principal, execution_id: str, answer: RespondRequest, actor: str
    ) -> RespondResult:
        """Apply a human's answer: a selection (manual teams) or an approval decision.

        Who decided (``decidedBy``) is the caller's key name when keys are required, so
        an approver cannot claim to be someone else; without keys it is what the body or
        ``actor`` (the request's self-declared actor) says."""
        check_answer(answer, self.limits)
        who = (answer.decided_by or actor) if principal.anonymous else principal.name
        inp: Selection | ApprovalDecided | HumanAnswered
        execution_id = await self._answered_by(execution_id)
        if answer.is_selection:
            chosen = answer.choice
            inp = Selection(
                selected=None if chosen is None else str(chosen),
                decided_by=who,
                decided_at=time.time(),
            )
        else:
            waiting = await self._waiting_for(execution_id, answer.task_ref_name or answer.call_id)
            if waiting is not None and waiting.get("kind") == "messages":
                raise InvalidState(
                    f"tool '{waiting.get('tool_name')}' waits for a message: send it with send_message "
                    f"(POST /api/agent/{execution_id}/messages), not /respond",
                    ErrorCode.NOT_WAITING,
                )
            if waiting is not None and waiting.get("kind") == "human":
                inp = self._human_answer(answer, waiting, who)
            elif waiting is None and answer.approved is None:
                raise InvalidState("the execution is not waiting for an answer", ErrorCode.NOT_WAITING)
            else:
                inp = _approval_from(answer, who)
                _check_answer(inp, waiting, await self._tool_schema(execution_id, waiting, inp))
        await self.driver.apply(execution_id, inp)
        return RespondResult(execution_id=execution_id, decided_by=inp.decided_by)

    async def control(
        self, principal: Principal, execution_id: str, action: Control, reason: str = ""
    ) -> None:
        """Pause, resume, stop or cancel (``reason`` is kept with a cancel)."""
        if action == "stop":
            await self.inbox.stop(principal, execution_id)
            return
        inputs: dict[Control, Input] = {
            "pause": Pause(),
            "resume": Resume(),
            "stop": Stop(),
            "cancel": Cancel(reason=reason),
        }
        await self.driver.apply(execution_id, inputs[action])

    async def send_message(
        self, principal: Principal, execution_id: str, message: Any, idempotency_key: str | None = None
    ) -> MessageQueued:
        return await self.inbox.send(principal, execution_id, message, idempotency_key)

    async def media(self, principal: Principal, execution_id: str, media_id: str) -> tuple[str, bytes]:
        """A file a media tool of the execution made: its content type and bytes."""
        row = await self.store.get_media(media_id)
        if row is None or row.execution_id != execution_id:
            raise NotFound(f"execution {execution_id!r} has no media {media_id!r}", ErrorCode.NOT_FOUND)
        return row.content_type, row.data

    async def signal(self, principal: Principal, execution_id: str, message: str) -> None:
        await self.inbox.signal(principal, execution_id, message)

    # --- helpers ------------------------------------------------------------------------

    async def _answered_by(self, execution_id: str) -> str:
        """Which execution an answer sent to ``execution_id`` is for: itself when it waits
        (or has ended: the answer is refused there), else its first waiting descendant."""
        row = await self._row(execution_id)
        view = status_view(row)
        if view.is_waiting or view.is_complete:
            return execution_id
        found = await self._waiting_descendant(row)
        return found.id if found is not None else execution_id

    async def _waiting_descendant(self, row: ExecutionRow, depth: int = 0) -> ExecutionRow | None:
        """The first running descendant (depth first, in start order) that waits for a
        person. Ended children are skipped, so a long team's history costs one read."""
        if depth >= self.limits.agent_depth:
            return None
        for child in await self.store.children_of(row.id):
            if child.status in TERMINAL_STATUSES:
                continue
            if status_view(child).is_waiting:
                return child
            deeper = await self._waiting_descendant(child, depth + 1)
            if deeper is not None:
                return deeper
        return None

    async def _waiting_for(self, execution_id: str, call_id: str | None) -> dict[str, Any] | None:
        """The ``pendingTool`` an answer is for (the one named, else the first waiting)."""
        row = await self._row(execution_id)
        waiting = status_view(row).pending_tool
        if call_id and (not waiting or call_id not in (waiting.get("taskRefName"), waiting.get("tool_name"))):
            call = state_of(row).calls.get(call_id)  # another of the calls waiting
            waiting = pending_tool(call) if call is not None and call.status == "awaiting_approval" else None
        return waiting

    async def _tool_schema(
        self, execution_id: str, waiting: dict[str, Any] | None, inp: ApprovalDecided
    ) -> dict[str, Any] | None:
        """The input schema of the waiting call's tool, when the answer edits its arguments."""
        if waiting is None or waiting.get("kind") != "approval" or "arguments" not in inp.extra:
            return None
        tool = (await self.driver.spec_of(await self._row(execution_id))).tool(str(waiting.get("tool_name")))
        return tool.input_schema if tool is not None else {}

    @staticmethod
    def _human_answer(answer: RespondRequest, waiting: dict[str, Any], who: str) -> HumanAnswered:
        """A person's answer to a ``human`` tool: the body, checked against its schema."""
        body = {**answer.model_dump(exclude_unset=True, exclude=set(_ROUTING)), **answer.extras()}
        problems = check(body, waiting.get("response_schema") or {})
        if problems:
            raise ValidationFailed(_mismatch(waiting, problems))
        return HumanAnswered(
            answer=body, decided_by=who, decided_at=time.time(), call_id=str(waiting.get("taskRefName"))
        )

    async def _row(self, execution_id: str) -> ExecutionRow:
        row = await self.store.get_execution(execution_id)
        if row is None:
            raise not_found(execution_id)
        return row

    async def _wait_terminal(self, execution_id: str, wait_ms: int) -> ExecutionRow:
        deadline = time.monotonic() + wait_ms / 1000
        keys = [f"done:{execution_id}"]  # woken by the step that ends it, not by every step
        while True:
            wake = self.hub.listen(keys)  # before reading, so no commit slips between
            try:
                row = await self._row(execution_id)
                remaining = deadline - time.monotonic()
                if row.status in TERMINAL_STATUSES or remaining <= 0 or self.hub.closing():
                    return row  # at shutdown: the status as it is, as when the wait runs out
                await self.hub.wait_for(wake, remaining)
            finally:
                self.hub.unlisten(keys, wake)

    async def _detail_of(self, row: ExecutionRow, *, include_events: bool) -> ExecutionDetail:
        events = await self.store.list_events(row.id, 0, 100_000)
        messages = await self.store.list_messages(row.id)
        children = await self.store.children_of(row.id)
        view = detail_view(row, events, messages, children)
        view.metadata = (await self.driver.spec_of(row)).metadata
        view.token_usage = await self._tree_usage(row, children, view.token_usage)
        if row.parent_id is None:
            view.forked_from, view.forks = await self.forks.links_of(row.id)
            if view.forked_from is not None:
                view.inherited_usage = inherited_usage([e for e in events if e.seq < view.forked_from.step])
        if include_events:
            view.events = [event_view(e) for e in events]
        return view

    async def _tree_usage(
        self, row: ExecutionRow, children: list[ExecutionRow], own: TokenUsageWire | None = None
    ) -> TokenUsageWire:
        total = (own or usage_view(state_of(row))).model_copy()
        level = children
        while level:
            next_level: list[ExecutionRow] = []
            for child in level:
                add_usage(total, usage_view(state_of(child)))
                next_level.extend(await self.store.children_of(child.id))
            level = next_level
        return total


_ROUTING = ("task_ref_name", "call_id", "decided_by", "selected", "agent")
"""``/respond`` fields that say which wait and who, not what the answer is."""


def _mismatch(waiting: dict[str, Any], problems: list[str]) -> str:
    return f"the answer does not match what {waiting.get('tool_name')!r} waits for: " + "; ".join(problems)


def _check_answer(
    inp: ApprovalDecided, waiting: dict[str, Any] | None, tool_schema: dict[str, Any] | None
) -> None:
    """An approval must fit the wait's ``response_schema`` (and edited ``arguments`` the
    tool's input schema): a 400 naming what is wrong, else the engine decides it (once: a
    compare-and-set on the execution's state)."""
    if not waiting:
        return  # nothing (or not that) waits: the engine says so (409)
    body = {"approved": inp.approved, **({"reason": inp.reason} if inp.reason else {}), **inp.extra}
    problems = check(body, waiting.get("response_schema") or {})
    edited = inp.extra.get("arguments")
    if not problems and tool_schema is not None:
        if isinstance(edited, dict):
            problems = [p.replace("$", "$.arguments", 1) for p in check(edited, tool_schema)]
        else:
            problems = ["$.arguments: must be an object (the call's new arguments)"]
    if problems:
        raise ValidationFailed(_mismatch(waiting, problems))


def _approval_from(answer: RespondRequest, who: str) -> ApprovalDecided:
    approved = answer.approved
    if isinstance(approved, str):
        word = approved.strip().lower()
        approved = True if word in _YES else False if word in _NO else None
    if approved is None:
        raise ValidationFailed(
            'the execution waits for an approval: send {"approved": true} or '
            '{"approved": false, "reason": "..."}'
        )
    call_id = answer.task_ref_name or answer.call_id
    return ApprovalDecided(
        approved=approved,
        reason=answer.reason or "",
        decided_by=who,
        decided_at=time.time(),
        call_id=call_id or None,
        extra=answer.extras(),
    )
