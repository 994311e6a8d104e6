"""Run as a script (``python -I -S launch.py LIMITS_JSON PROGRAM [ARGS...]``) between the
worker's fork and the sandboxed program's exec.

It applies resource limits, drops to an unprivileged user when asked, and then replaces
itself with the program. Doing this in a tiny separate interpreter rather than in a
``preexec_fn`` keeps the worker safe: ``preexec_fn`` runs Python code in a forked copy of a
multi-threaded process, which can deadlock. This file imports only the standard library
(it runs with ``-I -S``, before any site packages) and must stay importable on its own.
"""

from __future__ import annotations

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
    _die_with_parent(int(settings["parent"]))
    return _exec(program)


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process (soon the program) if the worker dies, so
    a killed worker leaves no code running. Set after the drop: changing user clears it.
    """
    try:
        prctl = _LIBC.prctl
    except AttributeError:
        return  # not Linux: the worker's timeout still applies while it lives
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(NOT_FOUND)  # the worker died before the request took effect


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
