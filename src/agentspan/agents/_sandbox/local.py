"""``LocalCodeExecutor``: code in a limited child process on the worker's machine."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from agentspan.agents._sandbox.base import CodeExecutor, ExecutionResult, describe_exit
from agentspan.agents._sandbox.process import ResourceLimits, minimal_environment, run_limited, sandbox_ids

__all__ = ["INTERPRETERS", "LocalCodeExecutor"]

# language -> (interpreter looked up on PATH, file extension)
INTERPRETERS: dict[str, tuple[str, str]] = {
    "python": ("python3", ".py"),
    "python3": ("python3", ".py"),
    "bash": ("bash", ".sh"),
    "sh": ("sh", ".sh"),
    "shell": ("bash", ".sh"),
    "node": ("node", ".js"),
    "javascript": ("node", ".js"),
    "js": ("node", ".js"),
    "ruby": ("ruby", ".rb"),
}

MAX_OUTPUT_BYTES = 100_000
NOT_FOUND = 127


class LocalCodeExecutor(CodeExecutor):
    """Runs code with a local interpreter, in a fresh temporary directory per call.

    Unlike the reference's, this one is sandboxed: kernel resource limits (``limits``), a
    timeout that kills the whole process group, output capped at ``max_output_bytes`` per
    stream, an environment holding only a few harmless variables plus ``env`` and the
    worker variables named in ``pass_env``, no inherited file descriptors, and - when the
    worker is root - an unprivileged user (``user``, default ``nobody``). It is not a
    container: the program can read what that user can read and use the network. See
    ``docs/sandboxes.md``.
    """

    def __init__(
        self,
        language: str = "python",
        timeout: float = 30,
        working_dir: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        pass_env: Sequence[str] = (),
        limits: ResourceLimits | None = None,
        max_output_bytes: int = MAX_OUTPUT_BYTES,
        user: str | int | None = None,
    ) -> None:
        super().__init__(language, timeout, working_dir)
        if max_output_bytes <= 0:
            raise ValueError(f"max_output_bytes must be positive, got {max_output_bytes}")
        self.env = dict(env or {})
        self.pass_env = list(pass_env)
        # The CPU limit follows the timeout unless set: a busy loop dies by either.
        self.limits = limits or ResourceLimits(cpu_seconds=max(1, int(timeout) + 1))
        self.max_output_bytes = max_output_bytes
        self.user = user

    def for_language(self, language: str) -> LocalCodeExecutor:
        """The same settings for another language (the auto-attached tool's per-call choice)."""
        return LocalCodeExecutor(
            language,
            self.timeout,
            self.working_dir,
            env=self.env,
            pass_env=self.pass_env,
            limits=self.limits,
            max_output_bytes=self.max_output_bytes,
            user=self.user,
        )

    def execute(self, code: str, extra_env: Mapping[str, str] | None = None) -> ExecutionResult:
        spec = INTERPRETERS.get(self.language.lower())
        if spec is None:
            return ExecutionResult(error=f"Unsupported language: {self.language}", exit_code=1)
        interpreter, extension = spec
        env_probe = minimal_environment(None, self.env, self.pass_env)
        if shutil.which(interpreter, path=env_probe["PATH"]) is None:
            return ExecutionResult(
                error=f"{interpreter} (for {self.language}) is not installed on this worker",
                exit_code=NOT_FOUND,
            )
        ids = sandbox_ids(self.user)
        with self._scratch(ids) as scratch:
            script = Path(scratch) / f"main{extension}"
            script.write_text(code, encoding="utf-8")
            if ids is not None:
                os.chown(script, *ids)
            cwd = self.working_dir or scratch
            outcome = run_limited(
                [interpreter, str(script)],
                cwd=cwd,
                env=minimal_environment(scratch, {**self.env, **(extra_env or {})}, self.pass_env),
                timeout=self.timeout,
                max_output_bytes=self.max_output_bytes,
                limits=self.limits,
                ids=ids,
            )
        notes = [outcome.stderr.rstrip("\n")] if outcome.stderr else []
        if outcome.truncated:
            notes.append(f"[output truncated: each stream is limited to {self.max_output_bytes} bytes]")
        if outcome.stopped_leftovers:
            notes.append("[processes the program left running in the background were stopped]")
        if not outcome.timed_out and describe_exit(outcome.exit_code):
            notes.append(describe_exit(outcome.exit_code))
        return ExecutionResult(
            output=outcome.stdout,
            error="\n".join(notes),
            exit_code=outcome.exit_code,
            timed_out=outcome.timed_out,
        )

    @contextlib.contextmanager
    def _scratch(self, ids: tuple[int, int] | None) -> Iterator[str]:
        """A fresh directory for the script (and ``HOME``/``TMPDIR``), deleted afterwards.

        A configured ``working_dir`` is the user's: it is the program's current directory,
        used as it is and never deleted.
        """
        with tempfile.TemporaryDirectory(prefix="agentspan-exec-", ignore_cleanup_errors=True) as fresh:
            if ids is not None:
                os.chown(fresh, *ids)
            yield fresh
