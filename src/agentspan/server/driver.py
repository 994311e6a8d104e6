"""The driver: applies inputs to executions, one transaction per step.

For every input it loads the execution, runs the pure ``decide``, and writes the new
state, its events, its messages and the commands' tasks (a transactional outbox) in the
same transaction. Children start, and parents hear about finished children, inside that
same transaction too, so a crash can never leave a parent and child disagreeing.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
import uuid
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Literal

from agentspan.protocol.api import TERMINAL_STATUSES, StartRequest, StartResponse, scoped_name
from agentspan.protocol.errors import ErrorCode
from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.functions import CONVERSATION
from agentspan.server.engine.loop import decide, link_child
from agentspan.server.engine.model import (
    CallLlm,
    Cancel,
    CancelChild,
    ChildFinished,
    ControlChild,
    Decision,
    DropTasks,
    ExecState,
    Fork,
    Input,
    Pause,
    PullMessages,
    Rejected,
    Resume,
    RunTool,
    SetTimer,
    Start,
    StartChild,
    Stop,
    ToolFailed,
    ToolSucceeded,
)
from agentspan.server.engine.options import unhonoured
from agentspan.server.engine.session_state import inherited, shared_state
from agentspan.server.engine.specs import find_tool
from agentspan.server.engine.strategies.graph import is_graph
from agentspan.server.engine.tool_calls import executor_of
from agentspan.server.errors import Internal, InvalidAgent, InvalidState, ValidationFailed, not_found
from agentspan.server.executors.base import ExecutorRegistry, Job, ServerRunner
from agentspan.server.executors.prompts import instructions_of
from agentspan.server.hub import Hub
from agentspan.server.memory import check_memory, load_history, record_exchange
from agentspan.server.message_queue import pull
from agentspan.server.observability.trace_ids import traceparent
from agentspan.server.observers import Notification, ObserverBus, StepCommitted
from agentspan.server.run_credentials import available_to_tools, run_credentials
from agentspan.server.store.base import Budget, EventRow, ExecutionRow, ForkRow, Store, TaskRow, Tx

_REJECTION_CODES = {
    "not_waiting": ErrorCode.NOT_WAITING,
    "invalid_state": ErrorCode.INVALID_STATE,
    "already_decided": ErrorCode.ALREADY_DECIDED,
}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


@dataclass(slots=True)
class Effects:
    """What to do once the transaction has committed: keys to wake up, server-side tasks
    already leased to this server to start (see ``ServerRunner``), and notifications for
    the observers (``None`` until the first: no observer, no allocation)."""

    keys: set[str] = field(default_factory=set)
    handoffs: list[Job] = field(default_factory=list)
    """Tasks leased to this server, with the execution row and state as committed."""
    notes: list[Notification] | None = None

    def note(self, notification: Notification) -> None:
        if self.notes is None:
            self.notes = []
        self.notes.append(notification)


class UnitOfWork:
    """``async with driver.unit_of_work() as (tx, effects)``: one transaction, whose
    effects (wake-ups, handoffs, observer notifications) happen only once it committed.
    A plain class rather than ``@asynccontextmanager``: it is on every step's path."""

    __slots__ = ("_driver", "_transaction", "effects")

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._transaction = driver.store.transaction()
        self.effects = Effects()

    async def __aenter__(self) -> tuple[Tx, Effects]:
        return await self._transaction.__aenter__(), self.effects

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        suppressed = await self._transaction.__aexit__(exc_type, exc, tb)
        if exc_type is None:
            self._driver.after_commit(self.effects)
        return suppressed


