"""Test support for Kite Logik and its plugins (install ``kitelogik-core[testing]``).

Never imported by ``kitelogik`` itself.
"""
