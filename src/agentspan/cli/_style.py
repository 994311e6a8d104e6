"""Colour for the command line: only on a terminal, never when ``NO_COLOR`` is set.

Colour is applied after a cell is padded, so the escape codes never shift a table's
columns; output piped to another program or a file stays plain text.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

__all__ = ["paint", "progress", "status_style", "use_colour", "verdict_style"]

_TICK_SECONDS = 0.5

_CODES = {"green": "32", "red": "31", "yellow": "33", "cyan": "36", "dim": "2", "bold": "1"}

_STATUS = {
    "COMPLETED": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "TERMINATED": "yellow",
    "PAUSED": "yellow",
    "RUNNING": "cyan",
}
_VERDICT = {"ok": "green", "warn": "yellow", "fail": "red"}


def use_colour(stream: TextIO | None = None) -> bool:
    """Colour for ``stream`` (stdout by default): a terminal, ``NO_COLOR`` unset or empty
    (https://no-color.org), and not a ``dumb`` terminal."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    target = stream if stream is not None else sys.stdout
    try:
        return target.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def paint(text: str, colour: str | None, *, enabled: bool) -> str:
    if not enabled or colour is None or not text.strip():
        return text
    return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"


def status_style(status: str) -> str | None:
    """The colour of an execution status (``RUNNING``, ``FAILED``...), if any."""
    return _STATUS.get(status.strip())


def verdict_style(verdict: str) -> str | None:
    """The colour of a doctor verdict (``ok``, ``warn``, ``fail``)."""
    return _VERDICT.get(verdict.strip())


@contextlib.contextmanager
def progress(label: str, *, stream: TextIO | None = None) -> Iterator[None]:
    """While the block runs, keep ``label… Ns`` on one line of ``stream`` (stderr by
    default), then erase it: only on a terminal, so logs and pipes get nothing."""
    target = stream if stream is not None else sys.stderr
    try:
        live = target.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        live = False
    if not live:
        yield
        return
    done = threading.Event()
    started = time.monotonic()

    def tick() -> None:
        while not done.wait(_TICK_SECONDS):
            target.write(f"\r{label}… {time.monotonic() - started:.0f}s")
            target.flush()

    ticker = threading.Thread(target=tick, daemon=True, name="agentspan-cli-progress")
    target.write(f"{label}…")
    target.flush()
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
        target.write("\r\x1b[K")  # erase the progress line: the result follows
        target.flush()