class Driver:
    def __init__(
        self,
        store: Store,
        hub: Hub,
        executors: ExecutorRegistry | None = None,
        observers: ObserverBus | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.executors = executors or ExecutorRegistry()
        self.observers = observers
        """``None`` when nobody observes: then no notification is ever built."""
        self._specs: dict[str, AgentConfig] = {}
        self.runner: ServerRunner | None = None
        self.trace_tasks = False
        """Give worker tasks a ``traceparent`` (tracing is on: ``observability/tracing.py``)."""

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)

    def after_commit(self, effects: Effects) -> None:
        """Wake the waiters, start the handed-over tasks and tell the observers (only
        after a commit)."""
        self.hub.notify_all(effects.keys)
        if effects.handoffs and self.runner is not None:
            # If one transaction queued the same task twice (two steps of one execution),
            # only the last lease is current; the earlier one would be fenced anyway.
            latest = {job.task.id: job for job in effects.handoffs}
            for job in latest.values():
                self.runner.run_leased(job)
        if effects.notes is not None and self.observers is not None:
            self.observers.publish_all(effects.notes)

    # --- specs --------------------------------------------------------------------------

    async def _spec(self, tx: Tx | None, spec_hash: str) -> AgentConfig:
        spec = self._specs.get(spec_hash)
        if spec is None:
            raw = await (tx.get_spec(spec_hash) if tx is not None else self.store.get_spec(spec_hash))
            if raw is None:
                raise Internal(f"agent spec {spec_hash} is missing")
            spec = AgentConfig.model_validate_json(raw)
            self._specs[spec_hash] = spec
        return spec

    async def spec_by_hash(self, spec_hash: str) -> AgentConfig:
        """A stored spec (a deployment's), from the cache or the store."""
        return await self._spec(None, spec_hash)

    async def spec_of(self, row: ExecutionRow) -> AgentConfig:
        return await self._spec(None, row.spec_hash)

    async def _put_spec(self, tx: Tx, spec: AgentConfig) -> str:
        # Always written (insert-or-ignore): the in-process cache may know a spec whose
        # inserting transaction has not committed yet, on another connection.
        spec_hash, document = spec.stored_form()
        await tx.put_spec(spec_hash, document)
        return spec_hash

    # --- starting -----------------------------------------------------------------------

    async def start(self, req: StartRequest) -> StartResponse:
        spec = req.agent_config
        validate_tree(spec, self.executors)
        if not (req.prompt or req.context or any(m.strip() for m in req.media)):
            raise ValidationFailed("give a prompt, a media item or a context")
        now = time.time()
        async with self.unit_of_work() as (tx, effects):
            if req.idempotency_key:
                existing = await tx.find_by_idempotency_key(spec.name, req.idempotency_key)
                if existing is not None:
                    return StartResponse(
                        execution_id=existing.id,
                        agent_name=existing.agent_name,
                        required_workers=spec.worker_task_names(),
                        created=False,
                    )
            row = await self._create(tx, spec, req.prompt, None, None, now, effects, req=req)
        return StartResponse(
            execution_id=row.id, agent_name=spec.name, required_workers=spec.worker_task_names()
        )

    async def _create(
        self,
        tx: Tx,
        spec: AgentConfig,
        prompt: str,
        parent: ExecutionRow | None,
        link: str | None,
        now: float,
        effects: Effects,
        req: StartRequest | None = None,
        budgeted: bool | None = None,
        tool_state: dict[str, Any] | None = None,
    ) -> ExecutionRow:
        spec_hash = await self._put_spec(tx, spec)
        if req is not None:
            # A spec validated from the request (not one the engine built for a child):
            # the first step would otherwise parse the stored JSON again, which costs as
            # much as validating the request did (seconds for thousands of tools).
            self._specs.setdefault(spec_hash, spec)
        execution_id = str(uuid.uuid4())
        state = ExecState()
        if req is not None:
            state.tool_state = dict(req.context)
        elif tool_state is not None:
            state.tool_state = tool_state  # a child sharing the run's state (session_state.py)
        if parent is None:
            state.budgeted = req is not None and bool(req.max_cost_usd or req.max_tokens_total)
        else:
            state.budgeted = budgeted  # children share the root's budget row
        inp: dict[str, Any] = {"prompt": prompt}
        if req is not None:
            inp.update({"sessionId": req.session_id, "media": req.media, "context": req.context})
            if req.credentials:
                inp["credentials"] = list(req.credentials)  # names only (run_credentials.py)
        elif parent is not None and (inherited := run_credentials(parent)):
            inp["credentials"] = inherited
        if link is not None:
            inp["link"] = link
        row = ExecutionRow(
            id=execution_id,
            parent_id=parent.id if parent else None,
            root_id=parent.root_id if parent else execution_id,
            agent_name=spec.name,
            spec_hash=spec_hash,
            status="RUNNING",
            state=state.model_dump_json(),
            version=0,
            event_seq=0,
            created_at=now,
            updated_at=now,
            input=_dumps(inp),
            idempotency_key=req.idempotency_key if req else None,
            session_id=req.session_id if req else "",
        )
        await tx.insert_execution(row)
        if parent is None and req is not None and (req.max_cost_usd or req.max_tokens_total):
            await tx.put_budget(execution_id, req.max_cost_usd, req.max_tokens_total)
        start = Start(
            seed=random.getrandbits(31),  # the only randomness a run ever uses, drawn once
            prompt=prompt,
            now=now,
            timeout_seconds=req.timeout_seconds if req is not None else None,
            media=[m for m in req.media if m.strip()] if req is not None else [],
            history=await load_history(tx, spec, req.session_id if req is not None else ""),
        )
        await self._step(tx, row, start, now, effects)
        return row

    async def start_fork(
        self,
        spec: AgentConfig,
        origin: ExecutionRow,
        fork: Fork,
        copied: list[EventRow],
        budget: Budget | None,
    ) -> ExecutionRow:
        """Create the fork of ``origin`` (``service/forks.py`` chose the point) in one
        transaction: its row, the origin's events before the fork point (same numbers and
        times), the link, a budget with the origin's limits and nothing used, then the
        ``Fork`` step, which asks for the model call again."""
        validate_tree(spec, self.executors)
        now = fork.now
        async with self.unit_of_work() as (tx, effects):
            spec_hash = await self._put_spec(tx, spec)
            execution_id = str(uuid.uuid4())
            state = ExecState()
            state.tool_state = dict(json.loads(origin.input).get("context") or {})
            state.budgeted = budget is not None
            row = ExecutionRow(
                id=execution_id,
                parent_id=None,
                root_id=execution_id,
                agent_name=spec.name,
                spec_hash=spec_hash,
                status="RUNNING",
                state=state.model_dump_json(),
                version=0,
                event_seq=len(copied),
                created_at=now,
                updated_at=now,
                input=_dumps({**json.loads(origin.input), "sessionId": ""}),
            )
            await tx.insert_execution(row)
            if copied:
                await tx.append_events([replace(e, execution_id=execution_id) for e in copied])
            await tx.put_fork(ForkRow(execution_id, origin.id, fork.from_step, now))
            if budget is not None:
                await tx.put_budget(execution_id, budget.max_cost_usd, budget.max_tokens)
            await self._step(tx, row, fork, now, effects)
        return row

    # --- applying inputs ----------------------------------------------------------------

    async def apply(self, execution_id: str, inp: Input) -> ExecutionRow:
        """Apply one input from outside (an API call, a timer, the watchdog)."""
        now = time.time()
        async with self.unit_of_work() as (tx, effects):
            row = await tx.get_execution(execution_id)
            if row is None:
                raise not_found(execution_id)
            await self._step(tx, row, inp, now, effects)
        return row

    async def apply_in(self, tx: Tx, row: ExecutionRow, inp: Input, effects: Effects) -> ExecState:
        """Apply ``inp`` inside ``tx``; return the execution's state after it."""
        return await self._step(tx, row, inp, time.time(), effects)

    async def _step(
        self,
        tx: Tx,
        row: ExecutionRow,
        inp: Input,
        now: float,
        effects: Effects,
        *,
        notify_parent: bool = True,
    ) -> ExecState:
        spec = await self._spec(tx, row.spec_hash)
        state = ExecState.model_validate_json(row.state)
        was_terminal = state.terminal
        try:
            d = decide(spec, state, inp)
        except Rejected as exc:
            code = _REJECTION_CODES.get(exc.code, ErrorCode.INVALID_STATE)
            raise InvalidState(str(exc), code) from None
        if d.state is state:
            return state  # nothing changed (a late or duplicate input)
        new = d.state
        spent = new.usage.total_tokens - state.usage.total_tokens
        if spent > 0 and new.budgeted is not False:
            # A model reply, an LLM guardrail's judge call or an embedding: the whole tree shares one
            # budget row, kept current in the same transaction.
            cost = max(new.usage.cost_usd - state.usage.cost_usd, 0.0)
            await tx.add_budget_usage(row.root_id, cost, spent)
        messages_start = state.message_count
        children, follow_ups = await self._run_commands(tx, row, spec, new, d, now, effects)
        passed_on = [c for c in d.commands if isinstance(c, ControlChild)]
        if d.messages:
            await tx.append_messages(row.id, messages_start, [_dumps(m) for m in d.messages])
        events = []
        for draft in d.events:
            row.event_seq += 1
            events.append(EventRow(row.id, row.event_seq, draft.type, _dumps(draft.fields), now))
        if events:
            await tx.append_events(events)
            effects.keys.add(f"exec:{row.id}")
        # Children are created after this row's events so the parent's log shows the
        # handoff before anything the child does.
        await self._start_children(tx, row, new, children, now, effects)
        if new.terminal and not was_terminal:
            effects.keys.add(f"done:{row.id}")  # for those waiting for the end only
            await record_exchange(tx, row, new, now)  # a completed run of a session
        expected = row.version
        row.version += 1
        row.status = new.status
        row.state = new.model_dump_json()
        row.updated_at = now
        await tx.update_execution(row, expected)
        await tx.notify(effects.keys)  # other replicas' waiters, delivered on commit only
        if self.observers is not None:
            effects.note(_step_committed(row, inp, state.status, d, events, now))
        if passed_on:
            new = await self._pass_on(tx, row, passed_on, now, effects)
            if new.terminal:
                return new  # ended by a child's end, whose step told the parent already
        if follow_ups:
            # Calls answered in this transaction (each a step of its own, which also tells
            # the parent if the run ends): queued messages taken by a message wait, and
            # calls of a tool type this server does not run (started by a server that did).
            for answer in follow_ups:
                new = await self._step(tx, row, answer, now, effects, notify_parent=notify_parent)
            return new
        if new.terminal and not was_terminal and row.parent_id and notify_parent:
            parent = await tx.get_execution(row.parent_id)
            if parent is not None:
                finished = ChildFinished(
                    child_id=row.id,
                    agent_name=row.agent_name,
                    status=new.status,
                    output=new.output,
                    error=new.error,
                    transfer_to=new.transfer_to if new.finish_reason == "transfer" else None,
                    finish_reason=new.finish_reason,
                    state=shared_state(spec, new.tool_state),
                )
                await self._step(tx, parent, finished, now, effects)
        return new

    async def _start_children(
        self,
        tx: Tx,
        row: ExecutionRow,
        new: ExecState,
        children: list[StartChild],
        now: float,
        effects: Effects,
    ) -> None:
        for cmd in children:
            child = await self._create(
                tx,
                cmd.spec,
                cmd.prompt,
                row,
                cmd.link,
                now,
                effects,
                budgeted=new.budgeted,
                tool_state=inherited(cmd.spec, new.tool_state),
            )
            link_child(new, cmd.link, child.id)
            if new.paused:  # started while its parent is paused (a handoff's reply came in)
                await self._control_child(tx, child.id, "pause", now, effects)

    async def _pass_on(
        self, tx: Tx, row: ExecutionRow, commands: list[ControlChild], now: float, effects: Effects
    ) -> ExecState:
        """Apply a pause, resume or stop to running children, after the parent's row is
        written: a child that ends at once (a stop while idle) tells the parent in this
        transaction, so the parent's row is read again afterwards."""
        for cmd in commands:
            await self._control_child(tx, cmd.child_id, cmd.action, now, effects)
        fresh = await tx.get_execution(row.id)
        if fresh is not None and fresh.version != row.version:
            row.version, row.status, row.state = fresh.version, fresh.status, fresh.state
            row.event_seq, row.updated_at = fresh.event_seq, fresh.updated_at
        return ExecState.model_validate_json(row.state)

    async def _control_child(
        self, tx: Tx, child_id: str, action: Literal["pause", "resume", "stop"], now: float, effects: Effects
    ) -> None:
        child = await tx.get_execution(child_id)
        if child is None or child.status in TERMINAL_STATUSES:
            return
        paused = child.status == "PAUSED"
        if (action == "pause" and paused) or (action == "resume" and not paused):
            return  # already so (paused on its own, or resumed on its own)
        inp: Input = {"pause": Pause, "resume": Resume, "stop": Stop}[action]()
        with contextlib.suppress(InvalidState):  # a child that takes no such input now goes on
            await self._step(tx, child, inp, now, effects)

    async def _run_commands(
        self,
        tx: Tx,
        row: ExecutionRow,
        spec: AgentConfig,
        new: ExecState,
        d: Decision,
        now: float,
        effects: Effects,
    ) -> tuple[list[StartChild], list[ToolFailed | ToolSucceeded]]:
        """Turn commands into task rows (the outbox); return the children to create, and
        the answers to calls settled in this transaction."""
        children: list[StartChild] = []
        answers: list[ToolFailed | ToolSucceeded] = []
        for cmd in d.commands:
            match cmd:
                case RunTool() if not self.executors.serves(cmd.executor):
                    error = f"Tool type '{cmd.executor}' is not supported by this server yet."
                    answers.append(ToolFailed(call_id=cmd.call_id, error=error, retryable=False))
                case RunTool():
                    kind = self.executors.task_kind(cmd.executor)
                    if cmd.args.get("messages") == CONVERSATION:
                        cmd = await self._with_conversation(tx, row, spec, d, cmd)
                    task = self._tool_task(
                        row, new, cmd, kind, now, spec.metadata, available_to_tools(spec, row)
                    )
                    if kind == "worker" and _stateful(spec, cmd.name):
                        # Only the worker of the process that started this execution (or
                        # re-attached to it) polls this queue: per-run state stays with it.
                        task.name = scoped_name(cmd.name, row.root_id)
                    await self._queue(tx, row, new, task, now, effects)
                case CallLlm():
                    call_id = "plan" if cmd.purpose == "plan" else f"turn{new.turn + 1}"
                    await self._queue(
                        tx, row, new, self._internal_task(row, "llm", call_id, now), now, effects
                    )
                case SetTimer():
                    timer = self._internal_task(row, "timer", "deadline", cmd.at)
                    await self._queue(tx, row, new, timer, now, effects)
                case StartChild():
                    children.append(cmd)
                case CancelChild():
                    child = await tx.get_execution(cmd.child_id)
                    if child is not None and child.status not in TERMINAL_STATUSES:
                        # The parent is mid-step and already terminal: it must not be
                        # told about this child again (its row is not written yet).
                        await self._step(
                            tx, child, Cancel(reason=cmd.reason), now, effects, notify_parent=False
                        )
                case PullMessages():
                    taken = await pull(tx, row.id, cmd, now)
                    if taken is not None:
                        answers.append(taken)
                case DropTasks():
                    await tx.delete_tasks_of(row.id)
        return children, answers

    async def _queue(
        self, tx: Tx, row: ExecutionRow, new: ExecState, task: TaskRow, now: float, effects: Effects
    ) -> None:
        """Write a due task; one this server runs and has room for is written already
        leased to it and handed over after commit (no claim, no wake-up)."""
        runner = self.runner
        # The room check is not a reservation: a burst of concurrent commits can
        # overshoot a kind's concurrency by the few transactions in flight.
        if runner is not None and task.available_at <= now and runner.has_room(task.kind):
            task.status = "leased"
            task.attempt += 1  # what the claim would have made it
            task.lease_id = os.urandom(12).hex()
            task.lease_expires_at = now + runner.lease_seconds(task.kind)
            task.worker_id = runner.instance_id
            effects.handoffs.append(Job(task, row, new))  # as committed with this step
        else:
            effects.keys.add(self.executors.wake_key(task.kind, task.name))
        await tx.upsert_task(task)

    async def _with_conversation(
        self, tx: Tx, row: ExecutionRow, spec: AgentConfig, d: Decision, cmd: RunTool
    ) -> RunTool:
        """A callback asking for the conversation gets it in its task (the messages stored
        so far, this step's new ones, after the agent's instructions if they are text)."""
        stored = await tx.list_messages(row.id)
        messages: list[Any] = [*stored[: d.state.message_count - len(d.messages)], *d.messages]
        instructions = instructions_of(spec)
        if instructions:
            messages.insert(0, {"role": "system", "content": instructions})
        return replace(cmd, args={**cmd.args, "messages": messages})

    def _tool_task(
        self,
        row: ExecutionRow,
        state: ExecState,
        cmd: RunTool,
        kind: str,
        now: float,
        metadata: dict[str, Any] | None = None,
        credentials: list[str] | None = None,
    ) -> TaskRow:
        context: dict[str, Any] = {
            "executionId": row.id,
            "agentName": row.agent_name,
            "sessionId": row.session_id,
            "state": state.tool_state,
        }
        if credentials:
            context["credentials"] = credentials  # names the agent or run lets its tools fetch
        if metadata:
            context["metadata"] = metadata  # ToolContext.metadata: the agent's metadata
        if self.trace_tasks:  # the worker's span continues the call's (ids, never secrets)
            context["traceparent"] = traceparent(row.root_id, row.id, cmd.call_id)
        task_input = {"args": cmd.args, "context": context}
        key = f"{row.id}:{cmd.call_id}"
        return TaskRow(
            id=key,
            execution_id=row.id,
            kind=kind,
            name=cmd.name,
            call_id=cmd.call_id,
            input=_dumps(task_input),
            status="pending",
            attempt=cmd.attempt - 1,  # the claim makes it cmd.attempt
            lease_id=None,
            lease_expires_at=None,
            available_at=now + cmd.delay_seconds,
            created_at=now,
            idempotency_key=key,
            timeout_seconds=cmd.timeout_seconds,
        )

    @staticmethod
    def _internal_task(row: ExecutionRow, kind: str, call_id: str, available_at: float) -> TaskRow:
        key = f"{row.id}:{kind}"
        return TaskRow(
            id=key,
            execution_id=row.id,
            kind=kind,
            name=kind,
            call_id=call_id,
            input="{}",
            status="pending",
            attempt=0,
            lease_id=None,
            lease_expires_at=None,
            available_at=available_at,
            created_at=available_at,
            idempotency_key=f"{row.id}:{call_id}",
        )


