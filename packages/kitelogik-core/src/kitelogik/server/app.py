"""The approvals service behind ``kitelogik serve``: a REST API and a reviewers' page.

REST (JSON, OpenAPI at ``/openapi.json``, docs at ``/docs``), authenticated by
``Authorization: Bearer <approver token>``:

- ``GET  /api/v1/approvals?status=pending`` list requests
- ``GET  /api/v1/approvals/{id}`` one request
- ``POST /api/v1/approvals/{id}/approve`` ``{"reason": "...", "digest": "<sha256>"}``
- ``POST /api/v1/approvals/{id}/deny`` ``{"reason": "..."}``
- ``GET  /api/v1/whoami``

The page (``/``) is server-rendered HTML; a reviewer signs in with their token once (a
server-side session, an HttpOnly SameSite=Strict cookie), and a little JavaScript refreshes the
pending list every second and sends approve / deny with the session's CSRF token. The identity of
whoever approves always comes from the token or session, never from the request body (unknown
body fields are rejected).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from kitelogik.anchor.hitl.auth import (
    VIEWER,
    ApproverIdentity,
    Authenticator,
    TokenAuthenticator,
)
from kitelogik.anchor.hitl.models import (
    ApprovalConflict,
    ApprovalError,
    ApprovalRequest,
    AuthenticationError,
    NotAuthorized,
    SeparationOfDutiesError,
    UnknownRequest,
)
from kitelogik.anchor.hitl.queue import ApprovalQueue
from kitelogik.server import page

__all__ = ["create_app"]

log = logging.getLogger("kitelogik.server")

SESSION_COOKIE = "kl_session"
CSRF_HEADER = "x-csrf-token"


class DecisionBody(BaseModel):
    """What a reviewer sends. Who they are comes from authentication, never from here: any
    other field (``approver``, ``user``...) is rejected."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000, description="Why (shown in the audit log).")
    digest: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="The binding digest the reviewer was shown; when given it must match.",
    )


class VoteOut(BaseModel):
    approver: str
    vote: Literal["approve", "deny"]
    reason: str
    at: float
    via: str


class ApprovalOut(BaseModel):
    id: str
    status: Literal["pending", "approved", "denied", "expired"]
    digest: str
    decision_id: str
    event_type: str
    action: str
    args: dict[str, Any]
    session_id: str
    agent_id: str | None
    user_role: str | None
    framework: str | None
    risk_tier: str
    reasons: list[str]
    rules: list[str]
    quorum: int
    approvals: int
    created_at: float
    expires_at: float
    decided_at: float | None
    consumed_at: float | None
    votes: list[VoteOut]


class WhoAmI(BaseModel):
    name: str
    roles: list[str]
    via: str


@dataclass
class _Session:
    secret: str
    csrf: str
    expires: float


@dataclass
class Reviewer:
    identity: ApproverIdentity
    session: _Session | None  # None: authenticated by a bearer token (no cookie, no CSRF)


def _out(req: ApprovalRequest, now: float) -> dict[str, Any]:
    d = req.to_dict()
    d["status"] = req.effective_status(now)
    return d


