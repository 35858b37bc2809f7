"""Haystack's telemetry stays off in these tests even when run outside scripts/plugin-env.sh
(set before any test module imports haystack)."""

import os

os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"
