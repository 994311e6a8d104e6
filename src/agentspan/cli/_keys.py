"""``agentspan keys``: create, list and revoke the server's API keys (an admin key, or a
loopback server nobody has created a key for yet)."""

from __future__ import annotations

import argparse
import sys

from agentspan.cli._executions import ApiClient, local_time, parse, print_json, print_table
from agentspan.protocol.api import ApiKeyInfo, CreatedApiKey

SCOPE_CHOICES = ("admin", "operator", "worker")


def cmd_create(args: argparse.Namespace) -> int:
    body = {"name": args.name, "scopes": args.scope or []}
    with ApiClient(args.server_url) as api:
        created = parse(CreatedApiKey, api.call("POST", "/keys", body=body))
    if args.json:
        print_json(created.wire())
        return 0
    print(created.key)
    print(
        f"created key {created.name!r} (id {created.id}, scopes {', '.join(created.scopes)}); "
        "it is shown only once: store it now (e.g. export AGENTSPAN_API_KEY=...)",
        file=sys.stderr,
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    params = {"includeRevoked": "true"} if args.all else None
    with ApiClient(args.server_url) as api:
        data = api.call("GET", "/keys", params=params)
    if args.json:
        print_json(data)
        return 0
    keys = [parse(ApiKeyInfo, row) for row in data]
    rows = [
        [
            k.id,
            k.name,
            ",".join(k.scopes),
            local_time(k.created_at),
            k.created_by,
            local_time(k.revoked_at) if k.revoked_at is not None else "",
        ]
        for k in keys
    ]
    print_table(["ID", "NAME", "SCOPES", "CREATED", "BY", "REVOKED"], rows)
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    with ApiClient(args.server_url) as api:
        revoked = parse(ApiKeyInfo, api.call("DELETE", f"/keys/{args.key}"))
    print(f"revoked key {revoked.name!r} (id {revoked.id})")
    return 0


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    keys = commands.add_parser("keys", help="create, list and revoke API keys (needs an admin key)")
    sub = keys.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    p = sub.add_parser("create", parents=[common], help="create a key and print it (shown only once)")
    p.add_argument("name", help="a name for the key; recorded as who approved what")
    p.add_argument(
        "--scope",
        action="append",
        choices=SCOPE_CHOICES,
        help="what the key may do (repeatable; default: operator and worker)",
    )
    p.add_argument("--json", action="store_true", help="print the raw JSON response")
    p.set_defaults(handler=cmd_create)

    p = sub.add_parser("list", parents=[common], help="list keys (never the keys themselves)")
    p.add_argument("--all", action="store_true", help="include revoked keys")
    p.add_argument("--json", action="store_true", help="print the raw JSON response")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("revoke", parents=[common], help="revoke a key by name or id (takes effect at once)")
    p.add_argument("key", help="the key's name or id")
    p.set_defaults(handler=cmd_revoke)
