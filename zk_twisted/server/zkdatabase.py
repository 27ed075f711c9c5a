"""ZKDatabase: the DataTree plus the sessions that own ephemerals, changed only by txns."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from ..constants import OpCode
from .datatree import DIGEST_VERSION, DataTree, ProcessTxnResult

log = logging.getLogger(__name__)

#: DataTree.DIGEST_LOG_INTERVAL / DIGEST_LOG_LIMIT: every 128th zxid's digest, the last 1024
DIGEST_LOG_INTERVAL = 128
DIGEST_LOG_LIMIT = 1024
_U64 = (1 << 64) - 1
_CREATE_SESSION = OpCode.createSession.value
_CLOSE_SESSION = OpCode.closeSession.value


@dataclass
class ZKDatabase:
    tree: DataTree = field(default_factory=DataTree)
    #: session id -> timeout (ms), as restored from snapshot + log and kept by createSession/closeSession
    sessions_with_timeouts: dict[int, int] = field(default_factory=dict)
    digest_mismatches: int = 0
    #: (zxid, tree digest) after each txn whose zxid is a multiple of 128: what 'hash' prints
    digest_log: deque = field(default_factory=lambda: deque(maxlen=DIGEST_LOG_LIMIT))

    @property
    def last_processed_zxid(self) -> int:
        return self.tree.last_processed_zxid

    def process_txn(self, hdr, txn, digest=None) -> ProcessTxnResult:
        """Apply one committed txn: the same code path live, on restore and on a learner."""
        t = hdr.type
        if t == _CREATE_SESSION:
            self.sessions_with_timeouts[hdr.clientId] = txn.timeOut
        elif t == _CLOSE_SESSION:
            self.sessions_with_timeouts.pop(hdr.clientId, None)
        tree = self.tree
        rc = tree.process_txn(hdr, txn)
        if hdr.zxid % DIGEST_LOG_INTERVAL == 0 and tree.digest_enabled:
            self.digest_log.append((hdr.zxid, tree.digest()))
        if digest is not None and digest.version == DIGEST_VERSION and tree.digest_enabled:
            if digest.treeDigest & _U64 != tree.tree_digest:
                self.digest_mismatches += 1
                log.error(
                    "Digests are not matching at zxid 0x%x: txn says %x, tree has %x",
                    hdr.zxid,
                    digest.treeDigest & (2**64 - 1),
                    self.tree.digest() & (2**64 - 1),
                )
        return rc
