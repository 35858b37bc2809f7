"""The credential broker: issues, delegates, verifies, revokes and introspects session tokens."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kitelogik.anchor.credentials.keys import KeyRing
from kitelogik.anchor.credentials.store import (
    CredentialStore,
    DelegationError,
    SQLiteCredentialStore,
    TokenRecord,
    default_home,
    parent_problem,
)
from kitelogik.anchor.credentials.verifier import (
    ALGORITHM,
    DEFAULT_CLOCK_SKEW_SECONDS,
    DEFAULT_REVOCATION_STALENESS_SECONDS,
    TokenVerifier,
    validate_scopes,
)
from kitelogik.protocols import CredentialError, VerifiedCredential

__all__ = ["CredentialBroker", "IssuedToken"]

_MAX_ID = 256


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly minted token and its claims. ``token`` is the bearer secret: ``repr`` hides it."""

    token: str = field(repr=False)
    token_id: str
    session_id: str
    scopes: tuple[str, ...]
    issued_at: int
    expires_at: int
    depth: int = 0
    parent_id: str | None = None
    agent_id: str | None = None
    chain: tuple[str, ...] = ()


def _open_store(
    store: CredentialStore | str | os.PathLike[str] | None, home: Path
) -> CredentialStore:
    if store is None:
        return SQLiteCredentialStore(home / "credentials.db")
    if isinstance(store, str) and store.startswith(("postgresql://", "postgres://")):
        from kitelogik.anchor.credentials.postgres import PostgresCredentialStore

        return PostgresCredentialStore(store)
    if isinstance(store, (str, os.PathLike)):
        return SQLiteCredentialStore(store)
    return store


def _open_keys(
    keys: KeyRing | Ed25519PrivateKey | str | os.PathLike[str] | bytes | None,
    home: Path,
    clock: Callable[[], float],
) -> KeyRing:
    if keys is None:
        return KeyRing.load_or_create(home / "credential-keys.json", clock=clock)
    if isinstance(keys, KeyRing):
        keys.clock = clock
        return keys
    if isinstance(keys, (Ed25519PrivateKey, bytes)):
        return KeyRing.from_private_key(keys, clock=clock)
    return KeyRing.load_or_create(keys, clock=clock)


_MAX_METADATA = 16_384