def create_app(
    queue: ApprovalQueue,
    authenticator: Authenticator | None = None,
    *,
    secure_cookies: bool = False,
    session_ttl: float = 8 * 3600,
    poll_interval_ms: int = 1000,
) -> FastAPI:
    """The approvals app for ``queue``. ``authenticator`` defaults to the API tokens kept in
    the queue's store (``kitelogik hitl token create``)."""
    auth: Authenticator = authenticator or TokenAuthenticator(queue.store)  # type: ignore[arg-type]
    sessions: dict[str, _Session] = {}
    lock = threading.Lock()

    app = FastAPI(
        title="Kite Logik approvals",
        version="1",
        description="Human approvals for escalated agent actions. Every approval is bound to "
        "the SHA-256 digest of the exact call and opens it once.",
    )

    # ------------------------------------------------------------------ authentication

    def _session_of(request: Request) -> _Session | None:
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        key = hashlib.sha256(sid.encode()).hexdigest()
        with lock:
            sess = sessions.get(key)
            if sess is not None and sess.expires <= time.time():
                sessions.pop(key, None)
                sess = None
        return sess

    def reviewer(request: Request) -> Reviewer:
        header = request.headers.get("authorization")
        if header:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise AuthenticationError("use Authorization: Bearer <approver token>")
            return Reviewer(auth.authenticate(secret.strip()), None)
        sess = _session_of(request)
        if sess is None:
            raise AuthenticationError("sign in with an approver token")
        # Re-authenticate every time: a revoked token ends its sessions at once.
        return Reviewer(auth.authenticate(sess.secret), sess)

    def _same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            return origin is None
        host = request.headers.get("host", "")
        return origin in (f"http://{host}", f"https://{host}")

    def state_changing(request: Request, who: Reviewer = Depends(reviewer)) -> Reviewer:
        if who.session is not None:
            token = request.headers.get(CSRF_HEADER, "")
            if not _same_origin(request) or not hmac.compare_digest(
                token.encode(), who.session.csrf.encode()
            ):
                raise HTTPException(403, "CSRF check failed: missing or wrong X-CSRF-Token")
        return who

    # ------------------------------------------------------------------ errors

    @app.exception_handler(ApprovalError)
    async def _approval_error(request: Request, exc: ApprovalError) -> Response:
        status = 409
        if isinstance(exc, AuthenticationError):
            status = 401
        elif isinstance(exc, NotAuthorized | SeparationOfDutiesError):
            status = 403
        elif isinstance(exc, UnknownRequest):
            status = 404
        elif isinstance(exc, ApprovalConflict):
            status = 409
        headers = {"www-authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        try:
            response: Response = await call_next(request)
        except Exception as exc:
            log.exception("approvals request failed")
            response = JSONResponse(
                {"detail": f"approval store unavailable: {type(exc).__name__}"}, status_code=503
            )
        response.headers.setdefault("cache-control", "no-store")
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "same-origin"  # no-referrer would send Origin: null
        if not request.url.path.startswith("/docs"):
            response.headers["x-frame-options"] = "DENY"
            response.headers["content-security-policy"] = (
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            )
        return response

    # ------------------------------------------------------------------ REST API

    def _vote(request_id: str, body: DecisionBody, who: Reviewer, kind: str) -> dict[str, Any]:
        fn = queue.approve if kind == "approve" else queue.deny
        req = fn(request_id, who.identity, body.reason, body.digest)
        return _out(req, time.time())

    @app.get("/api/v1/approvals", response_model=list[ApprovalOut], tags=["approvals"])
    def list_approvals(
        status: Literal["pending", "approved", "denied", "expired", "all"] = Query("pending"),
        limit: int = Query(100, ge=1, le=500),
        who: Reviewer = Depends(reviewer),
    ) -> list[dict[str, Any]]:
        """Approval requests, oldest first for ``pending`` and newest first for ``all``."""
        who.identity.require(VIEWER)
        now = time.time()
        found = queue.list(None if status == "all" else status, limit)
        return [_out(r, now) for r in found]

    @app.get("/api/v1/approvals/{request_id}", response_model=ApprovalOut, tags=["approvals"])
    def show_approval(request_id: str, who: Reviewer = Depends(reviewer)) -> dict[str, Any]:
        """One request: the action, its exact arguments, risk tier, reasons and session."""
        who.identity.require(VIEWER)
        return _out(queue.get(request_id), time.time())

    @app.post(
        "/api/v1/approvals/{request_id}/approve", response_model=ApprovalOut, tags=["approvals"]
    )
    def approve(
        request_id: str,
        body: DecisionBody,
        who: Reviewer = Depends(state_changing),
    ) -> dict[str, Any]:
        """Approve as the authenticated reviewer. 409 when it is no longer pending, expired,
        or ``digest`` is not this request's; 403 for the requesting session's own principal."""
        return _vote(request_id, body, who, "approve")

    @app.post("/api/v1/approvals/{request_id}/deny", response_model=ApprovalOut, tags=["approvals"])
    def deny(
        request_id: str,
        body: DecisionBody,
        who: Reviewer = Depends(state_changing),
    ) -> dict[str, Any]:
        """Deny as the authenticated reviewer (one deny decides, whatever the quorum)."""
        return _vote(request_id, body, who, "deny")

    @app.get("/api/v1/whoami", response_model=WhoAmI, tags=["approvals"])
    def whoami(who: Reviewer = Depends(reviewer)) -> dict[str, Any]:
        return {
            "name": who.identity.name,
            "roles": sorted(who.identity.roles),
            "via": who.identity.via,
        }

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # ------------------------------------------------------------------ the page

    def _pending_fragment(now: float) -> str:
        pending = queue.list("pending")
        recent = [r for r in queue.list(None, 30) if r.effective_status(now) != "pending"][:8]
        return page.render_lists(pending, recent, now)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> Response:
        try:
            who = reviewer(request)
        except AuthenticationError:
            return HTMLResponse(page.render_login(None), status_code=401)
        if who.session is None:  # a bearer token in a browser: use the sign-in form
            return HTMLResponse(page.render_login(None), status_code=401)
        now = time.time()
        return HTMLResponse(
            page.render_index(
                who.identity, who.session.csrf, _pending_fragment(now), poll_interval_ms
            )
        )

    @app.get("/fragments/approvals", response_class=HTMLResponse, include_in_schema=False)
    def fragment(request: Request) -> Response:
        who = reviewer(request)
        who.identity.require(VIEWER)
        return HTMLResponse(_pending_fragment(time.time()))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if not _same_origin(request):
            raise HTTPException(403, "cross-origin sign-in refused")
        raw = (await request.body())[:4096].decode("utf-8", "replace")
        secret = (parse_qs(raw).get("token") or [""])[0].strip()
        try:
            who = auth.authenticate(secret)
            who.require(VIEWER)
        except (AuthenticationError, NotAuthorized):
            return HTMLResponse(page.render_login("That token was not accepted."), status_code=401)
        sid = secrets.token_urlsafe(32)
        sess = _Session(
            secret=secret, csrf=secrets.token_urlsafe(32), expires=time.time() + session_ttl
        )
        with lock:
            now = time.time()
            for k in [k for k, s in sessions.items() if s.expires <= now]:
                sessions.pop(k, None)
            sessions[hashlib.sha256(sid.encode()).hexdigest()] = sess
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            sid,
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
            max_age=int(session_ttl),
            path="/",
        )
        log.info("reviewer %s signed in", who.name)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, who: Reviewer = Depends(state_changing)) -> Response:
        sid = request.cookies.get(SESSION_COOKIE, "")
        with lock:
            sessions.pop(hashlib.sha256(sid.encode()).hexdigest(), None)
        response = JSONResponse({"signed_out": who.identity.name})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/static/app.js", include_in_schema=False)
    def app_js() -> Response:
        return Response(page.APP_JS, media_type="text/javascript")

    @app.get("/static/app.css", include_in_schema=False)
    def app_css() -> Response:
        return Response(page.APP_CSS, media_type="text/css")

    app.state.queue = queue
    app.state.sessions = sessions
    return app
