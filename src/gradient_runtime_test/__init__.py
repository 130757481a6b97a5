"""Test Gradient notebook runtimes on every machine type."""

__version__ = "0.1.0"
