"""Repository-wide test guard: the suite must not write into the working tree.

Every test that needs a Kite Logik home (audit log, keys, approvals) uses a temporary one; a
test that forgets would leave ``.kitelogik/`` or a stray database in the checkout, which in a
user's project means an audit log in the wrong place. This fails the session if that happens.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent
_IGNORED = {
    ".git",
    ".venv",
    ".venvs",
    ".tools",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "dist",
    "__pycache__",
}


def _entries() -> set[str]:
    return {e for e in os.listdir(_ROOT) if e not in _IGNORED}


@pytest.fixture(scope="session", autouse=True)
def _tests_do_not_litter_the_checkout() -> Iterator[None]:
    before = _entries()
    yield
    added = sorted(_entries() - before)
    if added:
        pytest.fail(f"tests wrote into the repository root: {', '.join(added)}", pytrace=False)
