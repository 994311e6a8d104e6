"""``make install``'s pip step, with progress: ``pip install`` is otherwise a silent minute.

    python scripts/install.py -e '.[dev]'

Runs ``python -m pip install`` with the given arguments and reads what pip prints. On a
terminal it keeps one line up to date (the phase, packages seen, seconds); elsewhere (CI
logs, pipes) it prints one line per phase. If pip fails, everything pip printed follows,
and the exit status is pip's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

PHASES = (
    ("Installing collected packages", "installing"),
    ("Building wheel", "building"),
    ("Building editable", "building"),
    ("Collecting", "resolving and downloading"),
    ("Requirement already satisfied", "resolving and downloading"),
)
"""What a line of pip's output starts with, and the phase it belongs to."""
COUNTED = ("Collecting ", "Requirement already satisfied: ")
"""Lines naming one package each."""


def main(args: list[str]) -> int:
    live = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    command = [sys.executable, "-m", "pip", "install", "--progress-bar", "off", *args]
    started = time.monotonic()
    packages = 0
    phase = "starting pip"
    reached = {phase}
    output: list[str] = []

    def show(text: str) -> None:
        if live:
            sys.stderr.write(f"\r\x1b[K[install] {text}")
        else:
            sys.stderr.write(f"[install] {text}\n")
        sys.stderr.flush()

    show("starting pip (about a minute the first time)")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as pip:
        assert pip.stdout is not None
        for line in pip.stdout:
            output.append(line)
            packages += line.startswith(COUNTED)
            phase = next((name for prefix, name in PHASES if line.startswith(prefix)), phase)
            if live:
                show(f"{phase}: {packages} packages, {time.monotonic() - started:.0f}s")
            elif phase not in reached:  # a log gets one line per phase
                reached.add(phase)
                show(f"{phase} ({time.monotonic() - started:.0f}s)")
    if pip.returncode != 0:
        if live:
            sys.stderr.write("\n")
        sys.stderr.write("".join(output))
        sys.stderr.write(f"[install] pip failed (exit {pip.returncode}): its output is above\n")
        return pip.returncode
    show(f"done: {packages} packages in {time.monotonic() - started:.0f}s")
    if live:
        sys.stderr.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
