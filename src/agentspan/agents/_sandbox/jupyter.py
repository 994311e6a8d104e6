"""``JupyterCodeExecutor``: code in a live Jupyter kernel whose state outlives one call.

Needs ``pip install 'agentspan[jupyter]'`` (``jupyter_client`` and ``ipykernel``).
"""

from __future__ import annotations

import collections
import contextlib
import queue
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from agentspan._core.tool import ToolContext
from agentspan.agents._sandbox.base import CodeExecutor, ExecutionResult
from agentspan.agents._sandbox.process import minimal_environment

__all__ = ["JupyterCodeExecutor", "shutdown_all_kernels"]

_INSTALL = "pip install 'agentspan[jupyter]'"
_DEFAULT_KEY = ""
MAX_OUTPUT_CHARS = 100_000
_START_ATTEMPTS = 3

_LIVE: weakref.WeakSet[JupyterCodeExecutor] = weakref.WeakSet()


def shutdown_all_kernels() -> None:
    """Stop every kernel of every executor in this process (a runtime calls it when its
    workers stop; the next call of an executor starts a fresh kernel)."""
    for executor in list(_LIVE):
        executor.shutdown()


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
    execution id), so two runs never see each other's variables; at most ``max_kernels``
    live at once (the least recently used is shut down first), a kernel idle for
    ``idle_seconds`` is shut down, and all are shut down by :meth:`shutdown`, when the
    executor is collected, or when the process exits. A call that outlives ``timeout`` is
    interrupted. The kernel runs as the worker's user with a minimal environment (plus
    ``env`` and the ``pass_env`` variables) and without resource limits: it isolates state,
    not the machine (``docs/sandboxes.md``).
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
    ) -> None:
        super().__init__("python" if kernel_name.startswith("python") else kernel_name, timeout)
        self.kernel_name = kernel_name
        self.startup_code = startup_code
        self.env = dict(env or {})
        self.pass_env = list(pass_env)
        self.max_kernels = max(1, max_kernels)
        self.idle_seconds = idle_seconds
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
            return _execute(kernel, code, self.timeout)

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
        manager.start_kernel(env=minimal_environment(None, self.env, self.pass_env))
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
        except Exception:
            _Kernel(manager, client).shutdown()
            raise
        kernel = _Kernel(manager, client)
        if self.startup_code:
            _execute(kernel, self.startup_code, self.timeout)
        return kernel


def _shutdown_all(kernels: collections.OrderedDict[str, _Kernel], lock: threading.Lock) -> None:
    with lock:
        running = list(kernels.values())
        kernels.clear()
    for kernel in running:
        kernel.shutdown()


def _execute(kernel: _Kernel, code: str, timeout: float) -> ExecutionResult:
    """Send ``code``, collect its output messages until the kernel is idle again."""
    msg_id = kernel.client.execute(code, store_history=False, allow_stdin=False)
    out = _Bounded()
    err = _Bounded()
    failed = False
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            kernel.manager.interrupt_kernel()
            _drain_until_idle(kernel, msg_id)
            return ExecutionResult(output=_cap(out), error=_cap(err), exit_code=-1, timed_out=True)
        try:
            message = kernel.client.get_iopub_msg(timeout=min(remaining, 1.0))
        except queue.Empty:
            if not kernel.manager.is_alive():
                return ExecutionResult(output=_cap(out), error=_cap(err.plus("the kernel died")), exit_code=1)
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
    return ExecutionResult(output=_cap(out), error=_cap(err), exit_code=1 if failed or err else 0)


def _drain_until_idle(kernel: _Kernel, msg_id: str) -> None:
    """After an interrupt, wait (briefly) for the kernel to finish the interrupted cell."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            message = kernel.client.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        parent = message.get("parent_header", {}).get("msg_id")
        if (
            parent == msg_id
            and message["msg_type"] == "status"
            and message["content"].get("execution_state") == "idle"
        ):
            return


class _Bounded:
    """Collected output, keeping at most ``MAX_OUTPUT_CHARS`` characters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def append(self, text: str) -> None:
        room = MAX_OUTPUT_CHARS - self.size
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
        text += f"\n[output truncated at {MAX_OUTPUT_CHARS} characters]"
    return text
