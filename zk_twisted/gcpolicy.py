"""The server's garbage-collector policy: collect cycles rarely, never rescan the restored tree.

A write allocates a dozen GC-tracked objects (the request, its records, change records,
the new DataNode).  At CPython's default threshold of 700 that is a young collection every
~60 writes and a full one each time the tree grows by a quarter; measured on the create
path that was a fifth of the reactor's time.  The tree itself holds no reference cycles
(nodes are freed by reference counting when deleted), so scanning it finds nothing:
freezing what the restore built and collecting the young generation every 50,000
allocations loses nothing and gives the time back to requests.
"""

from __future__ import annotations

import gc

#: young-generation allocations between collections; middle and old as CPython counts them
THRESHOLDS = (50_000, 20, 100)


def apply_server_gc_policy() -> None:
    """Before the restore: collect every 50,000 allocations (a restore allocates a node per
    znode; at the default threshold a 1M-node restore spends a tenth of its time in GC)."""
    gc.set_threshold(*THRESHOLDS)


def freeze_restored_heap() -> None:
    """After the restore, before serving: the restored tree is never scanned again.

    No collection first: the restore makes no cycles to speak of, and a full collection
    over a million-node tree would add a visible pause to start-up.
    """
    gc.freeze()
