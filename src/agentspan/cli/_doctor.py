"""``agentspan doctor``: is this server ready to run agents? One line per check.

The server answers for itself (``GET /api/admin/doctor``, an admin key unless the server
is an open loopback one); ``checks`` turns that report into verdicts without any I/O, so
what counts as a failure is decided, and tested, in one place. Exit status: 0 when
nothing failed (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Literal

import httpx

import agentspan
from agentspan.cli._executions import ApiClient, CliError, parse
from agentspan.cli._style import paint, use_colour, verdict_style
from agentspan.protocol.ops import DoctorReport

Verdict = Literal["ok", "warn", "fail"]

LOW_DISK_BYTES = 1 << 30
"""Below this much free space on the data directory's disk: a warning."""
FULL_DISK_BYTES = 100 << 20
"""Below this: a failure (SQLite and the server log need room to write)."""


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    message: str


def checks(
    report: DoctorReport, server_url: str, cli_version: str, shell_variables: Collection[str] = ()
) -> list[Check]:
    """The verdicts on a server's report (pure: no I/O). ``shell_variables``: the names
    (never the values) set in this command's environment, to spot a key exported after
    the server started."""
    out = [Check("server", "ok", f"reachable at {server_url}")]
    version = f"server {report.version}, this command {cli_version}"
    out.append(Check("version", "ok" if report.version == cli_version else "warn", version))
    out.append(_database(report))
    out.extend(_providers(report, shell_variables))
    out.append(_workers(report))
    out.append(_disk(report))
    auth = (
        "API keys required (AGENTSPAN_API_KEY)"
        if report.auth == "keys"
        else "open: a loopback server with no API key created yet"
    )
    out.append(Check("auth", "ok", auth))
    observing = [
        f"metrics {'on (/metrics)' if report.metrics_enabled else 'off'}",
        f"tracing {'on' if report.tracing_enabled else 'off'}",
    ]
    out.append(Check("observability", "ok", ", ".join(observing)))
    return out


def _database(report: DoctorReport) -> Check:
    db = report.database
    if not db.reachable:
        return Check("database", "fail", f"{db.kind}: not answering: {db.error}")
    where = f"{db.kind}, schema {db.schema_version}"
    if db.schema_version < db.latest_schema_version:
        return Check(
            "database", "fail", f"{where}, behind {db.latest_schema_version}: run agentspan server migrate"
        )
    return Check("database", "ok", f"{where} (up to date)")


def _providers(report: DoctorReport, shell_variables: Collection[str]) -> list[Check]:
    keyed = [p for p in report.providers if p.source in ("environment", "credential_store")]
    out = [
        Check(f"key {p.provider}", "ok", f"{p.key_names[0]} from the {p.source.replace('_', ' ')}")
        for p in keyed
    ]
    for p in report.providers:
        unseen = [name for name in p.key_names if name in shell_variables]
        if p.source == "absent" and unseen:
            name = unseen[0]
            out.append(
                Check(
                    f"key {p.provider}",
                    "warn",
                    f"{name} is set in this shell but the server does not see it (a running server keeps "
                    f"the environment it started with): agentspan credentials set {name}, or restart the "
                    "server from this shell: agentspan server stop && agentspan server start",
                )
            )
    if not keyed:
        hint = "no provider key: only offline/ models run (export OPENAI_API_KEY=... before starting the server, "
        hint += "or: agentspan credentials set OPENAI_API_KEY)"
        out.append(Check("provider keys", "warn", hint))
    return out


def _workers(report: DoctorReport) -> Check:
    seen = f"{report.workers_seen} worker(s) polled in the last {report.worker_window_seconds:.0f} s"
    if report.stalled_worker_tasks:
        return Check(
            "workers",
            "fail",
            f"{seen}; {report.stalled_worker_tasks} tool call(s) wait for a tool no worker polls "
            "(start the program that serves them: runtime.serve(...))",
        )
    if report.pending_worker_tasks and not report.workers_seen:
        return Check("workers", "warn", f"{seen}; {report.pending_worker_tasks} tool call(s) queued")
    return Check("workers", "ok", f"{seen}; {report.pending_worker_tasks} tool call(s) queued")


def _disk(report: DoctorReport) -> Check:
    free = report.disk_free_bytes
    if free is None:
        return Check("disk", "warn", f"cannot read free space of {report.data_dir}")
    text = f"{free / (1 << 30):.1f} GiB free at {report.data_dir}"
    if free < FULL_DISK_BYTES:
        return Check("disk", "fail", text)
    return Check("disk", "warn" if free < LOW_DISK_BYTES else "ok", text)


def cmd_doctor(args: argparse.Namespace) -> int:
    root = args.server_url.removesuffix("/api")
    try:
        with ApiClient(args.server_url) as api:
            report = parse(DoctorReport, api.call("GET", "/admin/doctor"))
        found = checks(report, root, agentspan.__version__, set(os.environ))
    except CliError as exc:
        found = [_unanswered(root, exc)]
    failed = any(c.verdict == "fail" for c in found)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in found]}, indent=2))
    else:
        width = max(len(c.name) for c in found)
        colour = use_colour()
        for c in found:
            verdict = paint(f"{c.verdict:<4}", verdict_style(c.verdict), enabled=colour)
            print(f"{verdict}  {c.name:<{width}}  {c.message}")
    return 1 if failed else 0


def _unanswered(root: str, exc: CliError) -> Check:
    """The one line when the server could not be asked: down, or it refused the key."""
    try:
        health = httpx.get(root + "/health", timeout=5.0)
    except httpx.HTTPError:
        return Check("server", "fail", exc.message)
    if health.is_success:
        return Check("server", "fail", f"up at {root}, but the report was refused: {exc.message}")
    return Check("server", "fail", f"{root}/health answered HTTP {health.status_code}: {exc.message}")


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = commands.add_parser(
        "doctor", parents=[common], help="check the server: database, provider keys, workers, disk, auth"
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(handler=cmd_doctor)
