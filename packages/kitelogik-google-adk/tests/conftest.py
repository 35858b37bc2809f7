"""OpenTelemetry stays off in these tests even when run outside scripts/plugin-env.sh (set before
any test module imports google.adk)."""

import os

os.environ["OTEL_SDK_DISABLED"] = "true"
