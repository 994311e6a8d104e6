"""``agentspan executions ...``, ``approve``, ``reject`` and ``cancel``: a REST client.

Also home of what every command shares: :class:`CliError` and the HTTP client that turns
transport failures and problem documents into one-line errors.
"""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar, get_args
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

import agentspan
from agentspan.cli._style import paint, status_style, use_colour
from agentspan.client._auth import auth_headers, bearer_token_from_env
from agentspan.client._sse import SSEDecoder
from agentspan.protocol.api import (
    TERMINAL_EVENTS,
    TERMINAL_STATUSES,
    ExecutionDetail,
    ExecutionList,
    ExecutionStatus,
    ExecutionSummary,
    ForkLink,
    StatusResponse,
    StreamEvent,
    ToolCallRecord,
)

EXIT_ERROR = 1
EXIT_UNREACHABLE = 3
DEFAULT_SERVER_URL = "http://localhost:6767/api"
STATUSES: tuple[str, ...] = get_args(ExecutionStatus)  # what ``executions list --status`` accepts
# The SSE endpoint sends a heartbeat every 15 s, so a read that waits longer than this
# means the connection is dead, not that the execution is quiet.
STREAM_READ_TIMEOUT = 60.0
FOLLOW_RETRIES = 8

M = TypeVar("M", bound=BaseModel)


class CliError(Exception):
    """An expected failure: printed as one ``error:`` line, never as a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # one line, whatever the server sent
        self.exit_code = exit_code


def normalise_server_url(url: str) -> str:
    """``http://host:port``, ``.../`` and ``.../api`` all mean the API root ``.../api``."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"--server-url must start with http:// or https://, got {url!r}")
    return url if url.endswith("/api") else f"{url}/api"


def unreachable(url: str) -> CliError:
    return CliError(
        f"cannot reach the Agentspan server at {url} (is it running? try: agentspan server start)",
        EXIT_UNREACHABLE,
    )


def _problem_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body:
        detail = body.get("detail") or body.get("title") or f"HTTP {resp.status_code}"
        return f"{detail} ({body['code']})"
    # Not one of ours (a proxy, another service on the port): show what little we can.
    snippet = " ".join(resp.text.split())[:200]
    return f"HTTP {resp.status_code} from {resp.request.url}" + (f": {snippet}" if snippet else "")


class ApiClient:
    """The few REST calls the CLI makes, with errors already turned into :class:`CliError`.

    Credentials come from the SDK's variables through ``client/_auth.py``, the same
    headers the SDK's own client sends, so ``AGENTSPAN_API_KEY`` works for both."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        headers = {"User-Agent": f"agentspan-cli/{agentspan.__version__}"}
        self._http = httpx.Client(
            base_url=base_url,
            timeout=30.0,
            headers={**headers, **auth_headers(bearer_token_from_env())},
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        try:
            resp = self._http.request(
                method,
                path,
                params=params,
                json=body,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise unreachable(self.base_url) from exc
        except httpx.TransportError as exc:
            raise CliError(f"request to {self.base_url}{path} failed: {exc or type(exc).__name__}") from exc
        if resp.is_error:
            raise CliError(_problem_message(resp))
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise CliError(f"unexpected non-JSON response from {resp.request.url}") from None

    def stream(self, path: str, last_event_id: int) -> Iterator[str]:
        """The lines of an SSE response. Transport errors are left to the caller to retry."""
        timeout = httpx.Timeout(30.0, read=STREAM_READ_TIMEOUT)
        headers = {"Last-Event-ID": str(last_event_id), "Accept": "text/event-stream"}
        with self._http.stream("GET", path, headers=headers, timeout=timeout) as resp:
            if resp.is_error:
                resp.read()
                raise CliError(_problem_message(resp))
            yield from resp.iter_lines()


def parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CliError(f"unexpected response from the server ({model.__name__}): {exc}") from None


def exec_path(execution_id: str, template: str) -> str:
    # Quote the id so a stray "/" cannot route the request to another endpoint.
    return template.format(id=quote(execution_id, safe=""))


# --- formatting -------------------------------------------------------------------------


def local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def one_line(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def print_table(
    headers: list[str], rows: list[list[str]], styles: dict[int, Callable[[str], str | None]] | None = None
) -> None:
    """Columns padded to their widest cell; ``styles`` colours cells of some columns (by
    index) when stdout is a terminal, after padding, so the columns stay aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    colour = use_colour()
    for index, row in enumerate([headers, *rows]):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        if index == 0:
            cells = [paint(cell, "bold", enabled=colour) for cell in cells]
        else:
            for column, style in (styles or {}).items():
                cells[column] = paint(cells[column], style(row[column]), enabled=colour)
        print("  ".join(cells).rstrip())


