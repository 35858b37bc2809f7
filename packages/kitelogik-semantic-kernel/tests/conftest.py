"""Offline proof for this plugin's tests (kitelogik.testing.offline), and the framework's own
deprecation noise silenced."""

from __future__ import annotations

import pytest
from kitelogik.testing.offline import no_network  # noqa: F401 - autouse: offline proof


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:inspect")
    config.addinivalue_line("filterwarnings", "ignore:.*deprecated.*:DeprecationWarning")
