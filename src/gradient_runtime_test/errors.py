"""One error hierarchy; each class carries its exit code. Caught in exactly one place (cli.main)."""

from __future__ import annotations


class GrtError(Exception):
    """Base of every error the CLI reports as a clean message instead of a traceback."""

    exit_code = 1

    def __init__(self, message: str, *, tip: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.tip = tip


class UsageError(GrtError):
    """Bad input or configuration: a flag, a matrix file, an environment variable."""

    exit_code = 2


class MatrixError(UsageError):
    """One or more problems in the matrices; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ProviderError(GrtError):
    """A provider could not do what was asked (after retries)."""

    exit_code = 1
