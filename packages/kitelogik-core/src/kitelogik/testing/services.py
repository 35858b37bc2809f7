"""Real services for tests, started on loopback only: a throwaway PostgreSQL server.

As root, ``initdb`` refuses to run, so the server runs as the ``postgres`` system user (created
by Debian's postgresql package). Every server listens on 127.0.0.1 and a unix socket in its own
temp directory, and is stopped at the end even when tests fail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["free_port", "pg_bin", "postgres_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if candidates:
        return candidates[-1]
    raise FileNotFoundError(
        f"{name} not found: install PostgreSQL (apt-get install -y postgresql); "
        "`make test` does this itself"
    )


@contextlib.contextmanager
def postgres_server(user: str = "kl") -> Iterator[str]:
    """Start PostgreSQL in a temp dir on a free loopback port; yield a libpq DSN."""
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    tmp = Path(tempfile.mkdtemp(prefix="kl-pg-"))
    if as_root:
        shutil.chown(tmp, "postgres")
    data = tmp / "data"
    port = free_port()
    subprocess.run(
        [*prefix, pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", user, "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(tmp / "log"),
            "-w",
            "-o",
            f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(tmp, ignore_errors=True)
