"""The operator's view of a server (``GET /api/admin/doctor``, read by ``agentspan doctor``).

It says whether a provider key is *present* and where the server finds it, never any
part of its value.
"""

from __future__ import annotations

from typing import Literal

from agentspan.protocol._base import WireModel

KeySource = Literal["environment", "credential_store", "absent", "not_needed"]


class ProviderKeyStatus(WireModel):
    provider: str
    key_names: list[str]
    """The variables (or credential names) the provider's key is read from."""
    source: KeySource


class DatabaseStatus(WireModel):
    kind: str
    """``sqlite`` or ``postgresql``."""
    schema_version: int
    latest_schema_version: int
    """The schema this server's code expects; higher than ``schema_version`` cannot happen
    (the server migrates at start), lower means an older server shares the database."""
    reachable: bool
    error: str | None = None


class DoctorReport(WireModel):
    version: str
    database: DatabaseStatus
    providers: list[ProviderKeyStatus]
    workers_seen: int
    """Distinct workers that polled in the last ``worker_window_seconds``."""
    worker_window_seconds: float
    pending_worker_tasks: int
    stalled_worker_tasks: int
    """Worker tasks nobody polls for (the watchdog marked them)."""
    data_dir: str
    disk_free_bytes: int | None
    auth: Literal["open", "keys"]
    """``open``: a loopback server nobody created a key for; ``keys``: every request needs one."""
    metrics_enabled: bool
    tracing_enabled: bool
