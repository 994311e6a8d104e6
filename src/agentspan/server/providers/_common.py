"""Helpers shared by the provider adapters (private: the adapters re-export what they publish).

* :class:`HttpAdapter` is the base of the adapters that speak HTTP themselves (OpenAI, Anthropic,
  Gemini): the key and its redaction, the lazily created ``httpx`` client, and the normalisation
  of transport failures, HTTP error statuses and unreadable bodies to :class:`ProviderError`
  (429, 5xx, timeouts and connection failures are retryable and honour ``Retry-After``).
* :func:`retry_after_seconds`, :func:`sse_data`, :func:`error_detail`, :func:`one_line`: reading
  what an HTTP API sent back.
* :func:`parse_arguments`, :func:`arguments_object`, :func:`arguments_text`: stored raw tool-call
  arguments in the form an API wants; :func:`append_turn` merges turns so roles alternate.
* :func:`parse_data_url`, :func:`decode_data_url`: ``data:`` URL attachments.
* :func:`load_sdk_module`, :func:`call_sdk`, :func:`unstreamed_reply`, :func:`as_dict`,
  :func:`schema_instruction`: the plumbing of the SDK-backed adapters (Bedrock, Vertex AI, Cohere).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib
import json
import math
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any, TypeVar

import httpx

from agentspan.server.providers.base import DeltaCallback, LlmResponse, ProviderError

T = TypeVar("T")

MAX_ERROR_TEXT = 300
"""Error bodies from proxies can be whole HTML pages; messages keep this many characters of them."""
SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError)
"""What a parser raises on a body of the wrong shape."""
MASK = "<redacted>"
"""What a credential is replaced with, wherever it is masked."""
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
HTTP_FAILURES = (httpx.TransportError, httpx.InvalidURL)
"""What ``httpx`` raises when a request got no HTTP reply (timeouts included)."""


# -- HTTP adapters ------------------------------------------------------------------------------


class HttpAdapter:
    """Base of the adapters that call their API with ``httpx``.

    ``client`` lets several adapters share one connection pool; a client passed in is not
    closed by :meth:`aclose` (its owner closes it). Without one, the adapter creates its own
    on first use and closes it in :meth:`aclose`. The API key never appears in an error message.
    """

    _label: str
    """Names the provider in error messages."""

    def __init__(
        self, api_key: str | None, base_url: str, timeout: float, client: httpx.AsyncClient | None
    ) -> None:
        # The endpoint is fixed here, with the key: a request never names another one, so
        # a key cannot travel to a URL it was not configured for.
        self._api_key = api_key or None
        self._base_url = base_url
        self._timeout = timeout
        self._client = client
        self._owns_client = client is None

    async def aclose(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        # Created lazily so constructing an adapter needs no event loop and opens nothing.
        if self._client is None:
            self._client = httpx.AsyncClient()
            self._owns_client = True
        return self._client

    def _headers(self) -> dict[str, str]:
        """Request headers, credentials included."""
        raise NotImplementedError

    def _status_error(self, reply: httpx.Response) -> ProviderError:
        """The error for a reply with a non-2xx status (usually via :meth:`_http_error`)."""
        raise NotImplementedError

    async def _post(self, url: str, payload: dict[str, Any]) -> httpx.Response:
        return await self._http().post(url, json=payload, headers=self._headers(), timeout=self._timeout)

    @contextlib.asynccontextmanager
    async def _open_stream(
        self, url: str, payload: dict[str, Any], headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """A streamed POST whose status was 2xx (else :meth:`_status_error` is raised)."""
        async with self._http().stream(
            "POST", url, json=payload, headers=headers, timeout=self._timeout
        ) as reply:
            if not 200 <= reply.status_code <= 299:
                await reply.aread()
                raise self._status_error(self._masked(reply))
            yield reply

    def _transport_error(self, url: str, exc: Exception) -> ProviderError:
        """The error for a request that got no reply (``exc`` is one of :data:`HTTP_FAILURES`)."""
        name = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            message = f"{self._label} request to {url} timed out after {self._timeout:g}s ({name})"
            return ProviderError(self._redact(message), retryable=True)
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            # A malformed base URL will not fix itself on retry.
            return ProviderError(
                self._redact(f"invalid {self._label} base URL {url!r}: {exc}"), retryable=False
            )
        return ProviderError(
            self._redact(f"could not reach {self._label} at {url}: {name}: {exc}"), retryable=True
        )

    def _http_error(
        self,
        reply: httpx.Response,
        detail: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> ProviderError:
        """The error for a non-2xx reply: 429 and 5xx (or ``retryable``) may be retried.

        A retryable error waits as ``Retry-After`` says, else ``retry_after`` (the API's own hint).
        """
        status = reply.status_code
        message = f"{self._label} returned HTTP {status}: {self._redact(detail)}"
        if retryable or status == 429 or 500 <= status <= 599:
            header = retry_after_seconds(reply.headers)
            return ProviderError(
                message, retryable=True, retry_after=header if header is not None else retry_after
            )
        return ProviderError(message, retryable=False)

    def _json_body(self, reply: httpx.Response) -> Any:
        """The decoded body of a 2xx reply (other statuses raise :meth:`_status_error`)."""
        if not 200 <= reply.status_code <= 299:
            raise self._status_error(self._masked(reply))
        try:
            return reply.json()
        except ValueError:
            raise ProviderError(
                f"{self._label} returned HTTP {reply.status_code} with a body that is not JSON: "
                f"{self._redact(one_line(self._masked(reply).text))}",
                retryable=False,
            ) from None

    def _parse_body(self, reply: httpx.Response, parse: Callable[[Any], T], expected: str) -> T:
        """``parse`` applied to the JSON body of ``reply``; a wrong shape is not retryable."""
        body = self._json_body(reply)
        try:
            return parse(body)
        except SHAPE_ERRORS as exc:
            raise shape_error(self._label, exc, expected) from None

    def _redacted(self, exc: ProviderError) -> ProviderError:
        # Errors carried in a 200 body hold server text, which must not leak the key either.
        return ProviderError(self._redact(str(exc)), retryable=exc.retryable, retry_after=exc.retry_after)

    def _redact(self, text: str) -> str:
        return redact(text, self._api_key)

    def _masked(self, reply: httpx.Response) -> httpx.Response:
        """``reply`` with the key masked in its whole body, before anything reads the body
        and cuts it to length (masking a cut text can only guess at a key's cut-off start)."""
        if self._api_key is None:
            return reply
        content = reply.content
        for form in {self._api_key, json.dumps(self._api_key)[1:-1], self._api_key.replace("/", "\\/")}:
            content = content.replace(form.encode(), MASK.encode())
        # The body is decoded already: drop what described its encoding on the wire.
        headers = [(k, v) for k, v in reply.headers.items() if k.lower() not in _WIRE_HEADERS]
        return httpx.Response(reply.status_code, headers=headers, content=content, request=reply.request)


_MIN_KEY_PREFIX = 4
"""The shortest start of a key cut off at the end of a text that is still masked."""


def redact(text: str, api_key: str | None) -> str:
    """``text`` without ``api_key`` (some servers echo the credential back in error bodies).

    Texts are often shortened (:func:`one_line`) before they get here, and a key crossing
    the cut leaves its first characters just before the closing ``...``: those go too."""
    if not api_key:
        return text
    text = text.replace(api_key, MASK)
    body, ellipsis = (text[:-3], "...") if text.endswith("...") else (text, "")
    for n in range(min(len(api_key) - 1, len(body)), _MIN_KEY_PREFIX - 1, -1):
        if body.endswith(api_key[:n]):
            return body[:-n] + MASK + ellipsis
    return text


def one_line(text: str) -> str:
    """``text`` on one line, cut to :data:`MAX_ERROR_TEXT` characters (a ``<redacted>``
    mark the cut would split is kept whole, so the reader still sees a key was there)."""
    text = " ".join(text.split())
    if len(text) <= MAX_ERROR_TEXT:
        return text
    end = MAX_ERROR_TEXT - 3
    start = text.rfind(MASK, max(0, end - len(MASK) + 1), end + len(MASK))
    if start != -1 and start < end < start + len(MASK):
        end = start + len(MASK)
    return text[:end] + "..."


def shape_error(label: str, exc: Exception, expected: str | None = None) -> ProviderError:
    """The (non-retryable) error for a reply that parsed but has the wrong shape."""
    message = f"{label} returned an unexpected response shape ({type(exc).__name__}: {exc})"
    if expected:
        message += f"; expected {expected}"
    return ProviderError(message, retryable=False)


def error_detail(reply: httpx.Response, from_body: Callable[[dict[str, Any]], str | None]) -> str:
    """One line on what went wrong: ``from_body``'s reading of a JSON object body, else the text."""
    try:
        body = reply.json()
    except ValueError:
        return one_line(reply.text) or reply.reason_phrase or "no error message"
    found = from_body(body) if isinstance(body, dict) else None
    return found if found is not None else one_line(json.dumps(body))


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
        return max(seconds, 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The ``data`` payload of each server-sent event (multi-line data joined with newlines)."""
    buffer: list[str] = []
    async for line in lines:
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith("data:"):
            value = line[len("data:") :]
            buffer.append(value[1:] if value.startswith(" ") else value)
        # ``event:``, ``id:``, ``retry:`` and ``:`` comments add nothing: each data payload
        # names its own type.
    if buffer:
        yield "\n".join(buffer)


# -- conversation mapping -----------------------------------------------------------------------


def append_turn(turns: list[dict[str, Any]], role: str, items: list[dict[str, Any]], key: str) -> None:
    """Add a turn of ``items`` (under ``key``), merged into the last turn when it has the same role.

    The APIs want user and model turns to alternate (so a run of tool results lands in one user
    turn) and reject a turn with nothing in it, which is dropped instead.
    """
    if not items:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1][key].extend(items)
    else:
        turns.append({"role": role, key: items})


def _json_object(arguments: Any) -> dict[str, Any] | None:
    # The object in raw argument text; {} for absent or blank arguments, None for text that is
    # not a JSON object.
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """The tool-call ``input`` object for raw argument text.

    Text that is not a JSON object becomes ``{}``: the API only accepts an object, and the
    conversation must still be sent (the tool result already tells the model what went wrong).
    """
    value = _json_object(arguments)
    return value if value is not None else {}


def arguments_object(arguments: Any) -> dict[str, Any]:
    """Tool-call arguments as the JSON object an API requires.

    Arguments are stored as the model's raw text; text that is not a JSON object (the model
    produced malformed arguments) is wrapped so the model still sees what it sent.
    """
    value = _json_object(arguments)
    return value if value is not None else {"raw_arguments": arguments}


def arguments_text(arguments: Any) -> str:
    """Arguments as text: stored raw text (even malformed) verbatim, so the model sees what it wrote."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _split_data_url(url: str, malformed: str) -> tuple[str, list[str], str]:
    # (lower-cased MIME type, the other header parameters as written, payload); ``malformed`` is
    # the error message for a URL without the comma that ends its header.
    header, sep, payload = url[len("data:") :].partition(",")
    if not sep:
        raise ProviderError(malformed, retryable=False)
    mime, *params = header.split(";")
    return mime.strip().lower() or "text/plain", params, payload


def parse_data_url(url: str) -> tuple[str, str]:
    """``(mime type, base64 data)`` of a ``data:`` URL (percent-encoded data is re-encoded)."""
    mime, params, data = _split_data_url(url, "malformed data: URL in message media (no comma)")
    if "base64" in (p.strip().lower() for p in params):
        return mime, "".join(data.split())
    return mime, base64.b64encode(urllib.parse.unquote_to_bytes(data)).decode("ascii")


def decode_data_url(url: str) -> tuple[str, bytes]:
    """``(mime type, bytes)`` of a ``data:`` URL; raises a non-retryable error if malformed.

    ``;base64`` is recognised in any case and spacing, as in ``parse_data_url``.
    """
    mime, params, payload = _split_data_url(url, "malformed data: URL attachment (no comma)")
    try:
        data = (
            base64.b64decode("".join(payload.split()), validate=True)
            if "base64" in (p.strip().lower() for p in params)
            else urllib.parse.unquote_to_bytes(payload)
        )
    except (binascii.Error, ValueError):
        raise ProviderError("malformed data: URL attachment (bad base64)", retryable=False) from None
    return mime, data


# -- SDK-backed adapters ------------------------------------------------------------------------


def load_sdk_module(module: str, models: str, library: str, install_hint: str) -> ModuleType:
    """Import an optional SDK, or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ProviderError(
            f"{models} models need the {library} library ({exc}); install it with: {install_hint}",
            retryable=False,
        ) from None


async def call_sdk(call: Callable[[], Awaitable[T]], classify: Callable[[Exception], ProviderError]) -> T:
    """Await ``call()``; anything it raises that is not a ProviderError is sorted by ``classify``."""
    try:
        return await call()
    except ProviderError:
        raise
    except Exception as exc:  # noqa: BLE001 -- SDKs raise many unrelated types; classify sorts them
        raise classify(exc) from None


def unstreamed_reply(
    label: str, parse: Callable[[], LlmResponse], on_delta: DeltaCallback | None
) -> LlmResponse:
    """``parse()`` (a wrong shape is not retryable); ``on_delta`` gets the whole answer once."""
    try:
        response = parse()
    except SHAPE_ERRORS as exc:
        raise shape_error(label, exc) from None
    if on_delta is not None and response.content:
        on_delta(response.content)
    return response


def as_dict(reply: Any) -> dict[str, Any]:
    """An SDK's pydantic response as a plain dict (field names, enums as their values)."""
    if isinstance(reply, dict):
        return reply
    dumped = reply.model_dump(exclude_none=True)
    if not isinstance(dumped, dict):
        raise TypeError("response did not serialise to an object")
    return dumped


def schema_instruction(schema: dict[str, Any]) -> str:
    """The instruction that asks for a JSON answer matching ``schema``."""
    return (
        "When you give your final answer, reply with only a JSON document (no prose, no code fence) "
        f"that is valid against this JSON schema: {json.dumps(schema, separators=(',', ':'))}"
    )
