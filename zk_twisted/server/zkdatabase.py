"""ZKDatabase: the DataTree plus the sessions that own ephemerals, changed only by txns."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from ..constants import Op
from .datatree import DIGEST_VERSION, DataTree, ProcessTxnResult

log = logging.getLogger(__name__)

#: DataTree.DIGEST_LOG_INTERVAL / DIGEST_LOG_LIMIT: every 128th zxid's digest, the last 1024
DIGEST_LOG_INTERVAL = 128
DIGEST_LOG_LIMIT = 1024


@dataclass
class ZKDatabase:
    tree: DataTree = field(default_factory=DataTree)
    #: session id -> timeout (ms), as restored from snapshot + log and kept by createSession/closeSession
    sessions_with_timeouts: dict[int, int] = field(default_factory=dict)
    digest_mismatches: int = 0
    #: (zxid, tree digest) after each txn whose zxid is a multiple of 128: what 'hash' prints
    digest_log: deque = field(default_factory=lambda: deque(maxlen=DIGEST_LOG_LIMIT))
    #: txns up to this zxid replay onto a fuzzy snapshot (written while the tree changed):
    #: the tree may already hold their effects, so their digests are not compared.  Nothing
    #: is missed for it: the digest is a sum over the nodes, so a divergence still shows at
    #: the first check after the bound.
    fuzzy_until: int = 0
    #: (zxid, digest) the last applied txn carried, not yet compared with the tree's
    _expected: tuple[int, int] | None = None

    @property
    def last_processed_zxid(self) -> int:
        return self.tree.last_processed_zxid

    def process_txn(self, hdr, txn, digest=None) -> ProcessTxnResult:
        """Apply one committed txn: the same code path live, on restore and on a learner.

        The digest the txn carries is checked against the tree's by :meth:`verify_digest`,
        at the latest when the next txn without one comes or at the next 128th zxid; the
        server calls it after each batch it applies, restore after its replay.  A digest is
        a sum over the nodes, so a divergence shows at any later check just as it would at
        the txn that caused it; checking per batch hashes a node changed several times in
        the batch once.
        """
        t = hdr.type
        if t == Op.createSession:
            self.sessions_with_timeouts[hdr.clientId] = txn.timeOut
        elif t == Op.closeSession:
            self.sessions_with_timeouts.pop(hdr.clientId, None)
        tree = self.tree
        if digest is not None and hdr.zxid <= self.fuzzy_until:
            digest = None
        if digest is None or digest.version != DIGEST_VERSION:
            if self._expected is not None:
                self.verify_digest()
        elif tree.digest_enabled:
            self._expected = (hdr.zxid, digest.treeDigest)
        rc = tree.process_txn(hdr, txn)
        if hdr.zxid % DIGEST_LOG_INTERVAL == 0 and tree.digest_enabled:
            self.digest_log.append((hdr.zxid, tree.digest()))
            self.verify_digest()
        return rc

    def clear(self) -> None:
        """ZKDatabase.clear: forget the contents (an ensemble member reloads them from disk
        when a role ends, so the next role starts from everything its log holds)."""
        self.tree.clear()
        self.sessions_with_timeouts.clear()
        self.digest_log.clear()
        self.fuzzy_until = 0
        self._expected = None

    def verify_digest(self) -> None:
        """Compare the tree digest with the one the last applied txn carried (ZKDatabase's
        compareDigest); a mismatch is logged and counted (digest_mismatches_count)."""
        expected = self._expected
        if expected is None:
            return
        self._expected = None
        zxid, value = expected
        tree_digest = self.tree.digest()
        if value != tree_digest:
            self.digest_mismatches += 1
            log.error(
                "Digests are not matching at zxid 0x%x: txn says %x, tree has %x",
                zxid,
                value & (2**64 - 1),
                tree_digest & (2**64 - 1),
            )
