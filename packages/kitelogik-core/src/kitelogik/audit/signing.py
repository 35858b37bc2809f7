"""Ed25519 keys and signed checkpoints.

A checkpoint commits to the chain head: ``{"type": "kitelogik.audit.checkpoint.v1", "log_id",
"seq", "hash", "ts", "key_id"}`` in canonical JSON, signed with Ed25519. Anyone holding the public
key can check that the log had exactly that head at that position; exported checkpoints anchor the
chain outside the process (and outside the machine), which is what makes truncation and a
rewritten tail detectable.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kitelogik.jcs import canonical_json

__all__ = [
    "CHECKPOINT_TYPE",
    "Checkpoint",
    "Signer",
    "checkpoint_payload",
    "key_id",
    "load_public_key",
    "verify_checkpoint_signature",
]

CHECKPOINT_TYPE = "kitelogik.audit.checkpoint.v1"


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def _raw(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Signer:
    """An Ed25519 signing key. :meth:`from_file` creates the key on first use (mode 0600)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_raw = _raw(private_key.public_key())
        self.key_id = key_id(self.public_raw)

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], create: bool = True) -> Signer:
        p = Path(path)
        if not p.exists():
            if not create:
                raise FileNotFoundError(f"audit signing key {p} does not exist")
            p.parent.mkdir(parents=True, exist_ok=True)
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:  # O_EXCL: several processes starting at once agree on one key
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(pem)
                    f.flush()
                    os.fsync(f.fileno())
                _write_public(p, key.public_key())
                return cls(key)
        data = p.read_bytes()
        for _ in range(50):  # another process may be between O_EXCL and write
            if data:
                break
            import time

            time.sleep(0.01)
            data = p.read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{p} is not an Ed25519 private key")
        return cls(key)

    def sign(self, payload: str) -> str:
        return self._key.sign(payload.encode("utf-8")).hex()

    def public_pem(self) -> str:
        return _pem(self._key.public_key())


def _pem(pub: Ed25519PublicKey) -> str:
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _write_public(private_path: Path, pub: Ed25519PublicKey) -> None:
    out = private_path.with_name(private_path.name + ".pub")
    out.write_text(_pem(pub))


def load_public_key(source: str | os.PathLike[str] | bytes) -> bytes:
    """Raw 32-byte public key from a PEM file/text, a private key PEM (its public half) or hex."""
    if isinstance(source, bytes) and len(source) == 32:
        return source
    text: str
    if isinstance(source, bytes):
        text = source.decode()
    elif isinstance(source, str) and "-----BEGIN" in source:
        text = source
    elif isinstance(source, str) and len(source) == 64 and not os.path.exists(source):
        return bytes.fromhex(source)
    else:
        text = Path(source).read_text()
    data = text.encode()
    if "PRIVATE KEY" in text:
        key: Any = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 key")
        return _raw(key.public_key())
    pub = serialization.load_pem_public_key(data)
    if not isinstance(pub, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return _raw(pub)


def checkpoint_payload(log_id: str, seq: int, head: str, ts: str, kid: str) -> str:
    return canonical_json(
        {
            "type": CHECKPOINT_TYPE,
            "log_id": log_id,
            "seq": seq,
            "hash": head,
            "ts": ts,
            "key_id": kid,
        }
    )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    ts: str
    hash: str
    key_id: str
    public_key: str  # hex of the raw Ed25519 public key
    signature: str  # hex
    payload: str  # the signed canonical JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "checkpoint",
            "seq": self.seq,
            "ts": self.ts,
            "hash": self.hash,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signature": self.signature,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Checkpoint:
        return cls(
            int(d["seq"]),
            str(d["ts"]),
            str(d["hash"]),
            str(d["key_id"]),
            str(d["public_key"]),
            str(d["signature"]),
            str(d["payload"]),
        )


def verify_checkpoint_signature(cp: Checkpoint, log_id: str | None) -> str | None:
    """None when ``cp`` is a valid signature by its own key over its own claims, else why not.
    (Whether that key is trusted is the caller's question.)"""
    try:
        pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key))
        pub.verify(bytes.fromhex(cp.signature), cp.payload.encode("utf-8"))
    except (InvalidSignature, ValueError):
        return "bad signature"
    try:
        claims = json.loads(cp.payload)
    except ValueError:
        return "unreadable payload"
    if claims.get("type") != CHECKPOINT_TYPE:
        return "wrong payload type"
    if claims.get("seq") != cp.seq or claims.get("hash") != cp.hash:
        return "signed claims differ from the stored checkpoint"
    if claims.get("key_id") != cp.key_id or key_id(bytes.fromhex(cp.public_key)) != cp.key_id:
        return "key id mismatch"
    if log_id is not None and claims.get("log_id") != log_id:
        return "checkpoint belongs to another log"
    return None
