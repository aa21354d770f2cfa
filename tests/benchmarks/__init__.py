"""Benchmarks: run as modules (``python -m tests.benchmarks.relay``), not collected by pytest."""
