"""ReadOnlyZooKeeperServer: what a member cut off from its quorum serves (readonlymode.enabled).

Only clients that asked for a read-only session (the ConnectRequest's readOnly flag) are
let in; they read the member's database as it was when the quorum went away.  Every write
and ``sync`` is answered NOTREADONLY, and nothing is logged or applied: sessions live in
this server alone (3.8 gives them no txn either), so the database and the member's vote
are exactly what they were, and the member rejoins the quorum as it left it.
"""

from __future__ import annotations

import logging

from ..constants import Code, Op
from ..jute import records as R
from ..server.final import reply_frame
from ..server.request import TXN_TYPES, Request
from ..server.zkserver import CloseConnection, ZooKeeperServer

log = logging.getLogger(__name__)


class ReadOnlyZooKeeperServer(ZooKeeperServer):
    read_only = True

    def process_connect(self, cnxn, payload: bytes) -> None:
        """Refuse clients that did not ask for read-only (as 3.8's ReadOnlyZooKeeperServer)."""
        _, end = R.ConnectRequest._read(payload, 0)  # the readOnly flag follows the record
        if payload[end : end + 1] != b"\x01":
            raise CloseConnection("Refusing session request for not-read-only client")
        super().process_connect(cnxn, payload)

    def submit(self, req: Request) -> None:
        t = req.type
        if t == Op.createSession:
            # a session of this server alone: no txn, no log
            self.finish_session_init(req.cnxn, True)
            return
        if t == Op.closeSession:
            self.sessions.remove(req.session_id)
            if req.cnxn is not None:
                self.send(req.cnxn, reply_frame(req.cxid, self.db.last_processed_zxid, 0), req)
                req.cnxn.close_after_flush()
            return
        if t in TXN_TYPES or t == Op.sync:
            # ReadOnlyRequestProcessor
            self.send(req.cnxn, reply_frame(req.cxid, self.db.last_processed_zxid, Code.NOTREADONLY), req)
            return
        self.final.process(req)

    def expire_sessions(self) -> float:
        """Expired read-only sessions are just forgotten (and their connections closed)."""
        now = self.now_ms()
        for s in self.sessions.expire_due(now):
            self.sessions.remove(s.session_id)
            cnxn = self.session_cnxn.pop(s.session_id, None)
            if cnxn is not None:
                cnxn.close_after_flush()
        return self.sessions.next_expiry(self.now_ms()) / 1000.0