def event_summary(event: StreamEvent) -> str:
    """The most telling field of an event, on one line."""
    if event.type == "approval" and event.data:
        verdict = "approved" if event.data.get("approved") else "rejected"
        reason = f": {event.data['reason']}" if event.data.get("reason") else ""
        return one_line(f"{verdict} by {event.data.get('decidedBy', '?')}{reason}")
    if event.content:
        return one_line(event.content)
    if event.type == "tool_call":
        return one_line(event.args or {})
    for value in (event.result, event.output):
        if value is not None:
            return one_line(value)
    if event.target:
        return f"-> {event.target}"
    return one_line(event.data) if event.data else ""


def event_line(event: StreamEvent) -> str:
    parts = [str(event.id), event.type, event.tool_name or "", event_summary(event)]
    return " ".join(p for p in parts if p)


# --- executions list / show -------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"size": args.limit}
    if args.status:
        params["status"] = args.status
    if args.agent:
        params["agentName"] = args.agent
    with ApiClient(args.server_url) as api:
        data = api.call("GET", "/agent/executions", params=params)
    if args.json:
        print_json(data)
        return 0
    listing = parse(ExecutionList, data)
    if not listing.results:
        print("no executions")
        return 0
    print_table(
        ["ID", "AGENT", "STATUS", "CREATED", "WAITING"],
        [_list_row(r) for r in listing.results],
        styles={2: status_style},
    )
    if listing.total_hits > len(listing.results):
        print(f"(showing {len(listing.results)} of {listing.total_hits}; use --limit for more)")
    return 0


def _list_row(row: ExecutionSummary) -> list[str]:
    return [
        row.execution_id,
        row.agent_name,
        row.status,
        local_time(row.created_at),
        row.waiting_reason or "",
    ]


def cmd_show(args: argparse.Namespace) -> int:
    with ApiClient(args.server_url) as api:
        status_data = api.call("GET", exec_path(args.id, "/agent/{id}/status"))
        detail_data = api.call("GET", exec_path(args.id, "/agent/execution/{id}"))
        if args.json:
            print_json({"status": status_data, "detail": detail_data})
            return 0
        status = parse(StatusResponse, status_data)
        detail = parse(ExecutionDetail, detail_data)
        _print_overview(status, detail)
        _print_tool_calls(detail.tool_calls)
        if detail.children:
            print("Tree:")
            _print_tree(api, detail.execution_id, depth=1)
    return 0


def _print_tree(api: ApiClient, execution_id: str, depth: int) -> None:
    """Sub-agent executions under ``execution_id``, one line each, indented by depth."""
    if depth > 20:
        return
    listed = api.call("GET", "/agent/executions", params={"parentId": execution_id, "size": 1000})
    for child in parse(ExecutionList, listed).results:
        waiting = f"  waiting: {child.waiting_reason}" if child.waiting_reason else ""
        print(f"{'  ' * depth}- {child.agent_name}  {child.status}  {child.execution_id}{waiting}")
        _print_tree(api, child.execution_id, depth + 1)


