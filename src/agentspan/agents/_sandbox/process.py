"""Run one program in a child process with limits, and collect what it printed.

The child starts in its own session (so a timeout kills its whole process group, children
included), with no inherited file descriptors, a minimal environment, resource limits set
by ``launch.py`` and, when the worker runs as root, an unprivileged user: Linux does not
enforce ``RLIMIT_NPROC`` for root, and root would ignore file permissions anyway.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "ProcessOutcome",
    "ResourceLimits",
    "launcher_prefix",
    "minimal_environment",
    "run_limited",
    "sandbox_ids",
]

_LAUNCHER = str(Path(__file__).with_name("launch.py"))
_DEFAULT_USER = "nobody"
_FALLBACK_UID = 65534

# What a program may see of the worker's environment without declaring anything: enough
# to find interpreters and print text, nothing that usually carries a secret.
_SAFE_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
_SUPERVISOR_GRACE = 3.0
_LEFTOVERS = b"leftovers"


@dataclasses.dataclass(frozen=True)
class ResourceLimits:
    """Per-call limits, enforced by the kernel (``setrlimit``) in the child.

    ``None`` leaves a limit as the worker has it. ``processes`` counts every process of the
    user the child runs as, which is why a root worker runs children as an unprivileged
    user (see ``docs/sandboxes.md``).
    """

    cpu_seconds: int | None = 30
    memory_bytes: int | None = 512 * 1024 * 1024
    address_space_bytes: int | None = None
    file_size_bytes: int | None = 64 * 1024 * 1024
    open_files: int | None = 256
    processes: int | None = 64


@dataclasses.dataclass(frozen=True)
class ProcessOutcome:
    stdout: str
    stderr: str
    exit_code: int
    timed_out: bool
    truncated: bool
    stopped_leftovers: bool = False
    """Processes the program started were still running when it exited, and were killed."""


def sandbox_ids(user: str | int | None) -> tuple[int, int] | None:
    """``(uid, gid)`` to run children as, or ``None`` to keep the worker's user.

    ``user=None`` means: drop privileges only when the worker is root (to ``nobody``).
    """
    if user is None:
        if os.geteuid() != 0:
            return None
        user = _DEFAULT_USER
    if isinstance(user, int):
        return user, user
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        if user == _DEFAULT_USER:
            return _FALLBACK_UID, _FALLBACK_UID
        raise ValueError(f"sandbox user {user!r} does not exist on this machine") from None
    return entry.pw_uid, entry.pw_gid


def minimal_environment(
    workdir: str | None, declared: Mapping[str, str] | None = None, pass_through: Sequence[str] = ()
) -> dict[str, str]:
    """The child's whole environment: a few harmless variables, ``HOME`` and ``TMPDIR`` in
    ``workdir`` (a private scratch directory; ``None``: the system's temporary directory),
    the worker variables named in ``pass_through`` and ``declared``."""
    env = {name: os.environ[name] for name in _SAFE_VARIABLES if name in os.environ}
    env.setdefault("PATH", _SAFE_PATH)
    scratch = workdir or tempfile.gettempdir()
    env.update(HOME=scratch, TMPDIR=scratch, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    env.update({name: os.environ[name] for name in pass_through if name in os.environ})
    env.update(declared or {})
    return env


def _count_user_processes(uid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def launcher_prefix(
    limits: ResourceLimits,
    ids: tuple[int, int] | None = None,
    *,
    die_with_worker: bool = True,
    status_fd: int | None = None,
) -> list[str]:
    """The argv to put before a program so that it starts with ``limits`` (and as ``ids``).

    ``die_with_worker=False`` for a long-lived child started from a worker thread: the
    kernel's death signal follows the *thread* that forked, not the process. With
    ``status_fd`` the launcher stays as the program's supervisor (see ``launch.py``) and
    reports on that descriptor whether it had to kill leftover processes.
    """
    settings: dict[str, int | bool | None] = dict(_launcher_settings(limits, ids))
    if not die_with_worker:
        settings["parent"] = None
    if status_fd is not None:
        settings["supervise"] = True
        settings["status_fd"] = status_fd
    return [sys.executable, "-I", "-S", "-B", _LAUNCHER, json.dumps(settings)]


def _launcher_settings(limits: ResourceLimits, ids: tuple[int, int] | None) -> dict[str, int | None]:
    settings: dict[str, int | None] = dict(dataclasses.asdict(limits))
    if limits.processes is not None:
        # RLIMIT_NPROC counts all of the user's processes: without our own user, allow the
        # ones the worker's user already has on top of the child's budget.
        uid = ids[0] if ids else os.getuid()
        settings["processes"] = limits.processes + _count_user_processes(uid)
    if ids is not None:
        settings["uid"], settings["gid"] = ids
    settings["parent"] = os.getpid()
    return settings


class _Capture:
    """Drains one pipe, keeping at most ``limit`` bytes (the rest is read and dropped so the
    child never blocks on a full pipe)."""

    def __init__(self, stream: io.BufferedReader, limit: int) -> None:
        self.kept = bytearray()
        self.dropped = 0
        self._stream = stream
        self._limit = limit
        self.thread = threading.Thread(target=self._drain, daemon=True, name="agentspan-sandbox-pipe")
        self.thread.start()

    def _drain(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while chunk := self._stream.read1(65536):
                room = self._limit - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]
                self.dropped += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


def _kill_group(process: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the child's whole process group; ``True`` if anything was still in it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    """At the timeout: ask the supervisor to kill everything it runs (it also reaches
    processes that left the group), then kill the group in case it could not."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=_SUPERVISOR_GRACE)
    _kill_group(process)


def _read_status(fd: int) -> bytes:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 64)
    except BlockingIOError:
        return b""
    finally:
        os.close(fd)


def run_limited(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    timeout: float,
    max_output_bytes: int,
    limits: ResourceLimits | None,
    ids: tuple[int, int] | None,
) -> ProcessOutcome:
    """Run ``argv`` to completion or ``timeout``; never raises for what the program does.

    With ``limits=None`` and ``ids=None`` the program runs as the worker's user with its
    limits (what a CLI command needs to act on the user's files), still in its own session
    with a clean environment, the timeout and output cap, and killed if the worker dies.
    """
    status_read, status_write = os.pipe()
    command = [
        *launcher_prefix(limits or ResourceLimits(*([None] * 6)), ids, status_fd=status_write),
        *argv,
    ]
    try:
        process = subprocess.Popen(  # noqa: S603 - argv is built by the executor, never a shell string
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            pass_fds=(status_write,),
            start_new_session=True,
        )
    except BaseException:
        os.close(status_read)
        raise
    finally:
        os.close(status_write)
    assert process.stdout is not None and process.stderr is not None
    out = _Capture(process.stdout, max_output_bytes)  # type: ignore[arg-type]
    err = _Capture(process.stderr, max_output_bytes)  # type: ignore[arg-type]
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(process)
    finally:
        # The supervisor killed what the program left behind; the group kill is the
        # fallback should the supervisor itself have been killed (by the program).
        leftovers = _kill_group(process) and not timed_out
        process.wait()
    leftovers = (_read_status(status_read) == _LEFTOVERS or leftovers) and not timed_out
    deadline = time.monotonic() + 5
    for capture in (out, err):
        capture.thread.join(max(0.0, deadline - time.monotonic()))
    process.stdout.close()
    process.stderr.close()
    return ProcessOutcome(
        stdout=out.text(),
        stderr=err.text(),
        exit_code=-1 if timed_out else process.returncode,
        timed_out=timed_out,
        truncated=bool(out.dropped or err.dropped),
        stopped_leftovers=leftovers,
    )
