"""Loopback servers that speak each model provider's real protocol (added with the providers)."""