def _print_overview(status: StatusResponse, detail: ExecutionDetail) -> None:
    usage = detail.token_usage
    fields = [
        ("Execution", detail.execution_id),
        ("Agent", detail.agent_name),
        (
            "Status",
            paint(status.status, status_style(status.status), enabled=use_colour())
            + (" (waiting)" if status.is_waiting else ""),
        ),
        ("Finish reason", detail.finish_reason or ""),
        ("Parent", detail.parent_execution_id or ""),
        ("Children", ", ".join(detail.children)),
        ("Created", local_time(detail.created_at)),
        ("Updated", local_time(detail.updated_at)),
        (
            "Tokens",
            f"{usage.total_tokens} (prompt {usage.prompt_tokens}, completion {usage.completion_tokens})",
        ),
        ("Est. cost", "" if usage.cost_usd is None else f"${usage.cost_usd:.6f}"),
        ("Waiting", status.waiting_reason or ""),
        ("Error", detail.error or ""),
        ("Forked from", _link(detail.forked_from)),
        ("Inherited", _inherited(detail)),
        ("Forks", ", ".join(_link(f) for f in detail.forks)),
    ]
    for label, value in fields:
        if value:
            print(f"{label + ':':<15}{value}")
    pending = status.pending_tool
    if pending:
        args = one_line(pending.get("parameters") or {})
        print(f"{'Pending tool:':<15}{pending.get('tool_name')} {args} ({pending.get('kind', 'approval')})")
        print(f"{'':<15}decide with: agentspan approve|reject {detail.execution_id}")
    if detail.output is not None:
        text = detail.output if isinstance(detail.output, str) else json.dumps(detail.output, indent=2)
        print("Output:")
        for line in text.splitlines() or [""]:
            print(f"  {line}")


def _link(link: ForkLink | None) -> str:
    return f"{link.execution_id} (step {link.step})" if link is not None else ""


def _inherited(detail: ExecutionDetail) -> str:
    """A fork's copied usage, shown apart from its own (never added to it)."""
    usage = detail.inherited_usage
    if usage is None:
        return ""
    cost = "" if usage.cost_usd is None else f", ${usage.cost_usd:.6f}"
    return f"{usage.total_tokens} tokens{cost} (the copied steps; not in Tokens)"


def _print_tool_calls(calls: list[ToolCallRecord]) -> None:
    if not calls:
        return
    print("Tool calls:")
    for call in calls:
        print(f"  {call.call_id}  {call.name}({one_line(call.args, 80)})  {call.status}")
        if call.approval:
            verdict = "approved" if call.approval.get("approved") else "rejected"
            reason = f": {call.approval['reason']}" if call.approval.get("reason") else ""
            print(f"      {verdict} by {call.approval.get('decidedBy', '?')}{reason}")
        if call.error:
            print(f"      error: {one_line(call.error, 200)}")
        elif call.result is not None:
            print(f"      result: {one_line(call.result, 200)}")


# --- events -----------------------------------------------------------------------------


def cmd_events(args: argparse.Namespace) -> int:
    with ApiClient(args.server_url) as api:
        if args.follow:
            return _follow(api, args.id, args.after, args.json)
        events = _all_events(api, args.id, args.after)
    if args.json:
        print_json(events)
        return 0
    for raw in events:
        print(event_line(parse(StreamEvent, raw)))
    return 0


def _all_events(api: ApiClient, execution_id: str, after: int) -> list[Any]:
    page_size = 1000
    events: list[Any] = []
    while True:
        params = {"after": after, "limit": page_size}
        page = api.call("GET", exec_path(execution_id, "/agent/executions/{id}/events"), params=params)
        if not isinstance(page, list):
            raise CliError("unexpected response from the server: the event list is not a list")
        events.extend(page)
        if len(page) < page_size:
            return events
        after = int(page[-1]["id"])


