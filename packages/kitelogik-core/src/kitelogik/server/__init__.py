"""``kitelogik serve``: the approvals service (REST API and reviewers' page). Needs the
``server`` extra (``pip install 'kitelogik-core[server]'``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitelogik.server.app import create_app
    from kitelogik.server.runner import ServerThread

__all__ = ["ServerThread", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from kitelogik.server.app import create_app

        return create_app
    if name == "ServerThread":
        from kitelogik.server.runner import ServerThread

        return ServerThread
    raise AttributeError(name)
