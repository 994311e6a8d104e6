"""``JupyterCodeExecutor``: code in a live Jupyter kernel whose state outlives one call.

Needs ``pip install 'agentspan[jupyter]'`` (``jupyter_client`` and ``ipykernel``).
"""

from __future__ import annotations

import collections
import contextlib
import queue
import sys
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from agentspan._core.tool import ToolContext
from agentspan.agents._sandbox.base import CodeExecutor, ExecutionResult
from agentspan.agents._sandbox.process import ResourceLimits, launcher_prefix, minimal_environment

__all__ = ["JupyterCodeExecutor", "KERNEL_LIMITS", "end_execution", "shutdown_all_kernels"]

_INSTALL = "pip install 'agentspan[jupyter]'"
_DEFAULT_KEY = ""
MAX_OUTPUT_CHARS = 100_000
_START_ATTEMPTS = 3
_INTERRUPT_GRACE = 5.0
_REAP_EVERY_AT_MOST = 30.0
_REAP_EVERY_AT_LEAST = 0.2

# A kernel lives across calls, so no CPU-time limit (it would add up over an execution)
# and no process limit (it counts every process of the worker's user, which changes
# while the kernel lives); memory and file size are capped per kernel.
KERNEL_LIMITS = ResourceLimits(
    cpu_seconds=None,
    memory_bytes=1024 * 1024 * 1024,
    file_size_bytes=64 * 1024 * 1024,
    open_files=1024,
    processes=None,
)

_LIVE: weakref.WeakSet[JupyterCodeExecutor] = weakref.WeakSet()


def shutdown_all_kernels() -> None:
    """Stop every kernel of every executor in this process (a runtime calls it when its
    workers stop; the next call of an executor starts a fresh kernel)."""
    for executor in list(_LIVE):
        executor.shutdown()


def end_execution(execution_id: str) -> None:
    """Stop the kernels of one agent execution in every executor of this process (the
    runtime calls it when it sees the execution finish)."""
    for executor in list(_LIVE):
        executor.shutdown(execution_id)


class _Reaper:
    """One daemon thread per process that shuts down kernels idle past their executor's
    ``idle_seconds``, whether or not the executor is called again."""

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, daemon=True, name="agentspan-kernel-reaper"
                )
                self._thread.start()
        self._wake.set()  # a new executor may want a shorter period

    def _loop(self) -> None:
        while True:
            executors = list(_LIVE)
            for executor in executors:
                executor.reap_idle()
            shortest = min((e.idle_seconds for e in executors), default=_REAP_EVERY_AT_MOST * 4)
            period = min(_REAP_EVERY_AT_MOST, max(_REAP_EVERY_AT_LEAST, shortest / 4))
            self._wake.wait(period)
            self._wake.clear()


_REAPER = _Reaper()


class _Kernel:
    """One running kernel and its client."""

    def __init__(self, manager: Any, client: Any) -> None:
        self.manager = manager
        self.client = client
        self.lock = threading.Lock()
        self.used = time.monotonic()

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        with contextlib.suppress(Exception):
            self.manager.shutdown_kernel(now=True)


