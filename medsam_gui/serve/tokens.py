"""Per-user tokens of the encoder service: salted scrypt hashes at rest, revocable.

A token reads ``msg_<id>_<secret>``: ``id`` picks the record (so one scrypt per check,
not one per user), ``secret`` (32 random bytes) is checked against the record's
``scrypt(secret, salt)`` with a constant-time compare. The file (JSON, mode 0600,
written atomically) holds names, ids, salts and hashes, never a token. A running
server notices a changed file (revocation) at its next request. Tokens that passed
the scrypt check are remembered in memory only (as SHA-256 digests), until the file
changes, so a request costs no scrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from pathlib import Path

from medsam_gui.core.errors import MedsamGuiError
from medsam_gui.core.paths import user_config_dir

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOKEN_PATTERN = re.compile(r"^msg_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
HASH_BYTES = 32


def default_tokens_path() -> Path:
    """``serve_tokens.json`` in the user's config folder (core/paths.py)."""
    return user_config_dir() / "serve_tokens.json"


def _hash(secret: str, salt: bytes, params: dict) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=int(params["n"]), r=int(params["r"]), p=int(params["p"]),
                          maxmem=64 * 1024 * 1024, dklen=HASH_BYTES)


class TokenStore:
    """The token file at ``path`` (default :func:`default_tokens_path`)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_tokens_path()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._records: dict[str, dict] = {}  # id -> record
        self._verified: dict[bytes, str] = {}  # sha256(token) -> name, memory only

    # -- the file ----------------------------------------------------------------------
    def _read(self) -> list[dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise MedsamGuiError(f"token file is unreadable ({error})", self.path) from error
        records = data.get("tokens", []) if isinstance(data, dict) else []
        return [record for record in records if isinstance(record, dict) and {"name", "id", "salt", "hash"} <= set(record)]

    def _write(self, records: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"version": 1, "tokens": records}, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def names(self) -> list[str]:
        return [record["name"] for record in self._read()]

    def add(self, name: str) -> str:
        """A new token for ``name`` (returned once, never stored); MedsamGuiError if the
        name is taken (revoke it first) or not a plain name."""
        if not NAME_PATTERN.match(name or ""):
            raise MedsamGuiError(f"token name {name!r}: use letters, digits and . _ @ - (at most 64)")
        records = self._read()
        if any(record["name"] == name for record in records):
            raise MedsamGuiError(f"a token named {name!r} exists: revoke it first", self.path)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        records.append({"name": name, "id": token_id, "salt": salt.hex(), "hash": _hash(secret, salt, SCRYPT).hex(),
                        "scrypt": dict(SCRYPT), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        self._write(records)
        return f"msg_{token_id}_{secret}"

    def revoke(self, name: str) -> bool:
        """Remove ``name``'s token; False when there was none."""
        records = self._read()
        kept = [record for record in records if record["name"] != name]
        if len(kept) == len(records):
            return False
        self._write(kept)
        return True

    # -- checking ----------------------------------------------------------------------
    def _reload_if_changed(self) -> None:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._records = {record["id"]: record for record in self._read()} if stamp else {}
            self._verified = {}
            self._stamp = stamp

    def count(self) -> int:
        with self._lock:
            self._reload_if_changed()
            return len(self._records)

    def verify(self, token: str | None) -> str | None:
        """The user name of a valid token, else None (missing, malformed, wrong, revoked)."""
        if not token:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            self._reload_if_changed()
            name = self._verified.get(digest)
            if name is not None:
                return name
            match = TOKEN_PATTERN.match(token)
            record = self._records.get(match.group(1)) if match else None
        if record is None:
            return None
        try:
            expected = bytes.fromhex(record["hash"])
            actual = _hash(match.group(2), bytes.fromhex(record["salt"]), record.get("scrypt", SCRYPT))
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(expected, actual):
            return None
        with self._lock:
            if self._records.get(record["id"]) is record:  # not revoked meanwhile
                self._verified[digest] = record["name"]
                return record["name"]
        return None
