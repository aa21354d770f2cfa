"""Benchmarks: run as modules (``python -m tests.benchmarks.relay``), by hand.

Only the unit tests of their helpers (``test_*.py``) run under pytest.
"""
