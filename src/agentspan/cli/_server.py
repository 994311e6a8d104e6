"""``agentspan server ...``: run the server in the foreground, or manage a background one.

A background server is ``agentspan server run`` in its own session, with its pid in
``<data-dir>/server.pid`` and its output appended to ``<data-dir>/logs/server.log``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# CliError lives with the API client; the server commands raise the same kind of error.
from agentspan.cli._executions import EXIT_UNREACHABLE, CliError

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
LOG_FORMATS = ("text", "json")  # server/observability/log_format.py (not imported: it is the server's)
_LOG_FORMAT_HELP = "text (default) or json: one JSON object per line (default: $AGENTSPAN_LOG_FORMAT or text)"
LOOPBACK_NAMES = frozenset({"localhost"})
STOP_GRACE_SECONDS = 10.0
MAX_LOG_BYTES = 10 * 1024 * 1024


def default_data_dir() -> Path:
    # Same default as the server's Settings, without importing the server for every command.
    return Path(os.environ.get("AGENTSPAN_DATA_DIR") or Path.home() / ".agentspan")


def _data_dir(args: argparse.Namespace) -> Path:
    raw = args.data_dir or default_data_dir()
    return Path(raw).expanduser().absolute()


def _pid_path(data_dir: Path) -> Path:
    return data_dir / "server.pid"


def _log_path(data_dir: Path) -> Path:
    return data_dir / "logs" / "server.log"


def _base_url(host: str, port: int) -> str:
    # A wildcard bind address is reachable on loopback; IPv6 literals need brackets in URLs.
    connect = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{connect}]:{port}" if ":" in connect else f"http://{connect}:{port}"


def _healthy(base_url: str, timeout: float = 1.0) -> bool:
    # trust_env=False: a proxy from the environment must not answer for a local server.
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as http:
            resp = http.get(f"{base_url}/health")
            return resp.status_code == 200 and bool(resp.json().get("healthy"))
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


# --- processes --------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, but belongs to someone else
    # A zombie has exited; it only waits to be reaped (and PID 1 in a container may never).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def _command_line(pid: int) -> str | None:
    """The process's command line, or None when this platform will not tell us."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return ""  # /proc works, so the process is gone
    except OSError:
        return None
    try:
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return out.stdout


def _read_pid(data_dir: Path) -> int | None:
    """The pid of our live server for this data dir; a stale pid file is removed."""
    path = _pid_path(data_dir)
    try:
        pid = int(path.read_text().strip())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        pid = 0
    cmdline = _command_line(pid) if pid > 0 and _alive(pid) else ""
    # The pid may have been reused by an unrelated process after a crash: never signal that.
    if cmdline is not None and not ("agentspan.cli" in cmdline and " run" in cmdline):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    return pid