def _step_committed(
    row: ExecutionRow, inp: Input, status_before: str, d: Decision, events: list[EventRow], now: float
) -> StepCommitted:
    return StepCommitted(
        execution_id=row.id,
        root_id=row.root_id,
        parent_id=row.parent_id,
        agent_name=row.agent_name,
        input_kind=inp.kind,
        status_before=status_before,
        status_after=row.status,
        version=row.version,
        events=tuple(events),
        commands=tuple(d.commands),
        at=now,
        started_at=row.created_at,
    )


_MODEL_USE = {"handoff": "to choose an agent", "plan_execute": "to plan and to write the answer"}
"""Parents whose own model runs, and what for; other teams' parents have none."""


def validate_tree(spec: AgentConfig, executors: ExecutorRegistry, path: str = "") -> None:
    """Reject agent trees this server cannot run, with a message naming the agent (and
    the tool: a tool type no executor here serves would otherwise only fail when called)."""
    where = f"{path}{spec.name}"
    for option, why in unhonoured(spec):
        raise InvalidAgent(f"agent '{where}': option '{option}': {why}")
    strategy = spec.strategy or "handoff"
    # A LangGraph graph's model calls are made by its nodes, in the worker.
    needs_model = (not spec.agents or strategy in ("handoff", "plan_execute")) and not is_graph(spec)
    if needs_model and not spec.model:
        what = (
            f"a {strategy} parent needs a model ({_MODEL_USE[strategy]})"
            if spec.agents
            else "it has no model"
        )
        raise InvalidAgent(f"agent '{where}': {what}")
    if spec.agents and strategy == "router" and spec.router is None:
        raise InvalidAgent(f"agent '{where}': strategy 'router' needs router=")
    if (
        spec.agents
        and strategy not in _MODEL_USE
        and any((g.position or "output") == "output" for g in spec.guardrails or ())
    ):
        raise InvalidAgent(
            f"agent '{where}': output guardrails check a model's answer, and a '{strategy}' team has no "
            "model of its own; put them on its sub-agents"
        )
    check_memory(spec, where)
    for tool in spec.tools:
        executor = executor_of(tool)
        if executor is not None and not executors.serves(executor):
            raise InvalidAgent(
                f"agent '{where}': tool '{tool.name}' has type '{tool.tool_type}', "
                "which this server does not run yet"
            )
    for nested in spec.nested_agents():
        validate_tree(nested, executors, f"{where}/")


def _stateful(spec: AgentConfig, name: str) -> bool:
    tool = find_tool(spec, name)
    return tool is not None and bool(tool.stateful)