class JupyterCodeExecutor(CodeExecutor):
    """Runs code in a Jupyter kernel (``kernel_name``, default ``python3``), started on
    first use; variables, imports and functions persist from one call to the next.

    Through :meth:`as_tool`, each agent execution gets its own kernel (keyed by the
    execution id), so two runs never see each other's variables. A kernel is shut down when
    the runtime in this process sees its execution finish (:func:`end_execution`), when it
    has been idle for ``idle_seconds`` (checked by a background thread), when more than
    ``max_kernels`` would live at once (least recently used first), by :meth:`shutdown`,
    when the runtime's workers stop, and when the worker process dies (the kernel watches
    its parent). A call that outlives ``timeout`` is interrupted; a kernel that does not
    stop within a few seconds of the interrupt is restarted (its variables are lost, and
    the result says so). Output is capped at ``max_output_chars`` per stream, and the
    kernel process runs with ``limits`` (default :data:`KERNEL_LIMITS`: 1 GiB of memory).
    It runs as the worker's user with a minimal environment (plus ``env`` and the
    ``pass_env`` variables): it isolates state, not the machine (``docs/sandboxes.md``).
    """

    def __init__(
        self,
        kernel_name: str = "python3",
        timeout: float = 30,
        startup_code: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        pass_env: Sequence[str] = (),
        max_kernels: int = 4,
        idle_seconds: float = 1800,
        limits: ResourceLimits | None = KERNEL_LIMITS,
        max_output_chars: int = MAX_OUTPUT_CHARS,
    ) -> None:
        super().__init__("python" if kernel_name.startswith("python") else kernel_name, timeout)
        self.kernel_name = kernel_name
        self.startup_code = startup_code
        self.env = dict(env or {})
        self.pass_env = list(pass_env)
        self.max_kernels = max(1, max_kernels)
        self.idle_seconds = idle_seconds
        self.limits = limits
        if max_output_chars <= 0:
            raise ValueError(f"max_output_chars must be positive, got {max_output_chars}")
        self.max_output_chars = max_output_chars
        self._kernels: collections.OrderedDict[str, _Kernel] = collections.OrderedDict()
        self._lock = threading.Lock()
        # Runs when the executor is collected or, at the latest, when the process exits.
        self._finalizer = weakref.finalize(self, _shutdown_all, self._kernels, self._lock)
        _LIVE.add(self)

    def execute(self, code: str) -> ExecutionResult:
        return self._run(_DEFAULT_KEY, code)

    def execute_for(self, code: str, context: ToolContext | None) -> ExecutionResult:
        return self._run(context.execution_id if context else _DEFAULT_KEY, code)

    def shutdown(self, execution_id: str | None = None) -> None:
        """Stop one execution's kernel, or (no argument) all of them."""
        if execution_id is None:
            _shutdown_all(self._kernels, self._lock)
            return
        with self._lock:
            kernel = self._kernels.pop(execution_id, None)
        if kernel is not None:
            kernel.shutdown()

    def reap_idle(self) -> None:
        """Shut down the kernels idle for longer than ``idle_seconds`` (a kernel running a
        call is never idle)."""
        now = time.monotonic()
        with self._lock:
            stale = [
                key
                for key, kernel in self._kernels.items()
                if now - kernel.used > self.idle_seconds and not kernel.lock.locked()
            ]
            dropped = [self._kernels.pop(key) for key in stale]
        for kernel in dropped:
            kernel.shutdown()

    def running_executions(self) -> list[str]:
        """The execution ids that have a live kernel (``""``: calls outside an execution)."""
        with self._lock:
            return list(self._kernels)

    # ------------------------------------------------------------------ kernels

    def _run(self, key: str, code: str) -> ExecutionResult:
        try:
            kernel = self._kernel(key)
        except ImportError:
            return ExecutionResult(error=f"JupyterCodeExecutor needs jupyter_client: {_INSTALL}", exit_code=1)
        except Exception as exc:  # noqa: BLE001 - a kernel that cannot start is the call's failure
            return ExecutionResult(
                error=f"the Jupyter kernel did not start: {type(exc).__name__}: {exc}", exit_code=1
            )
        with kernel.lock:
            kernel.used = time.monotonic()
            result, healthy = _execute(kernel, code, self.timeout, self.max_output_chars)
            kernel.used = time.monotonic()
        if not healthy:
            self._discard(key, kernel)
        return result

    def _discard(self, key: str, kernel: _Kernel) -> None:
        """Forget a kernel that died or would not stop: the next call starts a fresh one."""
        with self._lock:
            if self._kernels.get(key) is kernel:
                del self._kernels[key]
        kernel.shutdown()

    def _kernel(self, key: str) -> _Kernel:
        stale: list[_Kernel] = []
        with self._lock:
            now = time.monotonic()
            for name, candidate in list(self._kernels.items()):
                if name != key and now - candidate.used > self.idle_seconds:
                    stale.append(self._kernels.pop(name))
            kernel = self._kernels.get(key)
            if kernel is not None:
                self._kernels.move_to_end(key)
            else:
                while len(self._kernels) >= self.max_kernels:
                    stale.append(self._kernels.popitem(last=False)[1])
                kernel = self._start()
                self._kernels[key] = kernel
        for old in stale:
            old.shutdown()
        return kernel

    def _start(self) -> _Kernel:
        # jupyter_client picks free TCP ports before the kernel binds them, so on a busy
        # machine another process can take one first and the kernel dies at start: retry.
        for attempt in range(_START_ATTEMPTS):
            try:
                return self._start_once()
            except RuntimeError:
                if attempt == _START_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> _Kernel:
        from jupyter_client.manager import KernelManager  # noqa: PLC0415 - optional dependency

        manager = KernelManager(kernel_name=self.kernel_name)
        spec = manager.kernel_spec
        if self.limits is not None and spec is not None:
            # The kernel execs through the launcher, which sets the limits first. Not tied
            # to this thread's life: the kernel exits by itself when the worker process
            # dies (ipykernel watches its parent).
            spec.argv = [*launcher_prefix(self.limits, die_with_worker=False), *_own_python(spec.argv)]
        manager.start_kernel(env=minimal_environment(None, self.env, self.pass_env))
        _REAPER.ensure_running()
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
        except Exception:
            _Kernel(manager, client).shutdown()
            raise
        kernel = _Kernel(manager, client)
        if self.startup_code:
            _execute(kernel, self.startup_code, self.timeout, self.max_output_chars)
        return kernel


