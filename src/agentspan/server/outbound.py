"""Requests the server sends on a caller's behalf (HTTP tools, API documents): where they
may go, and how much of an answer is read.

A server-side HTTP tool lets anyone who may start an agent make the server send requests.
So every such request goes through ``OutboundPolicy``: http(s) only, no user info in the
URL, only URLs matching ``AGENTSPAN_HTTP_TOOL_ALLOWED_URLS`` when the operator set it, and
never to a link-local or cloud-metadata address unless the operator listed that URL. The
address check is made on what the name resolves to, at connect time, and the connection
goes to the address that was checked (so a name cannot resolve to a safe address for the
check and to the metadata service for the connection). Redirects are not followed and the
environment's proxies are not used (a proxy would hide the destination from the check).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import anyio
import certifi
import httpcore
import httpx

from agentspan.server.settings import HttpToolSettings

BLOCKED_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),  # IPv4 link-local; 169.254.169.254 is the metadata service
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS's IPv6 metadata service
)
"""Destinations refused unless the operator lists the URL: they are how a request from
inside a cloud reaches the instance's credentials."""


class DestinationRefused(Exception):
    """The policy does not let this server send that request (the message says why)."""


@lru_cache(maxsize=1)
def provider_key_names() -> frozenset[str]:
    """The variables the server's own model-provider credentials live in. A tool header
    may not name one: a caller could otherwise send the operator's keys anywhere (even
    once the credential store can hold them)."""
    from agentspan.server.providers.registry import NATIVE_HTTP, OPENAI_COMPATIBLE

    names = {name for compatible in OPENAI_COMPATIBLE for name in compatible.key_envs}
    names |= {name for native in NATIVE_HTTP for name in native.key_envs}
    names |= {"COHERE_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    names |= {"GOOGLE_APPLICATION_CREDENTIALS", "AGENTSPAN_AUTH_TOKEN", "AGENTSPAN_MASTER_KEY"}
    return frozenset(names)


def check_credential_names(names: Iterable[str]) -> None:
    """``DestinationRefused`` when a name is one of the server's own keys."""
    for name in names:
        if name in provider_key_names():
            raise DestinationRefused(
                f"credential {name!r} names one of the server's own keys, which tools may not send "
                "(store the value under another name)"
            )


def blocked_address(address: str) -> bool:
    """True for a link-local or metadata address (IPv4-mapped IPv6 included)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in BLOCKED_NETWORKS)


@dataclass(frozen=True, slots=True)
class Destination:
    """A URL the policy let through; ``link_local_ok``: the operator listed it."""

    url: str
    link_local_ok: bool


class OutboundPolicy:
    """Decides whether a URL may be called and builds the client that calls it."""

    def __init__(self, settings: HttpToolSettings) -> None:
        self.settings = settings

    def check(self, url: str) -> Destination:
        """The URL as a ``Destination``, or ``DestinationRefused`` naming the rule. Names are
        checked again, resolved, when the client connects."""
        try:
            parts = urlsplit(url)
            _ = parts.port  # raises for a malformed port
        except ValueError as exc:
            raise DestinationRefused(f"{url!r} is not a valid URL ({exc})") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise DestinationRefused(f"{url!r} is not an http(s) URL")
        if "@" in parts.netloc:
            raise DestinationRefused(f"{url!r} carries user info; put credentials in headers")
        listed = bool(self.settings.allowed_urls) and self.settings.url_allowed(url)
        if self.settings.allowed_urls and not listed:
            raise DestinationRefused(
                f"{url!r} is not allowed on this server "
                "(the operator lists allowed URLs in AGENTSPAN_HTTP_TOOL_ALLOWED_URLS)"
            )
        if not listed and blocked_address(parts.hostname):
            raise DestinationRefused(_link_local_message(parts.hostname, parts.hostname))
        return Destination(url=url, link_local_ok=listed)

    def client(self, destination: Destination, timeout: float) -> httpx.AsyncClient:
        """A client for one call to ``destination`` (close it after)."""
        return httpx.AsyncClient(
            transport=_GuardedTransport(destination.link_local_ok),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
        )


def _link_local_message(host: str, address: str) -> str:
    where = host if host == address else f"{host} ({address})"
    return (
        f"{where} is a link-local or cloud-metadata address, which this server does not call "
        "unless the operator lists the URL in AGENTSPAN_HTTP_TOOL_ALLOWED_URLS"
    )


def refusal_of(exc: BaseException) -> DestinationRefused | None:
    """The policy's refusal behind an httpx error, if that is what it was."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DestinationRefused):
            return seen
        if isinstance(seen, _Refused):
            return DestinationRefused(str(seen))
        seen = seen.__cause__ or seen.__context__
    return None


class _Refused(httpcore.ConnectError):
    """Raised inside httpcore, so httpx reports it as a connect error (see ``refusal_of``)."""


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Built once: loading the CA bundle costs milliseconds, and a client is made per call.
    return ssl.create_default_context(cafile=certifi.where())


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, refuses blocked addresses, then connects to an address
    it checked (TLS still verifies and sends the host name)."""

    def __init__(self, link_local_ok: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._link_local_ok = link_local_ok

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self._link_local_ok:
            for address in addresses:
                if blocked_address(address):
                    raise _Refused(_link_local_message(host, address))
        last: Exception = httpcore.ConnectError(f"{host} resolved to no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise _Refused("unix sockets are not a destination of HTTP tools")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the guarded backend under its connection pool."""

    def __init__(self, link_local_ok: bool) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False)
        # httpx exposes no network backend option; the pool it built is replaced by one
        # that is the same but for the backend (tests/unit/test_outbound.py pins it).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=8,
            network_backend=_GuardedBackend(link_local_ok),
        )


async def read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of a streamed response's (decoded) body, and whether it
    was cut there. The rest is never read."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > limit:
            return bytes(body[:limit]), True
    return bytes(body), False


class Masker:
    """Replaces resolved secret values in anything derived from a response or an error,
    so a remote side echoing a credential cannot get it into the execution's record."""

    MASK = "***"

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first: a secret containing another is masked whole. Short values are
        # masked too; a false positive costs less than a leak.
        values = {s for s in secrets if s}
        self._values = sorted(values | {_json_escaped(s) for s in values}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._values:
            value = value.replace(secret, self.MASK)
        return value

    def json(self, value: Any) -> Any:
        if not self._values:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        return value


def _json_escaped(value: str) -> str:
    return json.dumps(value)[1:-1]