def _check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError("metadata must be a mapping")
    try:
        text = json.dumps(dict(metadata), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be JSON-serializable: {exc}") from None
    if len(text) > _MAX_METADATA:
        raise ValueError(f"metadata is larger than {_MAX_METADATA} bytes of JSON")
    return json.loads(text)


def _check_id(value: Any, name: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value or len(value) > _MAX_ID or "\x00" in value:
        raise ValueError(f"{name} must be a non-empty string of at most {_MAX_ID} characters")


class CredentialBroker:
    """Issues signed, scoped, short-lived session tokens; delegation only narrows; revocation
    cascades. Implements :class:`kitelogik.protocols.CredentialVerifier`, so it can be passed to
    ``PolicyGate(credentials=broker)``; a gate in another process uses a :class:`TokenVerifier`
    built from :meth:`jwks` instead.

    ``store``: a :class:`CredentialStore`, a SQLite file path, or a ``postgresql://`` DSN
    (default: ``$KITELOGIK_HOME/credentials.db``). ``keys``: a :class:`KeyRing`, a key file path
    (created with mode 0600 on first use), or a supplied ``Ed25519PrivateKey`` / PEM / 32-byte
    seed (default: ``$KITELOGIK_HOME/credential-keys.json``). The broker closes its store in
    :meth:`close`.
    """

    def __init__(
        self,
        store: CredentialStore | str | os.PathLike[str] | None = None,
        keys: KeyRing | Ed25519PrivateKey | str | os.PathLike[str] | bytes | None = None,
        *,
        issuer: str = "kitelogik",
        default_ttl_seconds: int = 900,
        max_ttl_seconds: int = 86_400,
        max_delegation_depth: int = 2,
        clock_skew_seconds: int = DEFAULT_CLOCK_SKEW_SECONDS,
        revocation_staleness_seconds: float = DEFAULT_REVOCATION_STALENESS_SECONDS,
        strict_revocation: bool = False,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
        home: str | os.PathLike[str] | None = None,
    ) -> None:
        if not 0 < default_ttl_seconds <= max_ttl_seconds:
            raise ValueError("need 0 < default_ttl_seconds <= max_ttl_seconds")
        if max_delegation_depth < 0:
            raise ValueError("max_delegation_depth must be >= 0")
        home_dir = Path(home) if home is not None else default_home()
        self.clock = clock
        self.issuer = issuer
        self.default_ttl_seconds = int(default_ttl_seconds)
        self.max_ttl_seconds = int(max_ttl_seconds)
        self.max_delegation_depth = int(max_delegation_depth)
        self.keyring = _open_keys(keys, home_dir, clock)
        self.store: CredentialStore = _open_store(store, home_dir)
        self.verifier = TokenVerifier(
            None,
            store=self.store,
            issuer=issuer,
            clock_skew_seconds=clock_skew_seconds,
            revocation_staleness_seconds=revocation_staleness_seconds,
            strict_revocation=strict_revocation,
            cache_size=cache_size,
            clock=clock,
        )
        self._sync_keys()

    @property
    def clock_skew_seconds(self) -> int:
        return self.verifier.clock_skew_seconds

    def _sync_keys(self) -> None:
        self.verifier.set_keys(
            {k.kid: (k.public, k.retire_at) for k in self.keyring.verifying_keys()},
            retired=self.keyring.retired,
        )

    # ------------------------------------------------------------------ issuing

    def issue(
        self,
        session_id: str,
        scopes: Iterable[str],
        ttl_seconds: int | None = None,
        *,
        agent_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> IssuedToken:
        """A root token for ``session_id`` with exactly ``scopes``, valid for ``ttl_seconds``
        (default ``default_ttl_seconds``, at most ``max_ttl_seconds``)."""
        clean = validate_scopes(scopes)
        _check_id(session_id, "session_id")
        _check_id(agent_id, "agent_id", optional=True)
        metadata = _check_metadata(metadata)
        now = int(self.clock())
        exp = now + self._ttl(ttl_seconds)
        return self._mint(session_id, clean, now, exp, agent_id, metadata, ())

    def delegate(
        self,
        parent: str,
        requested_scopes: Iterable[str],
        session_id: str,
        ttl_seconds: int | None = None,
        *,
        agent_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> IssuedToken:
        """A child token narrowed from ``parent`` (a token id, or the parent's token string,
        which is then verified first). Refused with :class:`DelegationError` when a requested
        scope is not held by the parent (named in the message), the parent is revoked or
        expired, or the depth limit is reached. The child never outlives the parent: its
        expiry is clamped to the parent's."""
        now_f = self.clock()
        if isinstance(parent, str) and parent.count(".") == 2:
            try:
                parent_id = self.verify(parent).token_id
            except CredentialError as exc:
                raise DelegationError(f"parent token refused: {exc}") from None
        else:
            parent_id = parent
        try:
            clean = validate_scopes(requested_scopes, "requested scopes")
            _check_id(session_id, "session_id")
            _check_id(agent_id, "agent_id", optional=True)
            _check_id(parent_id, "parent token id")
            metadata = _check_metadata(metadata)
        except (TypeError, ValueError) as exc:
            raise DelegationError(f"delegation refused: {exc}") from None
        rec = self.store.get(parent_id)
        problem = parent_problem(rec, parent_id, now_f)
        if problem or rec is None:
            raise DelegationError(f"delegation refused: {problem}")
        ancestors = self.store.status(rec.chain) if rec.chain else {}
        for a in rec.chain:
            revoked, cascades = ancestors.get(a, (False, False))
            if revoked and cascades:
                raise DelegationError(
                    f"delegation refused: parent token {parent_id!r} is "
                    f"revoked (its ancestor {a} was revoked)"
                )
        held = set(rec.scopes)
        extra = [s for s in clean if s not in held]
        if extra:
            raise DelegationError(
                "delegation refused: requested scopes exceed the parent token's: "
                + ", ".join(repr(s) for s in extra)
                + " (a delegated token can only narrow; scopes match exactly, case-sensitive)"
            )
        if rec.depth + 1 > self.max_delegation_depth:
            raise DelegationError(
                f"delegation refused: depth limit {self.max_delegation_depth} "
                f"reached (parent token is at depth {rec.depth})"
            )
        now = int(now_f)
        exp = min(now + self._ttl(ttl_seconds), rec.expires_at)
        if exp <= now:
            raise DelegationError(f"delegation refused: parent token {parent_id!r} has expired")
        return self._mint(session_id, clean, now, exp, agent_id, metadata, (*rec.chain, rec.jti))

    def _ttl(self, ttl_seconds: int | None) -> int:
        ttl = self.default_ttl_seconds if ttl_seconds is None else ttl_seconds
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            raise ValueError("ttl_seconds must be a positive integer")
        return min(ttl, self.max_ttl_seconds)

    def _mint(
        self,
        session_id: str,
        scopes: tuple[str, ...],
        iat: int,
        exp: int,
        agent_id: str | None,
        metadata: Mapping[str, Any] | None,
        chain: tuple[str, ...],
    ) -> IssuedToken:
        key = self.keyring.signing_key
        assert key.private is not None
        jti = str(uuid.uuid4())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "jti": jti,
            "sid": session_id,
            "scp": list(scopes),
            "iat": iat,
            "exp": exp,
            "dep": len(chain),
            "chn": list(chain),
        }
        if chain:
            claims["par"] = chain[-1]
        if agent_id is not None:
            claims["sub"] = agent_id
        token = jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})
        record = TokenRecord(
            jti=jti,
            session_id=session_id,
            scopes=scopes,
            issued_at=iat,
            expires_at=exp,
            kid=key.kid,
            depth=len(chain),
            parent_id=chain[-1] if chain else None,
            chain=chain,
            agent_id=agent_id,
            metadata=dict(metadata or {}),
        )
        self.store.insert(record, now=self.clock())
        return IssuedToken(
            token=token,
            token_id=jti,
            session_id=session_id,
            scopes=scopes,
            issued_at=iat,
            expires_at=exp,
            depth=len(chain),
            parent_id=record.parent_id,
            agent_id=agent_id,
            chain=chain,
        )

    # ------------------------------------------------------------------ verifying

    def verify(self, token: str | None) -> VerifiedCredential:
        """The verified claims of ``token`` (any session), or :class:`CredentialError`."""
        return self.verifier.verify(token)

    def verify_for(self, token: str | None, session_id: str) -> VerifiedCredential:
        return self.verifier.verify_for(token, session_id)

    async def averify_for(self, token: str | None, session_id: str) -> VerifiedCredential:
        return await self.verifier.averify_for(token, session_id)

    # ------------------------------------------------------------------ revoking

    def revoke(self, token_id: str, cascade: bool = True, reason: str = "") -> list[str]:
        """Revoke ``token_id`` and (``cascade``, the default) every descendant. Returns the ids
        newly revoked. Effective at once in this process; elsewhere within the verifiers'
        revocation staleness bound (or at once for strict verifiers)."""
        newly = self.store.revoke(token_id, cascade=cascade, reason=reason, at=self.clock())
        marks = {j: cascade for j in newly}
        if cascade:
            marks[token_id] = True
        if marks:
            self.verifier.note_revoked(marks)
        return newly

    def introspect(self, token_id: str) -> dict[str, Any]:
        """What the store knows about ``token_id`` (RFC 7662 style: ``active`` first)."""
        rec = self.store.get(token_id)
        if rec is None:
            return {"active": False, "token_id": token_id, "reason": "unknown token"}
        now = self.clock()
        reason = None
        if rec.revoked_at is not None:
            reason = "revoked"
        elif now >= rec.expires_at + self.clock_skew_seconds:
            reason = "expired"
        else:
            status = self.store.status(rec.chain) if rec.chain else {}
            if any(r and c for r, c in status.values()):
                reason = "an ancestor is revoked"
            elif rec.kid not in {k.kid for k in self.keyring.verifying_keys()}:
                reason = "signing key retired"
        return {
            "active": reason is None,
            "reason": reason,
            **rec.to_dict(),
            "children": self.store.children(token_id),
        }

    def purge_expired(self, older_than_seconds: int = 86_400) -> int:
        """Delete the records of tokens that expired more than ``older_than_seconds`` ago
        (revocations of expired tokens no longer matter: expiry refuses them). Returns how many."""
        return self.store.purge(int(self.clock()) - self.clock_skew_seconds - older_than_seconds)

    # ------------------------------------------------------------------ keys

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document: everything a verifier elsewhere needs."""
        return self.keyring.jwks()

    def rotate_keys(self, grace_seconds: int | None = None) -> str:
        """Start signing with a new key; tokens signed by the previous key keep verifying for
        ``grace_seconds`` (default ``max_ttl_seconds``, so none is cut short). Returns the new
        key id."""
        grace = self.max_ttl_seconds if grace_seconds is None else grace_seconds
        new = self.keyring.rotate(grace)
        self._sync_keys()
        return new.kid

    def reload_keys(self) -> None:
        """Re-read the key file (after another process rotated it)."""
        if self.keyring.path is not None:
            self.keyring = KeyRing.load(self.keyring.path, clock=self.clock)
        self._sync_keys()

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> CredentialBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
