"""Errors of the storage layer: what stops start-up, and where on disk the problem is."""

from __future__ import annotations

from pathlib import Path


class StorageError(Exception):
    """The data directory cannot be used (start-up must stop, as 3.8's loadData failing does)."""


class CorruptFileError(StorageError):
    """A txn log or snapshot is damaged somewhere other than a torn tail: names file and offset."""

    def __init__(self, path: Path | str, offset: int, reason: str) -> None:
        self.path = Path(path)
        self.offset = offset
        self.reason = reason
        super().__init__(f"{self.path} at offset {offset}: {reason}")
