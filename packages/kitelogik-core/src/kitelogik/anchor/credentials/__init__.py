"""Zero-trust session credentials: signed, scoped, short-lived tokens; delegation that only
narrows; revocation that cascades.

    from kitelogik import PolicyGate, SessionContext, ToolCall
    from kitelogik.anchor.credentials import CredentialBroker

    broker = CredentialBroker()                       # SQLite + key file under KITELOGIK_HOME
    token = broker.issue("s1", ["fs:read"], ttl_seconds=900, agent_id="researcher")
    child = broker.delegate(token.token_id, ["fs:read"], "s2")   # only ever narrower
    gate = PolicyGate(credentials=broker)             # every event must carry a valid token
    ctx = SessionContext(session_id="s1", session_scopes=["fs:read"], token=token.token)
    broker.revoke(token.token_id)                     # the child is revoked too

Elsewhere (another process or machine), with only the public keys::

    verifier = TokenVerifier(jwks_document, store=shared_store)
    gate = PolicyGate(credentials=verifier)

Needs the ``credentials`` extra (``pip install 'kitelogik-core[credentials]'``); the PostgreSQL
store needs ``postgres`` too. See ``docs/credentials.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import cryptography  # noqa: F401
    import jwt  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "kitelogik.anchor.credentials needs PyJWT with cryptography: "
        "pip install 'kitelogik-core[credentials]'"
    ) from exc

from kitelogik.anchor.credentials.broker import CredentialBroker, IssuedToken
from kitelogik.anchor.credentials.keys import KeyRing, SigningKey
from kitelogik.anchor.credentials.store import (
    CredentialStore,
    DelegationError,
    SQLiteCredentialStore,
    TokenRecord,
)
from kitelogik.anchor.credentials.verifier import (
    DEFAULT_CLOCK_SKEW_SECONDS,
    DEFAULT_REVOCATION_STALENESS_SECONDS,
    TokenVerifier,
    validate_scopes,
)
from kitelogik.protocols import CredentialError, VerifiedCredential

if TYPE_CHECKING:
    from kitelogik.anchor.credentials.postgres import PostgresCredentialStore

__all__ = [
    "DEFAULT_CLOCK_SKEW_SECONDS",
    "DEFAULT_REVOCATION_STALENESS_SECONDS",
    "CredentialBroker",
    "CredentialError",
    "CredentialStore",
    "DelegationError",
    "IssuedToken",
    "KeyRing",
    "PostgresCredentialStore",
    "SQLiteCredentialStore",
    "SigningKey",
    "TokenRecord",
    "TokenVerifier",
    "VerifiedCredential",
    "validate_scopes",
]


def __getattr__(name: str) -> Any:
    # psycopg is an optional extra: load the PostgreSQL store only when asked for.
    if name == "PostgresCredentialStore":
        from kitelogik.anchor.credentials.postgres import PostgresCredentialStore

        return PostgresCredentialStore
    raise AttributeError(f"module 'kitelogik.anchor.credentials' has no attribute {name!r}")
