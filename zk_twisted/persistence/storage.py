"""Wiring of the storage layer into a server: restore the database, build the Sync stage."""

from __future__ import annotations

from ..server.datatree import DataTree
from ..server.zkdatabase import ZKDatabase


def open_storage(cfg, reactor):
    """Return ``(storage, db, sync_factory)`` for ``cfg``.

    Until the txn log lands this keeps txns in memory only (ImmediateSync): ``storage`` is
    None and ``sync_factory`` None.
    """
    db = ZKDatabase(DataTree(extended_types=cfg.extended_types_enabled))
    return None, db, None
