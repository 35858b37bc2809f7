"""Kite Logik anchors: the stateful services the gate relies on (credentials, human approvals)."""
