"""``agentspan credentials``: set, list and delete the server's credentials (an admin key,
or a loopback server nobody has created a key for yet), and rotate its master key.

``set``, ``list`` and ``delete`` talk to the server over REST like the rest of the CLI.
A value is read from standard input (piped, or typed without echo at a terminal) or a
file; one given on the command line is accepted but lands in the shell's history and in
``ps`` output, so the help steers away from it. Nothing here prints a value.

``rotate-master-key`` opens the database directly, like ``server migrate``: the master
key lives with the server (its environment or data dir), never behind the API.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from agentspan.cli._executions import ApiClient, CliError, local_time, parse, print_json, print_table
from agentspan.cli._maintenance import _database_flags, database_url, with_store
from agentspan.cli._server import _data_dir
from agentspan.protocol.api import CredentialInfo

if TYPE_CHECKING:
    from agentspan.server.service.master_key import KeySource, MasterKey
    from agentspan.server.store.base import Store

STDIN = "-"


def _one_value(text: str, where: str) -> str:
    # `echo token | agentspan credentials set X` and files saved by editors end in one
    # newline that is not part of the secret; anything else is kept as it is.
    value = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    if not value:
        raise CliError(f"the credential value from {where} is empty")
    return value


def read_value(args: argparse.Namespace) -> str:
    if args.from_file is not None and args.value is not None:
        raise CliError("give the value either as VALUE or with --from-file, not both")
    if args.from_file is not None:
        try:
            return _one_value(Path(args.from_file).read_text(), args.from_file)
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read {args.from_file}: {getattr(exc, 'strerror', None) or exc}") from None
    if args.value is not None and args.value != STDIN:
        return str(args.value)
    if sys.stdin.isatty():
        value = getpass.getpass(f"value for {args.name} (not echoed): ")
        if not value:
            raise CliError("no value given")
        return value
    return _one_value(sys.stdin.read(), "standard input")


def cmd_set(args: argparse.Namespace) -> int:
    value = read_value(args)
    with ApiClient(args.server_url) as api:
        info = parse(
            CredentialInfo,
            api.call("PUT", f"/credentials/{quote(args.name, safe='')}", body={"value": value}),
        )
    verb = "set" if info.created_at == info.updated_at else "replaced"
    print(f"{verb} credential {info.name!r}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with ApiClient(args.server_url) as api:
        data = api.call("GET", "/credentials")
    if args.json:
        print_json(data)
        return 0
    rows = [
        [c.name, local_time(c.created_at), c.created_by, local_time(c.updated_at), c.updated_by]
        for c in (parse(CredentialInfo, row) for row in data)
    ]
    if not rows:
        print("no credentials (set one with: agentspan credentials set NAME)")
        return 0
    print_table(["NAME", "CREATED", "BY", "UPDATED", "BY"], rows)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with ApiClient(args.server_url) as api:
        api.call("DELETE", f"/credentials/{quote(args.name, safe='')}")
    print(f"deleted credential {args.name!r}")
    return 0


# --- rotating the master key -------------------------------------------------------------


def cmd_rotate(args: argparse.Namespace) -> int:
    from agentspan.server.service import master_key as mk

    url = database_url(args)
    try:
        source = mk.KeySource(_data_dir(args), os.environ.get(mk.ENV))
        new_env = os.environ.get(mk.NEW_ENV, "").strip()
        new = mk.parse_key(new_env, mk.NEW_ENV) if new_env else None
    except mk.MasterKeyError as exc:
        raise CliError(str(exc)) from None
    if new is None and source.from_env:
        raise CliError(
            f"the master key comes from {mk.ENV}: put the new key in {mk.NEW_ENV} "
            f"({mk.GENERATE_HINT}) and run this again"
        )

    async def work(store: Store) -> tuple[int, MasterKey]:
        return await _rotate(store, source, new or mk.new_key(str(source.path)))

    count, key = with_store(url, args, work)
    noun = "credential" if count == 1 else "credentials"
    print(f"re-sealed {count} {noun} with master key {key.key_id}")
    if source.from_env:
        print(
            f"now give every server {mk.ENV} = the value of {mk.NEW_ENV}, and restart them", file=sys.stderr
        )
    else:
        print(
            f"the new key is in {source.path}: back it up (the old one no longer opens anything)",
            file=sys.stderr,
        )
    return 0


async def _rotate(store: Store, source: KeySource, new: MasterKey) -> tuple[int, MasterKey]:
    from agentspan.server.service import master_key as mk
    from agentspan.server.service.credentials import rotate

    try:
        source.settle_pending({row.key_id for row in await store.list_credentials()})
        old = source.current()
        if old is None:
            raise CliError(
                "this server has no master key yet (no credential was ever stored): nothing to rotate"
            )
        if source.from_env:
            return await rotate(store, old, new), new
        # The new key is on disk before the transaction commits and renamed into place
        # after; a crash in between is settled at the next start (master_key.py).
        mk.write_key_file(source.pending_path, new, exclusive=False)
        try:
            count = await rotate(store, old, new)
        except BaseException:
            source.pending_path.unlink(missing_ok=True)
            raise
        os.replace(source.pending_path, source.path)
        return count, new
    except mk.MasterKeyError as exc:
        raise CliError(str(exc)) from None


# --- parsers ----------------------------------------------------------------------------


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    creds = commands.add_parser(
        "credentials",
        help="set, list and delete credentials for server-side tools and provider keys (needs an admin key)",
    )
    sub = creds.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "set",
        parents=[common],
        help="set (or replace) a credential; the value is read from stdin",
        description='Set a credential. Pipe the value in (printf %s "$TOKEN" | agentspan credentials '
        "set NAME), type it at the prompt, or use --from-file. A VALUE on the command line works "
        "but is kept in your shell history and visible in ps: avoid it.",
    )
    p.add_argument("name", help="the credential's name, like an environment variable (GITHUB_TOKEN)")
    p.add_argument(
        "value",
        nargs="?",
        help="'-' or omitted: read standard input (preferred). A literal value is discouraged: "
        "it stays in shell history",
    )
    p.add_argument(
        "--from-file", metavar="FILE", help="read the value from FILE (one trailing newline dropped)"
    )
    p.set_defaults(handler=cmd_set)

    p = sub.add_parser("list", parents=[common], help="list credentials: names and dates, never values")
    p.add_argument("--json", action="store_true", help="print the raw JSON response")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("delete", parents=[common], help="delete a credential")
    p.add_argument("name", help="the credential's name")
    p.set_defaults(handler=cmd_delete)

    p = sub.add_parser(
        "rotate-master-key",
        help="re-seal every credential with a new master key (opens the database directly)",
        description="Re-seal every stored credential with a new master key, in one transaction. "
        "With a key file (<data-dir>/master.key) a new key is generated and replaces it. With "
        "AGENTSPAN_MASTER_KEY, give the new key in AGENTSPAN_NEW_MASTER_KEY, then restart the "
        "servers with it. On SQLite, stop the server first.",
    )
    _database_flags(p)
    p.set_defaults(handler=cmd_rotate)
