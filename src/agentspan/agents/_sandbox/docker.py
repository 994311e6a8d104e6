"""``DockerCodeExecutor``: code in a throwaway container, through the ``docker`` CLI."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping, Sequence

from agentspan.agents._sandbox.base import CodeExecutor, ExecutionResult, describe_exit
from agentspan.agents._sandbox.process import minimal_environment, run_limited

__all__ = ["DockerCodeExecutor"]

_INTERPRETERS = {
    "python": "python3",
    "python3": "python3",
    "bash": "bash",
    "sh": "sh",
    "node": "node",
    "javascript": "node",
}
_NO_ENGINE = ("Cannot connect to the Docker daemon", "error during connect", "Is the docker daemon running")
NOT_FOUND = 127
ENGINE_UNREACHABLE = 125  # what `docker run` itself exits with when it cannot start a container
MAX_OUTPUT_BYTES = 100_000
# Every container this executor starts carries these labels, so a later worker can find
# and remove the ones a killed worker left behind.
LABEL = "agentspan.sandbox"
OWNER_LABEL = "agentspan.owner"  # "<host>:<pid>" of the worker that started it
DEADLINE_LABEL = "agentspan.deadline"  # Unix time after which it has no reason to exist
_PULL_ALLOWANCE = 10
_STOP_MARGIN = 5

_swept: set[str] = set()
_sweep_lock = threading.Lock()


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DockerCodeExecutor(CodeExecutor):
    """Runs each call in ``docker run --rm`` of ``image``: no network (unless
    ``network_enabled``), a read-only root file system with a small ``/tmp``, all
    capabilities dropped, no privilege escalation, limits on memory (``memory_limit``,
    default ``512m``), CPUs and processes, and ``volumes`` mounted read-only.

    ``volumes`` maps host paths to container paths. The container is killed (``docker
    kill``) when the timeout passes. The host's environment is not passed in; ``env`` is.

    A container does not depend on its worker to end: the code runs under the image's
    ``timeout`` command (``in_container_timeout``, on by default; turn it off for an image
    without coreutils or busybox), ``--rm`` removes it when it ends, and its labels
    (``agentspan.sandbox``, its worker, its deadline) let the first call of a later worker
    remove what a killed worker left (:meth:`cleanup_leftovers`).
    """

    def __init__(
        self,
        image: str = "python:3.12-slim",
        language: str = "python",
        timeout: float = 30,
        network_enabled: bool = False,
        memory_limit: str | None = None,
        volumes: Mapping[str, str] | None = None,
        *,
        cpus: float = 1.0,
        pids_limit: int = 64,
        env: Mapping[str, str] | None = None,
        docker_binary: str = "docker",
        extra_args: Sequence[str] = (),
        in_container_timeout: bool = True,
    ) -> None:
        super().__init__(language, timeout)
        self.image = image
        self.network_enabled = network_enabled
        self.memory_limit = memory_limit or "512m"
        self.volumes = dict(volumes or {})
        self.cpus = cpus
        self.pids_limit = pids_limit
        self.env = dict(env or {})
        self.docker_binary = docker_binary
        self.extra_args = list(extra_args)
        self.in_container_timeout = in_container_timeout

    def command(self, code: str, container: str, *, now: float | None = None) -> list[str]:
        """The ``docker run`` argv for ``code`` (public so its flags can be checked)."""
        lifetime = int(self.timeout) + 1 + _STOP_MARGIN
        deadline = int(time.time() if now is None else now) + lifetime + _PULL_ALLOWANCE
        argv = [self.docker_binary, "run", "--rm", "-i", "--name", container]
        argv += [
            "--label",
            f"{LABEL}=1",
            "--label",
            f"{OWNER_LABEL}={_owner()}",
            "--label",
            f"{DEADLINE_LABEL}={deadline}",
            "--stop-timeout=1",
        ]
        if not self.network_enabled:
            argv.append("--network=none")
        argv += [
            f"--memory={self.memory_limit}",
            f"--memory-swap={self.memory_limit}",  # no swap on top of the memory limit
            f"--cpus={self.cpus:g}",
            f"--pids-limit={self.pids_limit}",
            "--read-only",
            "--tmpfs=/tmp:rw,size=64m",
            "--workdir=/tmp",
            "--cap-drop=ALL",
            "--security-opt=no-new-privileges",
        ]
        for host, inside in self.volumes.items():
            argv += ["-v", f"{host}:{inside}:ro"]
        for name, value in self.env.items():
            argv += ["-e", f"{name}={value}"]
        interpreter = _INTERPRETERS.get(self.language.lower(), "python3")
        # The container's own clock: it ends even if no worker is left to kill it.
        limit = ["timeout", "-s", "KILL", str(lifetime)] if self.in_container_timeout else []
        return [*argv, *self.extra_args, self.image, *limit, interpreter, "-c", code]

    def cleanup_leftovers(self) -> list[str]:
        """Remove the labelled containers left behind by dead workers of this host, and
        any past its deadline; returns their ids. Containers of a live worker are kept."""
        binary = shutil.which(self.docker_binary)
        if binary is None:
            return []
        template = f'{{{{.ID}}}} {{{{.Label "{OWNER_LABEL}"}}}} {{{{.Label "{DEADLINE_LABEL}"}}}}'
        try:
            listed = subprocess.run(  # noqa: S603 - fixed argv
                [binary, "ps", "-a", "--filter", f"label={LABEL}", "--format", template],
                capture_output=True,
                text=True,
                timeout=15,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return []
        if listed.returncode != 0:
            return []
        doomed = [cid for cid, owner, deadline in _rows(listed.stdout) if _abandoned(owner, deadline)]
        if doomed:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run(  # noqa: S603 - ids read from docker itself
                    [binary, "rm", "-f", *doomed], capture_output=True, timeout=30, check=False
                )
        return doomed

    def _sweep_once(self) -> None:
        """The first call in this process (per Docker CLI) cleans up after dead workers."""
        with _sweep_lock:
            if self.docker_binary in _swept:
                return
            _swept.add(self.docker_binary)
        self.cleanup_leftovers()

    def unavailable_reason(self) -> str | None:
        """Why no container can be run here (no CLI, no engine), or ``None``."""
        binary = shutil.which(self.docker_binary)
        if binary is None:
            return f"the {self.docker_binary!r} CLI is not installed"
        try:
            probe = subprocess.run(  # noqa: S603 - fixed argv
                [binary, "version", "--format", "{{.Server.Version}}"],
                capture_output=True,
                text=True,
                timeout=15,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"docker did not answer: {exc}"
        if probe.returncode != 0 or not probe.stdout.strip():
            return f"no Docker engine is reachable: {probe.stderr.strip() or 'no server version'}"
        return None

    def execute(self, code: str) -> ExecutionResult:
        binary = shutil.which(self.docker_binary)
        if binary is None:
            return ExecutionResult(
                error=f"the {self.docker_binary!r} CLI is not installed on this worker", exit_code=NOT_FOUND
            )
        self._sweep_once()
        container = f"agentspan-exec-{uuid.uuid4().hex[:12]}"
        # Pulling an image and starting the container take time the code's timeout does
        # not count; the container is killed when the whole allowance is spent.
        outcome = run_limited(
            [binary, *self.command(code, container)[1:]],
            cwd="/",
            env=minimal_environment(None, {}, ("HOME", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG")),
            timeout=self.timeout + _PULL_ALLOWANCE,
            max_output_bytes=MAX_OUTPUT_BYTES,
            limits=None,
            ids=None,
        )
        if outcome.timed_out:
            subprocess.run([binary, "kill", container], capture_output=True, timeout=15, check=False)  # noqa: S603
        error = outcome.stderr.rstrip("\n")
        if any(marker in error for marker in _NO_ENGINE):
            return ExecutionResult(
                error=f"no Docker engine is reachable: {error}", exit_code=ENGINE_UNREACHABLE
            )
        if outcome.exit_code == 137 and not outcome.timed_out:
            error = "\n".join(filter(None, [error, "Killed (memory limit of the container, or docker kill)"]))
        elif describe_exit(outcome.exit_code) and not outcome.timed_out:
            error = "\n".join(filter(None, [error, describe_exit(outcome.exit_code)]))
        if outcome.truncated:
            error += f"\n[output truncated: each stream is limited to {MAX_OUTPUT_BYTES} bytes]"
        return ExecutionResult(
            output=outcome.stdout, error=error, exit_code=outcome.exit_code, timed_out=outcome.timed_out
        )


def _rows(listing: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in listing.splitlines():
        parts = line.split()
        if parts:
            parts += [""] * (3 - len(parts))
            rows.append((parts[0], parts[1], parts[2]))
    return rows


def _abandoned(owner: str, deadline: str, *, now: float | None = None) -> bool:
    """A container whose deadline passed, or whose worker on this host is gone."""
    if deadline.isdigit() and int(deadline) < (time.time() if now is None else now):
        return True
    host, _, pid = owner.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))
