"""Benchmarks that print figures, each ending with a `RESULT {json}` line."""