def _write_pid(data_dir: Path, pid: int) -> None:
    tmp = _pid_path(data_dir).with_suffix(".pid.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"{pid}\n")
    tmp.replace(_pid_path(data_dir))


def _remove_pid(data_dir: Path, pid: int) -> None:
    # Only our own pid: a server started concurrently may have written its own.
    with contextlib.suppress(OSError, ValueError):
        if int(_pid_path(data_dir).read_text().strip()) == pid:
            _pid_path(data_dir).unlink()


def _terminate(pid: int, grace: float) -> bool:
    """SIGTERM, then SIGKILL after ``grace`` seconds. True if it had to be killed."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    except PermissionError:
        raise CliError(f"not allowed to stop the server process {pid} (it belongs to another user)") from None
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            return False
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


# --- logs -------------------------------------------------------------------------------


def _tail(path: Path, count: int) -> list[str]:
    """The last ``count`` lines, read backwards so a large log costs only what is shown."""
    if count <= 0:
        return []
    with path.open("rb") as f:
        end = f.seek(0, os.SEEK_END)
        data, pos = b"", end
        while pos > 0 and data.count(b"\n") <= count:
            step = min(8192, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    return data.decode(errors="replace").splitlines()[-count:]


def _last_line_since(path: Path, offset: int) -> str:
    """The last non-empty line written after ``offset`` (the log is shared by every start)."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    lines = [ln.strip() for ln in lines if ln.strip()]
    last = lines[-1] if lines else ""
    return last.removeprefix("error: ")


def _rotate(log: Path) -> None:
    with contextlib.suppress(OSError):
        if log.stat().st_size > MAX_LOG_BYTES:
            log.replace(log.with_suffix(".log.1"))


# --- commands ---------------------------------------------------------------------------


_JSON_HELP = "print the result as one JSON object"


def cmd_start(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    url = _base_url(args.host, args.port)
    if _healthy(url):
        pid = _read_pid(data_dir)
        text = f"Agentspan server already running at {url}" + (f" (pid {pid})" if pid else "")
        _say(args, text, running=True, url=url, pid=pid, dataDir=str(data_dir), alreadyRunning=True)
        return 0
    running = _read_pid(data_dir)
    if running is not None:
        raise CliError(
            f"an Agentspan server (pid {running}) already uses {data_dir} but does not answer at {url}; "
            f"stop it first: agentspan server stop --data-dir {data_dir}"
        )
    log = _log_path(data_dir)
    for directory in (data_dir, log.parent):  # the data dir and its logs: this user's only
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
    _rotate(log)
    os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    os.chmod(log, 0o600)
    command = [sys.executable, "-m", "agentspan.cli", "server", "run"]
    command += ["--host", args.host, "--port", str(args.port), "--data-dir", str(data_dir)]
    command += ["--log-level", args.log_level]
    if args.log_format:
        command += ["--log-format", args.log_format]
    with log.open("ab") as out:
        offset = out.tell()
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # survives this shell and its Ctrl-C
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    _write_pid(data_dir, proc.pid)
    failure = _wait_healthy(proc, url, args.timeout)
    if failure is not None:
        if proc.poll() is None:
            _terminate(proc.pid, 5.0)
            proc.wait()
        _remove_pid(data_dir, proc.pid)
        raise CliError(f"server failed to start: {_last_line_since(log, offset) or failure}")
    text = f"Agentspan server running at {url} (pid {proc.pid}, data {data_dir})"
    _say(args, text, running=True, url=url, pid=proc.pid, dataDir=str(data_dir), alreadyRunning=False)
    return 0


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float) -> str | None:
    """None once the server answers, else why it did not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            return f"the server process exited with code {code}"
        if _healthy(url, timeout=0.5):
            return None
        time.sleep(0.1)
    return f"no answer from {url}/health within {timeout:g} s"


def _refuse_open_bind(host: str) -> None:
    """Until the API enforces authentication, only a loopback server may run without a token."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() in LOOPBACK_NAMES
    if not loopback and not os.environ.get("AGENTSPAN_AUTH_TOKEN"):
        raise CliError(
            f"refusing to bind {host} without authentication; set AGENTSPAN_AUTH_TOKEN or bind 127.0.0.1"
        )


def _check_port(host: str, port: int) -> None:
    """Fail with a clear message, instead of uvicorn's log line, when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind((host, port))
        except socket.gaierror as exc:
            raise CliError(f"cannot bind {host}: {exc.strerror}") from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(f"port {port} on {host} is already in use") from None
            raise CliError(f"cannot bind {host}:{port}: {exc.strerror}") from None


def cmd_run(args: argparse.Namespace) -> int:
    _refuse_open_bind(args.host)
    # Imported here: the server stack is heavy and only this command needs it.
    import asyncio

    import uvicorn

    from agentspan.server.app import create_app
    from agentspan.server.http import GracefulServer, protocol_class
    from agentspan.server.observability.log_format import format_from_env, log_config
    from agentspan.server.services import open_store
    from agentspan.server.settings import Settings
    from agentspan.server.store.base import StoreError

    try:
        settings = Settings.from_env(host=args.host, port=args.port, data_dir=args.data_dir)
        log_format = format_from_env(args.log_format)
    except ValueError as exc:
        raise CliError(str(exc)) from None

    async def check_store() -> None:
        # Opening the store once surfaces "not our database" or "locked by another server"
        # as one line here, rather than as a traceback from inside uvicorn's lifespan.
        store = open_store(settings.resolved_database_url())
        await store.open()
        await store.close()

    try:
        asyncio.run(check_store())
    except StoreError as exc:
        raise CliError(str(exc)) from None
    _check_port(args.host, args.port)
    try:
        app = create_app(settings)
    except ValueError as exc:  # an option it cannot honour (tracing without its package)
        raise CliError(str(exc)) from None
    # Long-polls and event streams would hold a graceful shutdown open for their whole
    # wait; nothing is lost by cutting them (clients resume), so cap the wait.
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=log_config(args.log_level, log_format),
        loop="auto",
        http=protocol_class(),
        timeout_graceful_shutdown=2,
    )
    GracefulServer(config, app.begin_shutdown).run()
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    pid = _read_pid(data_dir)
    if pid is None:
        _say(args, "not running", stopped=False, pid=None, killed=False)
        return 0
    killed = _terminate(pid, STOP_GRACE_SECONDS)
    _remove_pid(data_dir, pid)
    if killed:
        print(
            f"warning: the server did not exit within {STOP_GRACE_SECONDS:g} s and was killed",
            file=sys.stderr,
        )
    _say(args, f"stopped (pid {pid})", stopped=True, pid=pid, killed=killed)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    url = _base_url(args.host, args.port)
    pid = _read_pid(data_dir)
    if _healthy(url, timeout=3.0):
        _say(
            args,
            f"running at {url} (pid {pid if pid is not None else 'unknown'})",
            running=True,
            url=url,
            pid=pid,
        )
        return 0
    if pid is not None:
        text = f"not running at {url} (but pid {pid} from {_pid_path(data_dir)} is alive)"
    else:
        text = "not running"
    _say(args, text, running=False, url=url, pid=pid)
    return EXIT_UNREACHABLE


def _say(args: argparse.Namespace, text: str, **data: object) -> None:
    """One line for a person, or (``--json``) the same facts as one JSON object."""
    print(json.dumps(data) if getattr(args, "json", False) else text)


def cmd_logs(args: argparse.Namespace) -> int:
    log = _log_path(_data_dir(args))
    if not log.exists():
        raise CliError(f"no server log at {log} (start a server with: agentspan server start)")
    for line in _tail(log, args.lines):
        print(line)
    if args.follow:
        _follow(log)
    return 0


def _follow(log: Path) -> None:
    """Print what is appended to the log, like ``tail -F``, until Ctrl-C."""
    sys.stdout.flush()
    f = log.open("rb")
    try:
        f.seek(0, os.SEEK_END)
        while True:
            chunk = f.read(65536)
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                continue
            time.sleep(0.25)
            # Rotated (new file) or truncated: start over from the beginning of the new one.
            with contextlib.suppress(OSError):
                if log.stat().st_ino != os.fstat(f.fileno()).st_ino or log.stat().st_size < f.tell():
                    f.close()
                    f = log.open("rb")
    except KeyboardInterrupt:
        pass
    finally:
        f.close()


# --- parsers ----------------------------------------------------------------------------


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {raw!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 1 and 65535")
    return value


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add ``server ...``; returns its subcommands, for the ones defined elsewhere."""
    server = commands.add_parser("server", help="run or manage the Agentspan server")
    sub = server.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    def add(name: str, text: str, *, host: bool = False, port: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text)
        if host:
            p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        if port:
            p.add_argument("--port", type=_port, default=6767, help="port (default 6767)")
        p.add_argument("--data-dir", help="where the database, pid file and log live (default ~/.agentspan)")
        return p

    p = add("start", "start a background server and wait until it answers", host=True, port=True)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for it (default 30)")
    p.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    p.add_argument("--log-format", choices=LOG_FORMATS, help=_LOG_FORMAT_HELP)
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    p.set_defaults(handler=cmd_start)

    p = add("run", "run the server in the foreground (for supervisors and containers)", host=True, port=True)
    p.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    p.add_argument("--log-format", choices=LOG_FORMATS, help=_LOG_FORMAT_HELP)
    p.set_defaults(handler=cmd_run)

    p = add("stop", "stop the background server")
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    p.set_defaults(handler=cmd_stop)
    p = add("status", "is the server running?", host=True, port=True)
    p.add_argument("--json", action="store_true", help=_JSON_HELP)
    p.set_defaults(handler=cmd_status)

    p = add("logs", "print the background server's log")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    p.add_argument("-n", "--lines", type=int, default=50, help="how many lines to show (default 50)")
    p.set_defaults(handler=cmd_logs)
    return sub
