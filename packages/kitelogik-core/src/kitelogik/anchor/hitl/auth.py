"""Who is reviewing: approvers are authenticated, and their identity comes only from that.

Two ways to authenticate a reviewer:

- :class:`TokenAuthenticator`: API tokens (``klat_...``) kept in the approval store as SHA-256
  hashes, each with a name and roles (``approver`` may approve and deny; ``viewer`` may only
  look). Created with ``kitelogik hitl token create NAME``.
- :class:`CredentialAuthenticator`: signed credentials from a credential broker (for example
  :mod:`kitelogik.anchor.credentials`), accepted when they carry the ``hitl:approve`` scope. It
  takes any object with ``verify(token)`` returning claims with ``scopes`` and ``agent_id`` or
  ``session_id``, so the approvals service works with or without the broker installed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kitelogik.anchor.hitl.models import AuthenticationError, NotAuthorized

__all__ = [
    "APPROVER",
    "VIEWER",
    "ApproverIdentity",
    "Authenticator",
    "ChainAuthenticator",
    "CredentialAuthenticator",
    "TokenAuthenticator",
    "hash_token",
]

APPROVER = "approver"
VIEWER = "viewer"
TOKEN_PREFIX = "klat_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True, slots=True)
class ApproverIdentity:
    """An authenticated reviewer. ``via`` says how they were authenticated."""

    name: str
    roles: frozenset[str]
    via: str

    def require(self, role: str) -> None:
        if role not in self.roles and not (role == VIEWER and APPROVER in self.roles):
            raise NotAuthorized(f"{self.name} lacks the {role!r} role")


class Authenticator(Protocol):
    def authenticate(self, secret: str | None) -> ApproverIdentity:
        """Return the identity behind ``secret`` or raise :class:`AuthenticationError`."""
        ...


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class _TokenStore(Protocol):
    def add_token(self, token_hash: str, name: str, roles: Sequence[str], now: float) -> None: ...
    def find_token(self, token_hash: str) -> tuple[str, tuple[str, ...]] | None: ...
    def revoke_tokens(self, name: str, now: float) -> int: ...


class TokenAuthenticator:
    """API tokens stored hashed in the approval store."""

    def __init__(self, store: _TokenStore) -> None:
        self.store = store

    def create(self, name: str, roles: Sequence[str] = (APPROVER,)) -> str:
        """Create a token for ``name``; returns the secret (shown once, stored hashed)."""
        if not name or not name.strip() or len(name) > 128:
            raise ValueError("a token needs a name of 1 to 128 characters")
        unknown = set(roles) - {APPROVER, VIEWER}
        if unknown or not roles:
            raise ValueError(f"roles must be among {APPROVER!r}, {VIEWER!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.store.add_token(hash_token(token), name.strip(), list(roles), time.time())
        return token

    def revoke(self, name: str) -> int:
        return self.store.revoke_tokens(name, time.time())

    def authenticate(self, secret: str | None) -> ApproverIdentity:
        if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 256:
            raise AuthenticationError("missing or malformed approver token")
        found = self.store.find_token(hash_token(secret))
        if found is None:
            raise AuthenticationError("unknown or revoked approver token")
        name, roles = found
        return ApproverIdentity(name=name, roles=frozenset(roles), via="token")


class CredentialAuthenticator:
    """Signed approver credentials: ``verify(token)`` must check signature, expiry and
    revocation and return claims; the ``hitl:approve`` scope grants the approver role."""

    def __init__(
        self,
        verify: Callable[[str], Any],
        *,
        scope: str = "hitl:approve",
        view_scope: str = "hitl:view",
    ) -> None:
        self.verify = verify
        self.scope = scope
        self.view_scope = view_scope

    def authenticate(self, secret: str | None) -> ApproverIdentity:
        if not secret:
            raise AuthenticationError("missing approver credential")
        try:
            claims = self.verify(secret)
        except Exception as exc:  # noqa: BLE001 - any failure to verify is a refusal
            raise AuthenticationError(f"approver credential rejected: {exc}") from None
        scopes = set(getattr(claims, "scopes", ()) or ())
        name = getattr(claims, "agent_id", None) or getattr(claims, "session_id", None)
        if not isinstance(name, str) or not name:
            raise AuthenticationError("approver credential names nobody")
        roles = set()
        if self.scope in scopes:
            roles.add(APPROVER)
        if self.view_scope in scopes:
            roles.add(VIEWER)
        if not roles:
            raise AuthenticationError(f"credential lacks the {self.scope!r} scope")
        return ApproverIdentity(
            name=name, roles=frozenset(roles), via=f"credential:{getattr(claims, 'token_id', '?')}"
        )


class ChainAuthenticator:
    """Tries each authenticator in turn; API tokens first, then credentials."""

    def __init__(self, *authenticators: Authenticator) -> None:
        if not authenticators:
            raise ValueError("ChainAuthenticator needs at least one authenticator")
        self.authenticators = authenticators

    def authenticate(self, secret: str | None) -> ApproverIdentity:
        errors = []
        for auth in self.authenticators:
            try:
                return auth.authenticate(secret)
            except AuthenticationError as exc:
                errors.append(str(exc))
        raise AuthenticationError("; ".join(errors))


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
