"""Verification of session tokens: the part of the credential service a gate needs.

:class:`TokenVerifier` implements :class:`kitelogik.protocols.CredentialVerifier` with nothing but
the public keys (a JWKS document) and, optionally, a credential store to learn about revocations.
It runs anywhere: in the broker's process, or in another process or on another machine.

Every refusal raises :class:`~kitelogik.protocols.CredentialError` whose message is the precise
reason (missing, malformed, unsupported algorithm, unknown or retired key, forged, wrong issuer,
issued in the future, expired, wrong session, revoked, revocation status unavailable).

Speed: a token that verified once is cached by its exact string (its signature is not checked
again), but every call still checks expiry (with the clock-skew tolerance), that its signing
key is still trusted, the session, and the revocation of the token and of every ancestor.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kitelogik.anchor.credentials.keys import b64url, jwk_thumbprint, unb64url
from kitelogik.anchor.credentials.store import CredentialStore
from kitelogik.protocols import CredentialError, VerifiedCredential

__all__ = [
    "DEFAULT_CLOCK_SKEW_SECONDS",
    "DEFAULT_REVOCATION_STALENESS_SECONDS",
    "MAX_TOKEN_BYTES",
    "TokenVerifier",
    "validate_scopes",
]

#: Tolerance for clocks that disagree between the issuer and a verifier: a token is accepted
#: until ``exp + skew`` and refused when its ``iat`` is more than ``skew`` in the future.
DEFAULT_CLOCK_SKEW_SECONDS = 5
#: How old the in-memory revocation list may get before a verification refreshes it from the
#: store (revocations made through *this* verifier's broker apply at once).
DEFAULT_REVOCATION_STALENESS_SECONDS = 1.0
MAX_TOKEN_BYTES = 8192
ALGORITHM = "EdDSA"
_HEADER_KEYS = frozenset({"alg", "kid", "typ"})
_SCOPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@+\-]{0,127}", re.ASCII)
_WILDCARDS = frozenset("*?%[]{}|^$\\")


def validate_scopes(scopes: Any, what: str = "scopes") -> tuple[str, ...]:
    """The scopes as a tuple, or ``ValueError``/``TypeError`` naming the first problem.

    A scope is 1-128 ASCII characters from ``A-Z a-z 0-9 _ . : / @ + -`` starting with a letter
    or digit. Scopes match exactly (case-sensitive): there are no wildcards, so ``*`` or
    ``read*`` are refused rather than silently meaning nothing. Duplicates are refused too.
    """
    if isinstance(scopes, (str, bytes)) or not isinstance(scopes, Iterable):
        raise TypeError(f"{what} must be a list of strings, not {type(scopes).__name__}")
    out: list[str] = []
    seen: set[str] = set()
    for s in scopes:
        if not isinstance(s, str):
            raise TypeError(f"{what} must be strings; got {type(s).__name__} {s!r}")
        if not s:
            raise ValueError(f"{what}: empty scope")
        if not _SCOPE.fullmatch(s):
            kind = (
                "wildcard characters (scopes match exactly, there are no patterns)"
                if _WILDCARDS & set(s)
                else "characters outside A-Z a-z 0-9 _ . : / @ + - or is longer than 128"
            )
            raise ValueError(f"{what}: scope {s!r} contains {kind}")
        if s in seen:
            raise ValueError(f"{what}: duplicate scope {s!r}")
        seen.add(s)
        out.append(s)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Verified:
    cred: VerifiedCredential
    kid: str
    lineage: tuple[str, ...]  # ancestors (root first) then the token itself
    exp: int


@dataclass(frozen=True, slots=True)
class _Key:
    public: Ed25519PublicKey
    retire_at: int | None


def keys_from_jwks(jwks: Mapping[str, Any] | str | Path) -> dict[str, _Key]:
    """Parse a JWKS document (a mapping, JSON text or a file path) into verification keys.
    Only Ed25519 (``kty: OKP``, ``crv: Ed25519``) keys are accepted."""
    if isinstance(jwks, Path) or (isinstance(jwks, str) and not jwks.lstrip().startswith("{")):
        jwks = Path(jwks).read_text(encoding="utf-8")
    doc = json.loads(jwks) if isinstance(jwks, str) else jwks
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise ValueError("not a JWKS document (expected an object with a 'keys' array)")
    out: dict[str, _Key] = {}
    for jwk in doc["keys"]:
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise ValueError(f"unsupported key in JWKS (only OKP/Ed25519): {jwk!r}")
        if jwk.get("alg", ALGORITHM) != ALGORITHM or jwk.get("use", "sig") != "sig":
            raise ValueError(f"JWKS key {jwk.get('kid')!r} is not an EdDSA signing key")
        x = jwk["x"]
        kid = jwk.get("kid") or jwk_thumbprint(x)
        retire = jwk.get("kl_retire_at")
        out[kid] = _Key(
            Ed25519PublicKey.from_public_bytes(unb64url(x)),
            int(retire) if retire is not None else None,
        )
    return out


class TokenVerifier:
    """Verifies Kite Logik session tokens with public keys only.

    ``jwks``: the JWKS document exported by the broker (mapping, JSON text or path).
    ``store``: a :class:`CredentialStore` shared with the broker, to learn revocations; without
    one, revocations are not seen here (tokens are short-lived; see ``docs/credentials.md``).
    ``revocation_staleness_seconds``: the documented bound on how late a revocation made
    elsewhere is seen (default 1 s). ``strict_revocation=True`` asks the store on every call
    instead (and refuses tokens the store does not know).
    ``clock_skew_seconds``: tolerance for clock differences (default 5 s).
    """

    def __init__(
        self,
        jwks: Mapping[str, Any] | str | Path | None = None,
        *,
        store: CredentialStore | None = None,
        issuer: str = "kitelogik",
        clock_skew_seconds: int = DEFAULT_CLOCK_SKEW_SECONDS,
        revocation_staleness_seconds: float = DEFAULT_REVOCATION_STALENESS_SECONDS,
        strict_revocation: bool = False,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if strict_revocation and store is None:
            raise ValueError("strict_revocation needs a store")
        if not 0 <= clock_skew_seconds <= 300:
            raise ValueError("clock_skew_seconds must be between 0 and 300")
        if revocation_staleness_seconds < 0:
            raise ValueError("revocation_staleness_seconds must be >= 0")
        self.store = store
        self.issuer = issuer
        self.clock_skew_seconds = int(clock_skew_seconds)
        self.revocation_staleness_seconds = float(revocation_staleness_seconds)
        self.strict_revocation = strict_revocation
        self.cache_size = cache_size
        self.clock = clock
        self._keys: dict[str, _Key] = keys_from_jwks(jwks) if jwks is not None else {}
        self._retired: dict[str, int] = {}
        self._cache: dict[str, _Verified] = {}
        self._revoked: dict[str, bool] = {}  # jti -> revocation cascades to descendants
        self._local_revoked: dict[str, bool] = {}
        self._refreshed_at = float("-inf")
        self._refresh_lock = threading.Lock()
        self._jws = jwt.PyJWS(algorithms=[ALGORITHM])

    # ------------------------------------------------------------------ configuration

    def set_keys(
        self,
        keys: Mapping[str, Ed25519PublicKey | tuple[Ed25519PublicKey, int | None]],
        retired: Mapping[str, int] | None = None,
    ) -> None:
        """Replace the trusted keys (``kid -> public key`` or ``(public key, retire_at)``)."""
        new: dict[str, _Key] = {}
        for kid, v in keys.items():
            new[kid] = _Key(*v) if isinstance(v, tuple) else _Key(v, None)
        self._keys = new
        self._cache = {}  # cached entries were checked against the previous keys
        if retired is not None:
            self._retired = dict(retired)

    def set_jwks(self, jwks: Mapping[str, Any] | str | Path) -> None:
        """Replace the trusted keys with those of a JWKS document (e.g. after a rotation)."""
        self._keys = keys_from_jwks(jwks)
        self._cache = {}

    @classmethod
    def from_public_key(
        cls, key: Ed25519PublicKey | bytes | str, *, kid: str | None = None, **options: Any
    ) -> TokenVerifier:
        """A verifier trusting one public key: an ``Ed25519PublicKey``, PEM text/bytes or the
        raw 32 bytes. ``kid`` defaults to the key's RFC 7638 thumbprint (what the broker uses).
        ``options`` are the constructor's keyword arguments."""
        if isinstance(key, str):
            key = key.encode()
        if isinstance(key, bytes):
            if len(key) == 32:
                key = Ed25519PublicKey.from_public_bytes(key)
            else:
                loaded = serialization.load_pem_public_key(key)
                if not isinstance(loaded, Ed25519PublicKey):
                    raise ValueError("the supplied public key is not an Ed25519 key")
                key = loaded
        x = b64url(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid or jwk_thumbprint(x)}
        return cls({"keys": [jwk]}, **options)

    def note_revoked(self, revoked: Mapping[str, bool]) -> None:
        """Apply revocations made through this process at once (no staleness)."""
        with self._refresh_lock:
            self._local_revoked = {**self._local_revoked, **revoked}
            self._revoked = {**self._revoked, **revoked}

    # ------------------------------------------------------------------ protocol

    def verify(self, token: str | None) -> VerifiedCredential:
        """Verify ``token`` (any session) or raise :class:`CredentialError`."""
        return self._check(token, None)

    def verify_for(self, token: str | None, session_id: str) -> VerifiedCredential:
        """Verify ``token`` for ``session_id`` or raise :class:`CredentialError`."""
        return self._check(token, session_id)

    async def averify_for(self, token: str | None, session_id: str) -> VerifiedCredential:
        store = self.store
        if (
            store is not None
            and store.io_bound
            and (self.strict_revocation or self._refresh_due(self.clock()))
        ):
            return await asyncio.to_thread(self._check, token, session_id)
        return self._check(token, session_id)

    async def averify(self, token: str | None) -> VerifiedCredential:
        return await asyncio.to_thread(self._check, token, None)

    # ------------------------------------------------------------------ the checks

    def _check(self, token: str | None, session_id: str | None) -> VerifiedCredential:
        if token is None or token == "":
            raise CredentialError(
                "missing token: a credential broker is configured, so every "
                "event must carry SessionContext.token"
            )
        now = self.clock()
        v = self._cache.get(token) if isinstance(token, str) else None
        if v is None:
            v = self._verify_signed(token, now)
            # Cache the signature-checked claims (also for a token refused below, so replaying
            # a revoked token costs no signature check); everything after this line runs on
            # every call.
            if self.cache_size > 0:
                if len(self._cache) >= self.cache_size:
                    self._evict(now)
                self._cache[token] = v
        # Checked on every call, cached or not:
        if now >= v.exp + self.clock_skew_seconds:
            raise CredentialError(f"token {v.cred.token_id} expired at {v.exp}")
        key = self._keys.get(v.kid)
        if key is None:
            raise CredentialError(self._unknown_key(v.kid))
        if key.retire_at is not None and now >= key.retire_at:
            raise CredentialError(
                f"signing key {v.kid!r} was retired at {key.retire_at} "
                "(key rotation grace period is over)"
            )
        if session_id is not None and v.cred.session_id != session_id:
            raise CredentialError(
                f"token was issued for session {v.cred.session_id!r}, not {session_id!r}"
            )
        self._check_revocation(v, now)
        return v.cred

    def _verify_signed(self, token: Any, now: float) -> _Verified:
        if not isinstance(token, str):
            raise CredentialError(f"malformed token: expected a string, got {type(token).__name__}")
        if len(token) > MAX_TOKEN_BYTES:
            raise CredentialError(f"malformed token: longer than {MAX_TOKEN_BYTES} bytes")
        segments = token.split(".")
        if len(segments) != 3 or not all(segments[:2]):
            raise CredentialError("malformed token: not a compact JWS (header.payload.signature)")
        try:
            header = json.loads(unb64url(segments[0]))
        except (ValueError, TypeError):
            raise CredentialError("malformed token: header is not base64url JSON") from None
        if not isinstance(header, dict):
            raise CredentialError("malformed token: header is not a JSON object")
        alg = header.get("alg")
        if alg is None:
            raise CredentialError("malformed token: header has no 'alg'")
        if isinstance(alg, str) and alg.lower() == "none":
            raise CredentialError(
                f"unsigned token (alg {alg!r}) refused: only {ALGORITHM} signatures are accepted"
            )
        if alg != ALGORITHM:
            raise CredentialError(f"algorithm {alg!r} refused: only {ALGORITHM} is accepted")
        extra = set(header) - _HEADER_KEYS
        if extra:
            raise CredentialError(
                "malformed token: unexpected header parameter(s) "
                + ", ".join(sorted(map(repr, extra)))
            )
        if header.get("typ", "JWT") != "JWT":
            raise CredentialError(f"malformed token: typ {header.get('typ')!r} is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise CredentialError("malformed token: header has no key id (kid)")
        key = self._keys.get(kid)
        if key is None:
            raise CredentialError(self._unknown_key(kid))
        try:
            decoded = self._jws.decode_complete(token, key=key.public, algorithms=[ALGORITHM])
        except jwt.InvalidSignatureError:
            raise CredentialError("signature does not verify (forged or altered token)") from None
        except jwt.InvalidAlgorithmError as exc:
            raise CredentialError(f"algorithm refused: {exc}") from None
        except jwt.PyJWTError as exc:
            raise CredentialError(f"malformed token: {exc}") from None
        try:
            claims = json.loads(decoded["payload"])
        except ValueError:
            raise CredentialError("malformed token: payload is not JSON") from None
        cred, lineage, exp = self._claims(claims, now)
        return _Verified(cred, kid, lineage, exp)

    def _claims(self, c: Any, now: float) -> tuple[VerifiedCredential, tuple[str, ...], int]:
        if not isinstance(c, dict):
            raise CredentialError("malformed token: claims are not a JSON object")

        def need(name: str, typ: type | tuple[type, ...]) -> Any:
            v = c.get(name)
            if not isinstance(v, typ) or isinstance(v, bool):
                raise CredentialError(f"malformed token: claim {name!r} missing or invalid")
            return v

        iss = need("iss", str)
        jti = need("jti", str)
        sid = need("sid", str)
        iat = need("iat", int)
        exp = need("exp", int)
        dep = need("dep", int)
        chain = need("chn", list)
        sub = c.get("sub")
        par = c.get("par")
        try:
            scopes = validate_scopes(need("scp", list), "claim 'scp'")
        except (TypeError, ValueError) as exc:
            raise CredentialError(f"malformed token: {exc}") from None
        if not jti or not sid:
            raise CredentialError("malformed token: empty 'jti' or 'sid'")
        if sub is not None and not isinstance(sub, str):
            raise CredentialError("malformed token: claim 'sub' invalid")
        if (
            dep < 0
            or len(chain) != dep
            or not all(isinstance(a, str) and a for a in chain)
            or par != (chain[-1] if chain else None)
        ):
            raise CredentialError("malformed token: inconsistent delegation claims")
        if iss != self.issuer:
            raise CredentialError(f"token issuer {iss!r} is not the trusted issuer {self.issuer!r}")
        if iat > now + self.clock_skew_seconds:
            raise CredentialError(
                f"token issued in the future (iat {iat}); clocks disagree "
                f"by more than {self.clock_skew_seconds}s"
            )
        if exp <= iat:
            raise CredentialError("malformed token: expires before it was issued")
        cred = VerifiedCredential(
            token_id=jti,
            session_id=sid,
            scopes=scopes,
            expires_at=exp,
            depth=dep,
            agent_id=sub,
            parent_id=par,
            issued_at=iat,
        )
        return cred, (*chain, jti), exp

    def _unknown_key(self, kid: str) -> str:
        retired = self._retired.get(kid)
        if retired is not None:
            return (
                f"signing key {kid!r} was retired at {retired} (key rotation grace period is over)"
            )
        return f"unknown signing key {kid!r}"

    # ------------------------------------------------------------------ revocation

    def _refresh_due(self, now: float) -> bool:
        return now - self._refreshed_at >= self.revocation_staleness_seconds

    def _check_revocation(self, v: _Verified, now: float) -> None:
        if self.store is None:
            revoked = self._revoked
        elif self.strict_revocation:
            try:
                status = self.store.status(v.lineage)
            except Exception as exc:  # noqa: BLE001 - any store failure is a refusal
                raise CredentialError(
                    f"revocation status unavailable: {type(exc).__name__}: {exc}"
                ) from None
            if v.cred.token_id not in status:
                raise CredentialError(
                    f"token {v.cred.token_id} is not known to the credential store"
                )
            revoked = {j: casc for j, (rev, casc) in status.items() if rev}
            revoked.update(self._local_revoked)
        else:
            if self._refresh_due(now):
                self._refresh(now)
            revoked = self._revoked
        jti = v.cred.token_id
        if jti in revoked:
            raise CredentialError(f"token {jti} is revoked")
        for ancestor in v.lineage[:-1]:
            if revoked.get(ancestor):
                raise CredentialError(
                    f"token {jti} is revoked (its ancestor {ancestor} was revoked)"
                )

    def _refresh(self, now: float) -> None:
        assert self.store is not None
        with self._refresh_lock:
            if not self._refresh_due(now):
                return  # another thread refreshed while we waited
            try:
                fresh = self.store.revoked(int(now) - self.clock_skew_seconds - 1)
            except Exception as exc:  # noqa: BLE001 - any store failure is a refusal
                raise CredentialError(
                    f"revocation status unavailable: {type(exc).__name__}: {exc}"
                ) from None
            fresh.update(self._local_revoked)
            self._revoked = fresh
            self._refreshed_at = now
            if len(self._local_revoked) > 1000:
                self._local_revoked = {}  # the store has them all by now

    def _evict(self, now: float) -> None:
        live = {t: v for t, v in self._cache.items() if now < v.exp + self.clock_skew_seconds}
        if len(live) >= self.cache_size:
            live = dict(list(live.items())[len(live) // 2 :])
        self._cache = live
