"""Human approvals for escalated calls (``kitelogik.anchor.hitl``).

``PolicyGate(approver=ApprovalQueue())`` makes every escalation wait for a person. A request is
bound to the decision's digest (event type, action, arguments, session, decision id); an approval
opens that one call once. Reviewers authenticate (API tokens or signed credentials) and decide in
the approvals page or API (``kitelogik serve``), or with ``kitelogik hitl``. See docs/approvals.md.
"""

from kitelogik.anchor.hitl.auth import (
    APPROVER,
    VIEWER,
    ApproverIdentity,
    Authenticator,
    ChainAuthenticator,
    CredentialAuthenticator,
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
    Vote,
    binding_digest,
)
from kitelogik.anchor.hitl.notify import WebhookNotifier, verify_signature
from kitelogik.anchor.hitl.queue import ApprovalQueue, Notifier
from kitelogik.anchor.hitl.store import SQLiteApprovalStore, open_store

__all__ = [
    "APPROVER",
    "VIEWER",
    "ApprovalConflict",
    "ApprovalError",
    "ApprovalQueue",
    "ApprovalRequest",
    "ApproverIdentity",
    "AuthenticationError",
    "Authenticator",
    "ChainAuthenticator",
    "CredentialAuthenticator",
    "NotAuthorized",
    "Notifier",
    "SQLiteApprovalStore",
    "SeparationOfDutiesError",
    "TokenAuthenticator",
    "UnknownRequest",
    "Vote",
    "WebhookNotifier",
    "binding_digest",
    "open_store",
    "verify_signature",
]