def sse_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The JSON ``data`` of each Server-Sent Event, decoded by the SDK's decoder (comments,
    i.e. heartbeats, are skipped; a last event without its blank line still counts)."""
    decoder = SSEDecoder()
    for line in _then_blank(lines):
        message = decoder.feed(line)
        if message is not None:
            yield message.data


def _then_blank(lines: Iterable[str]) -> Iterator[str]:
    yield from lines
    yield ""  # the stream ended: flush an event whose blank line never came


def _follow(api: ApiClient, execution_id: str, after: int, as_json: bool) -> int:
    """Print events as they happen until the terminal one, resuming after dropped connections."""
    path = exec_path(execution_id, "/agent/stream/{id}")
    failures, connected = 0, False
    while True:
        try:
            for data in sse_events(api.stream(path, after)):
                connected, failures = True, 0
                event = parse(StreamEvent, data)
                after = event.id
                print(json.dumps(data) if as_json else event_line(event), flush=True)
                if event.type in TERMINAL_EVENTS:
                    return 0
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if not connected or failures >= FOLLOW_RETRIES:
                raise unreachable(api.base_url) from exc
            failures += 1
        except httpx.TransportError as exc:
            if failures >= FOLLOW_RETRIES:
                raise CliError(f"lost the event stream of {execution_id}: {exc}") from exc
            failures += 1
        else:
            # The server ends the stream when the execution is over; anything else (a proxy
            # closing an idle connection) is resumed from the last event we printed.
            status = parse(StatusResponse, api.call("GET", exec_path(execution_id, "/agent/{id}/status")))
            if status.status in TERMINAL_STATUSES:
                return 0
        time.sleep(min(0.25 * 2**failures, 5.0))


# --- human in the loop and control ------------------------------------------------------


def actor() -> str:
    """Who decided, as recorded in the approval event: ``cli:<user>@<host>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name: a container running as an anonymous uid
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def _decide(args: argparse.Namespace, approved: bool) -> int:
    with ApiClient(args.server_url) as api:
        status = parse(StatusResponse, api.call("GET", exec_path(args.id, "/agent/{id}/status")))
        pending = status.pending_tool or {}
        body: dict[str, Any] = {"approved": approved, "reason": args.reason or ""}
        if pending.get("taskRefName"):
            # Name the call we looked at, so a call that became pending in the meantime is
            # never decided by accident: the server then answers "already decided" instead.
            body["taskRefName"] = pending["taskRefName"]
        api.call(
            "POST",
            exec_path(args.id, "/agent/{id}/respond"),
            body=body,
            headers={"X-Agentspan-Actor": actor()},
        )
    verb = "approved" if approved else "rejected"
    tool = pending.get("tool_name")
    print(f"{verb} {tool} for {args.id}" if tool else f"{verb} {args.id}")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, approved=True)


def cmd_reject(args: argparse.Namespace) -> int:
    return _decide(args, approved=False)


def cmd_cancel(args: argparse.Namespace) -> int:
    with ApiClient(args.server_url) as api:
        api.call("DELETE", exec_path(args.id, "/agent/{id}/cancel"), params={"reason": args.reason or ""})
    print(f"cancelled {args.id}")
    return 0


# --- parsers ----------------------------------------------------------------------------


def _limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value


def _non_negative(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add the API client commands; returns ``executions``' subcommands, for the ones
    defined elsewhere."""
    executions = commands.add_parser("executions", help="list and inspect executions")
    sub = executions.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    p = sub.add_parser("list", parents=[common], help="list recent executions")
    p.add_argument("--status", type=str.upper, choices=STATUSES, help="only executions in this status")
    p.add_argument("--agent", metavar="NAME", help="only executions of this agent")
    p.add_argument("--limit", type=_limit, default=20, help="how many to show (default 20, max 1000)")
    p.add_argument("--json", action="store_true", help="print the raw JSON response")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("show", parents=[common], help="status, output, tool calls of one execution")
    p.add_argument("id", help="execution id")
    p.add_argument("--json", action="store_true", help="print the raw JSON responses")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("events", parents=[common], help="the event log of one execution")
    p.add_argument("id", help="execution id")
    p.add_argument("--after", type=_non_negative, default=0, metavar="N", help="only events after id N")
    p.add_argument("--json", action="store_true", help="print raw JSON (one object per line with -f)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new events until the end")
    p.set_defaults(handler=cmd_events)

    for name, handler, text in (
        ("approve", cmd_approve, "approve the tool call an execution waits for"),
        ("reject", cmd_reject, "reject the tool call an execution waits for"),
        ("cancel", cmd_cancel, "cancel an execution"),
    ):
        p = commands.add_parser(name, parents=[common], help=text)
        p.add_argument("id", help="execution id")
        p.add_argument("--reason", help="recorded with the decision")
        p.set_defaults(handler=handler)
    return sub
