"""Loopback servers that speak each provider's protocol, scriptable per test (see server.py)."""
