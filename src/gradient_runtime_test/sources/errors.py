"""The one error of this wing: a source could not be read or is not there."""

from __future__ import annotations


class SourceError(Exception):
    """One line, with any URL credentials hidden. `missing`: the source answered that the thing
    asked for (a ref, a commit, a folder) is not there, as opposed to not answering."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.missing = missing
