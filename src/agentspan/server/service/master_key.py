"""The master key that seals every credential, and the sealing itself (AES-256-GCM).

Where the key comes from, first found wins:

1. ``AGENTSPAN_MASTER_KEY``: base64 of exactly 32 bytes (``openssl rand -base64 32``).
   Every replica sharing a PostgreSQL database must be given the same one.
2. ``<data-dir>/master.key``: made 0600 (base64, one line) the first time a credential
   is stored, and read from then on. Losing it loses the credentials: back it up with
   the database, and keep the two apart.

A sealed value is ``version byte (1) || 12-byte random nonce || ciphertext || 16-byte
tag``; the credential's name is the associated data, so a ciphertext moved onto another
name fails to open. Rows carry the ``key_id`` of the key that sealed them: an HMAC of
the key, which names it without revealing it, so a server holding another key says
which one it lacks instead of failing on a tag.

Rotation (``agentspan credentials rotate-master-key``, ``rotate``) re-seals every row in
one transaction. With a key file, the new key is written to ``master.key.new`` before
that transaction and renamed over ``master.key`` after it; a crash between the two is
finished at the next start (``settle_pending``), by whichever key the rows carry.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger("agentspan.server")

ENV = "AGENTSPAN_MASTER_KEY"
NEW_ENV = "AGENTSPAN_NEW_MASTER_KEY"
"""The key rotation moves to when the current one comes from ``AGENTSPAN_MASTER_KEY``."""
KEY_FILE = "master.key"
PENDING_SUFFIX = ".new"
KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT = b"\x01"
GENERATE_HINT = "generate one with: openssl rand -base64 32"


class MasterKeyError(Exception):
    """The master key is missing, malformed, or not the one the stored values need."""


@dataclass(frozen=True, slots=True)
class MasterKey:
    """One 256-bit key. ``source`` says where it came from (for messages, never the key)."""

    key: bytes
    source: str

    @property
    def key_id(self) -> str:
        """Names the key without revealing it (stored next to every value it sealed)."""
        return hmac.new(self.key, b"agentspan master key id", hashlib.sha256).hexdigest()[:16]

    def seal(self, name: str, value: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT + nonce + AESGCM(self.key).encrypt(nonce, value.encode(), name.encode())

    def open(self, name: str, sealed: bytes) -> str:
        if sealed[:1] != FORMAT or len(sealed) < 1 + NONCE_BYTES + 16:
            raise MasterKeyError(f"credential {name!r} is stored in an unknown format")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return AESGCM(self.key).decrypt(nonce, body, name.encode()).decode()
        except InvalidTag:
            raise MasterKeyError(
                f"credential {name!r} does not open with the master key ({self.source}): it was "
                "changed in the database, or sealed by another key with the same id"
            ) from None


def new_key(source: str) -> MasterKey:
    return MasterKey(secrets.token_bytes(KEY_BYTES), source)


def parse_key(text: str, source: str) -> MasterKey:
    """A key from its base64 text (standard or URL-safe alphabet)."""
    raw = text.strip()
    try:
        key = base64.b64decode(raw.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{source} must be base64 of exactly {KEY_BYTES} bytes ({GENERATE_HINT})")
    return MasterKey(key, source)


def encode(key: MasterKey) -> str:
    return base64.b64encode(key.key).decode()


class KeySource:
    """Finds the master key of one server: the environment, else the data dir's key file
    (made on first use, so a server that never stores a credential writes no key)."""

    def __init__(self, data_dir: Path, env_value: str | None) -> None:
        self.path = Path(data_dir) / KEY_FILE
        self.from_env = bool(env_value and env_value.strip())
        self._key: MasterKey | None = parse_key(env_value or "", ENV) if self.from_env else None

    @property
    def pending_path(self) -> Path:
        return self.path.with_name(self.path.name + PENDING_SUFFIX)

    def current(self) -> MasterKey | None:
        """The key, if there is one yet."""
        if self._key is None and not self.from_env and self.path.exists():
            self._key = read_key_file(self.path)
        return self._key

    def refresh(self) -> MasterKey | None:
        """Read the key file again (another process rotated it); the key in use otherwise."""
        if not self.from_env:
            self._key = None
        return self.current()

    def create(self) -> MasterKey:
        """Make the key file (the first credential is about to be stored)."""
        if self.from_env:
            raise MasterKeyError("the master key comes from AGENTSPAN_MASTER_KEY; no key file is made")
        key = new_key(str(self.path))
        write_key_file(self.path, key, exclusive=True)
        log.warning(
            "generated the credential master key %s: back it up (without it the stored "
            "credentials cannot be read), or set AGENTSPAN_MASTER_KEY instead",
            self.path,
        )
        self._key = key
        return key

    def settle_pending(self, key_ids_in_use: set[str]) -> None:
        """Finish or undo a rotation a crash interrupted (``master.key.new`` left behind):
        keep the file whose key the stored rows carry."""
        pending = self.pending_path
        if self.from_env or not pending.exists():
            return
        new = read_key_file(pending)
        if new.key_id in key_ids_in_use or not self.path.exists():
            os.replace(pending, self.path)
            log.warning("finished an interrupted master key rotation: %s is now the master key", self.path)
        else:
            pending.unlink()
            log.warning("undid an interrupted master key rotation: %s stays the master key", self.path)
        self._key = None


def read_key_file(path: Path) -> MasterKey:
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # readable by others: narrow it, as the database files
    try:
        text = path.read_text()
    except OSError as exc:
        raise MasterKeyError(f"cannot read the master key file {path}: {exc.strerror}") from None
    return parse_key(text, str(path))


def write_key_file(path: Path, key: MasterKey, *, exclusive: bool) -> None:
    """Write ``key`` to ``path``, 0600 whatever the umask, flushed to disk."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise MasterKeyError(f"the master key file {path} appeared meanwhile; try again") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (encode(key) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