def _own_python(argv: list[str]) -> list[str]:
    """The kernel command with a bare ``python`` as this interpreter, as jupyter_client
    would have done had the command not been prefixed (so a virtualenv's kernel is used)."""
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
    return [sys.executable, *argv[1:]] if argv and argv[0] in bare else list(argv)


def _shutdown_all(kernels: collections.OrderedDict[str, _Kernel], lock: threading.Lock) -> None:
    with lock:
        running = list(kernels.values())
        kernels.clear()
    for kernel in running:
        kernel.shutdown()


def _execute(kernel: _Kernel, code: str, timeout: float, limit: int) -> tuple[ExecutionResult, bool]:
    """Send ``code``, collect its output messages until the kernel is idle again.

    The flag says whether the kernel can take another call: ``False`` when it died or did
    not stop after the timeout's interrupt.
    """
    msg_id = kernel.client.execute(code, store_history=False, allow_stdin=False)
    out = _Bounded(limit)
    err = _Bounded(limit)
    failed = False
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            kernel.manager.interrupt_kernel()
            stopped = _drain_until_idle(kernel, msg_id)
            if not stopped:
                err.plus(
                    "the kernel did not stop when interrupted and was restarted: earlier variables are lost"
                )
            result = ExecutionResult(output=_cap(out), error=_cap(err), exit_code=-1, timed_out=True)
            return result, stopped
        try:
            message = kernel.client.get_iopub_msg(timeout=min(remaining, 1.0))
        except queue.Empty:
            if not kernel.manager.is_alive():
                err.plus(
                    "the kernel died (out of memory, or the code ended its process); the next call starts a new one"
                )
                return ExecutionResult(output=_cap(out), error=_cap(err), exit_code=1), False
            continue
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            (err if content.get("name") == "stderr" else out).append(str(content.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            out.append(str(content.get("data", {}).get("text/plain", "")) + "\n")
        elif kind == "error":
            failed = True
            err.append(f"{content.get('ename', 'Error')}: {content.get('evalue', '')}")
        elif kind == "status" and content.get("execution_state") == "idle":
            break
    return ExecutionResult(output=_cap(out), error=_cap(err), exit_code=1 if failed or err else 0), True


def _drain_until_idle(kernel: _Kernel, msg_id: str) -> bool:
    """After an interrupt, wait (briefly) for the kernel to finish the interrupted cell;
    ``False`` if it did not."""
    deadline = time.monotonic() + _INTERRUPT_GRACE
    while time.monotonic() < deadline:
        try:
            message = kernel.client.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            if not kernel.manager.is_alive():
                return False
            continue
        parent = message.get("parent_header", {}).get("msg_id")
        if (
            parent == msg_id
            and message["msg_type"] == "status"
            and message["content"].get("execution_state") == "idle"
        ):
            return True
    return False


class _Bounded:
    """Collected output, keeping at most ``limit`` characters."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def append(self, text: str) -> None:
        room = self.limit - self.size
        if len(text) > room:
            self.truncated = True
            text = text[: max(room, 0)]
        self.parts.append(text)
        self.size += len(text)

    def plus(self, line: str) -> _Bounded:
        self.append(("\n" if self.size else "") + line)
        return self

    def __bool__(self) -> bool:
        return self.size > 0


def _cap(collected: _Bounded) -> str:
    text = "".join(collected.parts)
    if collected.truncated:
        text += f"\n[output truncated at {collected.limit} characters]"
    return text
