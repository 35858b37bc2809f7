"""Running the approvals app with uvicorn: in the foreground (``kitelogik serve``) or in a
background thread (tests, embedding next to an agent)."""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

import uvicorn

__all__ = ["ServerThread", "is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(app: Any, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info") -> None:
    uvicorn.run(
        app, host=host, port=port, log_level=log_level, proxy_headers=False, server_header=False
    )


class ServerThread:
    """``with ServerThread(app) as srv: srv.url`` serves ``app`` on a free loopback port."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            proxy_headers=False,
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(
            target=self.server.run, daemon=True, name="kitelogik-approvals"
        )
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        started = threading.Event()

        def poll() -> None:
            while not self.server.started and self.thread.is_alive():
                started.wait(0.01)

        poll()
        if not self.server.started:
            raise RuntimeError("the approvals server did not start")
        sock = self.server.servers[0].sockets[0]
        self.port = int(sock.getsockname()[1])
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
