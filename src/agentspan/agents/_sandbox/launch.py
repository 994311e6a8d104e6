"""Run as a script (``python -I -S launch.py LIMITS_JSON PROGRAM [ARGS...]``) between the
worker's fork and the sandboxed program's exec.

It applies resource limits, drops to an unprivileged user when asked, and then either
replaces itself with the program or (``"supervise": true``) stays as the program's parent:
a child subreaper, to which every process the program leaves behind is re-parented - even
one that left the process group with ``setsid()`` - so that all of them can be killed
when the program ends, times out (``SIGTERM`` from the worker) or the worker dies. Doing this in a tiny separate interpreter rather than in a
``preexec_fn`` keeps the worker safe: ``preexec_fn`` runs Python code in a forked copy of a
multi-threaded process, which can deadlock. This file imports only the standard library
(it runs with ``-I -S``, before any site packages) and must stay importable on its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import sys

_RLIMITS = {
    "cpu_seconds": resource.RLIMIT_CPU,
    # Private writable memory (heap, anonymous mappings): unlike the address-space limit
    # it does not count the large reservations V8 makes at start, so node still runs.
    "memory_bytes": resource.RLIMIT_DATA,
    "address_space_bytes": resource.RLIMIT_AS,
    "file_size_bytes": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}

NOT_FOUND = 127
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_KILL_ROUNDS = 500
LEFTOVERS = b"leftovers"
# Loaded now, as root if the worker is: once the user is dropped, the worker's Python
# installation (and so ctypes' own files) may no longer be readable.
_LIBC = ctypes.CDLL(None)


def _limit(kind: int, value: int) -> None:
    _soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY and value > hard:
        value = hard  # an unprivileged worker may only lower its limits
    # For CPU time the soft limit sends SIGXCPU (reported as "CPU time limit reached");
    # the hard one, a second later, SIGKILL for a program that ignores it.
    roomy = hard == resource.RLIM_INFINITY or value < hard - 1
    ceiling = value + 1 if kind == resource.RLIMIT_CPU and roomy else value
    resource.setrlimit(kind, (value, ceiling))


def _drop_privileges(uid: int, gid: int) -> None:
    # Groups first: once the uid is dropped, the process may no longer change them.
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("could not drop privileges")


def main(argv: list[str]) -> int:
    settings = json.loads(argv[1])
    program = argv[2:]
    for name, kind in _RLIMITS.items():
        value = settings.get(name)
        if value is not None:
            _limit(kind, int(value))
    # A core dump of a program killed by a limit would write up to its memory size to disk.
    _limit(resource.RLIMIT_CORE, 0)
    if settings.get("uid") is not None:
        _drop_privileges(int(settings["uid"]), int(settings["gid"]))
    supervise = bool(settings.get("supervise")) and hasattr(_LIBC, "prctl")
    if settings.get("parent") is not None:
        # A supervisor is told with SIGTERM, which it handles by killing what it runs.
        _die_with_parent(int(settings["parent"]), signal.SIGTERM if supervise else signal.SIGKILL)
    if supervise:
        return _supervise(program, settings.get("status_fd"))
    return _exec(program)


def _die_with_parent(parent: int, signum: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``signum`` to this process (soon the program) if the worker
    dies, so a killed worker leaves no code running. Set after the drop: changing user
    clears it.
    """
    try:
        prctl = _LIBC.prctl
    except AttributeError:
        return  # not Linux: the worker's timeout still applies while it lives
    prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(NOT_FOUND)  # the worker died before the request took effect


def _supervise(program: list[str], status_fd: int | None) -> int:
    """Run ``program`` as a child, then kill every process left in this subtree.

    Exits the way the program did (its exit code, or the same signal), so the worker reads
    the program's outcome; ``LEFTOVERS`` is written to ``status_fd`` when processes were
    still running after the program ended.
    """
    if status_fd is not None:
        os.set_inheritable(status_fd, False)  # the program must not hold the status pipe
    _LIBC.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    supervisor = os.getpid()
    child = os.fork()
    if child == 0:
        _die_with_parent(supervisor)
        os._exit(_exec(program))

    def stop(signum: int, _frame: object) -> None:
        _kill_subtree(supervisor)
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stop)
    _pid, status = os.waitpid(child, 0)
    if _kill_subtree(supervisor) and status_fd is not None:
        with contextlib.suppress(OSError):
            os.write(status_fd, LEFTOVERS)
    if os.WIFSIGNALED(status):
        killer = os.WTERMSIG(status)
        signal.signal(killer, signal.SIG_DFL)
        os.kill(supervisor, killer)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _kill_subtree(root: int) -> bool:
    """SIGKILL every living descendant of ``root`` until none is left, collecting them;
    ``True`` if there were any. Repeated because a process may fork while it is killed."""
    found = False
    for _ in range(_KILL_ROUNDS):
        living = _living_descendants(root)
        if not living:
            break
        found = True
        for pid in living:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _collect(block=False)
    _collect(block=True)
    return found


def _collect(*, block: bool) -> None:
    """Reap dead children (orphans are re-parented here, so they are ours to collect)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _living_descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    living: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        pid = int(name)
        children.setdefault(int(fields[1]), []).append(pid)
        if fields[0] not in (b"Z", b"X"):
            living.add(pid)
    found: list[int] = []
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop()
        if pid in living:
            found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def _exec(program: list[str]) -> int:
    """Replace this process with ``program``, searching ``PATH`` like a shell.

    Hand-written rather than ``os.execvp``, which imports modules lazily: after the drop
    to another user, the worker's Python installation may no longer be readable. An entry
    this user cannot run (a directory it may not enter) is skipped, so the first
    interpreter it can actually run is used.
    """
    name = program[0]
    candidates = [name] if "/" in name else [os.path.join(d or ".", name) for d in _path()]
    problem = "not found"
    for candidate in candidates:
        try:
            os.execv(candidate, program)
        except OSError as exc:
            if not isinstance(exc, FileNotFoundError | NotADirectoryError):
                problem = exc.strerror or str(exc)
    sys.stderr.write(f"cannot run {name!r}: {problem}\n")
    return NOT_FOUND


def _path() -> list[str]:
    return os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
