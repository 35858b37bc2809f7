"""Ed25519 signing keys: generated on first use and kept in a 0600 file, or supplied; rotation
with a grace period for the old key; JWKS export.

The key file is JSON::

    {"version": 1,
     "keys": [{"kid": "...", "d": "<base64url private key>", "x": "<base64url public key>",
               "created_at": 1800000000, "retire_at": null}],
     "retired": {"<kid>": 1800000300}}

``kid`` is the RFC 7638 JWK thumbprint of the public key. The newest key whose ``retire_at`` is
unset signs; a key with ``retire_at`` set verifies until then (the grace period after a
rotation) and is then dropped from the ring and from the JWKS document.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = ["KeyRing", "SigningKey", "jwk_thumbprint"]

_RAW = serialization.Encoding.Raw


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(_RAW, serialization.PublicFormat.Raw)


def jwk_thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 OKP key (the members in lexicographic order)."""
    canon = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True
    )
    return b64url(hashlib.sha256(canon.encode()).digest())


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None
    created_at: int
    retire_at: int | None = None

    @classmethod
    def from_private(cls, private: Ed25519PrivateKey, created_at: int) -> SigningKey:
        pub = private.public_key()
        return cls(jwk_thumbprint(b64url(_public_raw(pub))), pub, private, created_at)

    def jwk(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(_public_raw(self.public)),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }
        if self.retire_at is not None:
            out["kl_retire_at"] = self.retire_at
        return out


class KeyRing:
    """The broker's signing keys. Thread-safe for readers: every change swaps whole tuples."""

    def __init__(
        self,
        keys: Iterable[SigningKey],
        *,
        path: str | os.PathLike[str] | None = None,
        retired: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.clock = clock
        self._keys: tuple[SigningKey, ...] = tuple(keys)
        self._retired: dict[str, int] = dict(retired or {})
        if not any(k.private is not None and k.retire_at is None for k in self._keys):
            raise ValueError("a key ring needs at least one active private key")

    # ------------------------------------------------------------------ construction

    @classmethod
    def generate(cls, *, clock: Callable[[], float] = time.time) -> KeyRing:
        """A fresh in-memory ring with one new key (not saved anywhere)."""
        return cls(
            [SigningKey.from_private(Ed25519PrivateKey.generate(), int(clock()))], clock=clock
        )

    @classmethod
    def from_private_key(
        cls, key: Ed25519PrivateKey | bytes | str, *, clock: Callable[[], float] = time.time
    ) -> KeyRing:
        """A ring around a supplied key: an ``Ed25519PrivateKey``, PEM text/bytes or the raw
        32-byte seed."""
        if isinstance(key, str):
            key = key.encode()
        if isinstance(key, bytes):
            if len(key) == 32:
                key = Ed25519PrivateKey.from_private_bytes(key)
            else:
                loaded = serialization.load_pem_private_key(key, password=None)
                if not isinstance(loaded, Ed25519PrivateKey):
                    raise ValueError("the supplied private key is not an Ed25519 key")
                key = loaded
        return cls([SigningKey.from_private(key, int(clock()))], clock=clock)

    @classmethod
    def load_or_create(
        cls, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> KeyRing:
        """Load the ring from ``path``; on first use generate a key and store it (mode 0600,
        created atomically: concurrent first uses agree on one key)."""
        p = Path(path)
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            ring = cls.generate(clock=clock)
            ring.path = p
            tmp = ring._write_temp()
            try:
                os.link(tmp, p)  # fails if another process created the file first
            except FileExistsError:
                pass
            except OSError:  # no hard links on this filesystem: exclusive create instead
                with contextlib.suppress(FileExistsError):
                    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                    with os.fdopen(fd, "wb") as f:
                        f.write(Path(tmp).read_bytes())
            finally:
                os.unlink(tmp)
        return cls.load(p, clock=clock)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> KeyRing:
        p = Path(path)
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            raise PermissionError(
                f"key file {p} is accessible by group or others (mode {mode:o}); run: chmod 600 {p}"
            )
        doc = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("version") != 1:
            raise ValueError(f"key file {p} is not a Kite Logik key file (version 1)")
        keys = []
        for entry in doc["keys"]:
            priv = Ed25519PrivateKey.from_private_bytes(unb64url(entry["d"]))
            key = SigningKey.from_private(priv, int(entry["created_at"]))
            if key.kid != entry["kid"]:
                raise ValueError(f"key file {p}: kid {entry['kid']!r} does not match its key")
            keys.append(replace(key, retire_at=entry.get("retire_at")))
        return cls(keys, path=p, retired=doc.get("retired", {}), clock=clock)

    # ------------------------------------------------------------------ use

    def prune(self) -> None:
        """Drop keys whose grace period is over (remembering their ids as retired)."""
        now = self.clock()
        gone = [k for k in self._keys if k.retire_at is not None and now >= k.retire_at]
        if gone:
            self._retired.update({k.kid: int(k.retire_at or 0) for k in gone})
            self._keys = tuple(k for k in self._keys if k not in gone)

    @property
    def signing_key(self) -> SigningKey:
        active = [k for k in self._keys if k.private is not None and k.retire_at is None]
        return max(active, key=lambda k: k.created_at)

    def verifying_keys(self) -> tuple[SigningKey, ...]:
        """Keys that verify now (the signing key and keys in their grace period)."""
        self.prune()
        return self._keys

    @property
    def retired(self) -> dict[str, int]:
        self.prune()
        return dict(self._retired)

    def rotate(self, grace_seconds: int) -> SigningKey:
        """Make a new signing key; the previous ones keep verifying for ``grace_seconds``."""
        if grace_seconds < 0:
            raise ValueError("grace_seconds must be >= 0")
        now = int(self.clock())
        new = SigningKey.from_private(Ed25519PrivateKey.generate(), now)
        if any(k.created_at >= now for k in self._keys):
            new = replace(new, created_at=max(k.created_at for k in self._keys) + 1)
        old = tuple(
            k if k.retire_at is not None else replace(k, retire_at=now + grace_seconds)
            for k in self._keys
        )
        self._keys = (*old, new)
        self.prune()
        self.save()
        return new

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document (RFC 7517) of every key that verifies now."""
        return {"keys": [k.jwk() for k in self.verifying_keys()]}

    @staticmethod
    def public_pem(raw_or_key: bytes | Ed25519PublicKey) -> bytes:
        key = (
            Ed25519PublicKey.from_public_bytes(raw_or_key)
            if isinstance(raw_or_key, bytes)
            else raw_or_key
        )
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # ------------------------------------------------------------------ persistence

    def _document(self) -> dict[str, Any]:
        keys = []
        for k in self._keys:
            if k.private is None:
                continue
            d = k.private.private_bytes(
                _RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            keys.append(
                {
                    "kid": k.kid,
                    "d": b64url(d),
                    "x": b64url(_public_raw(k.public)),
                    "created_at": k.created_at,
                    "retire_at": k.retire_at,
                }
            )
        return {"version": 1, "keys": keys, "retired": self._retired}

    def _write_temp(self) -> str:
        assert self.path is not None
        fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self._document(), f, indent=1)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return tmp

    def save(self) -> None:
        """Write the ring to its file (atomically, mode 0600). No-op for an in-memory ring."""
        if self.path is None:
            return
        os.replace(self._write_temp(), self.path)
