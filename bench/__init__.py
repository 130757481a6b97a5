"""Benchmarks: the harness and the orchestrator against what users would use instead.

Run from the repository root, one command each (see bench/README.md).
"""
