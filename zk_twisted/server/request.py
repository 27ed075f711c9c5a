"""Request: one client (or internal) request on its way through the processor chain."""

from __future__ import annotations

from ..constants import KeeperError, OpCode

#: opcodes that become txns (PrepRequestProcessor gives them a zxid, even when they fail)
TXN_TYPES = frozenset(
    (
        OpCode.create, OpCode.create2, OpCode.createTTL, OpCode.createContainer,
        OpCode.delete, OpCode.deleteContainer, OpCode.setData, OpCode.reconfig,
        OpCode.setACL, OpCode.check, OpCode.multi, OpCode.createSession, OpCode.closeSession,
    )
)  # fmt: skip

#: Request.isValid in 3.8: anything else is answered UNIMPLEMENTED
VALID_TYPES = TXN_TYPES | frozenset(
    (
        OpCode.exists, OpCode.getACL, OpCode.getChildren, OpCode.getAllChildrenNumber,
        OpCode.getChildren2, OpCode.getData, OpCode.getEphemerals, OpCode.multiRead,
        OpCode.ping, OpCode.setWatches, OpCode.setWatches2, OpCode.sync,
        OpCode.checkWatches, OpCode.removeWatches, OpCode.addWatch, OpCode.whoAmI,
    )
)  # fmt: skip


class Request:
    """What Java's Request carries: who asked, the raw body, and what Prep made of it."""

    __slots__ = (
        "cnxn", "session_id", "cxid", "type", "payload", "auth_ids",
        "hdr", "txn", "digest", "error", "zxid", "start", "response_sent", "txn_bytes",
    )  # fmt: skip

    def __init__(self, cnxn, session_id: int, cxid: int, type_: int, payload: bytes, auth_ids, start: int = 0):
        self.cnxn = cnxn
        self.session_id = session_id
        self.cxid = cxid
        self.type = type_
        self.payload = payload
        self.auth_ids = auth_ids
        self.hdr = None
        self.txn = None
        self.digest = None
        self.error: KeeperError | None = None
        self.zxid = 0
        self.start = start
        self.response_sent = False
        #: hdr + txn + digest as Util.marshallTxnEntry writes them, once made (the PROPOSAL's
        #: data): the log writes these bytes rather than encoding the txn again
        self.txn_bytes: bytes | None = None

    @property
    def is_txn(self) -> bool:
        return self.hdr is not None

    def __repr__(self) -> str:
        try:
            name = OpCode(self.type).name
        except ValueError:
            name = str(self.type)
        return f"<Request sid:0x{self.session_id & (2**64 - 1):x} cxid:{self.cxid} {name} zxid:0x{self.zxid:x}>"
