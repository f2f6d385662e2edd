"""The rekey-client test suite; it starts a real `rekey serve` (see conftest.py)."""
