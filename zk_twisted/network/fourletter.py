"""Four-letter words on the client port (ruok, srvr, stat, ...), with 3.8's whitelist.

The first four bytes of a connection, read as a big-endian int, name the command.  A
command not in ``4lw.commands.whitelist`` is answered with 3.8's refusal sentence.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from ..server.zkserver import ZooKeeperServer

COMMANDS = (
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "isro", "mntr", "ruok",
    "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs", "hash",
)  # fmt: skip
_CODES = {struct.unpack(">i", c.encode())[0]: c for c in COMMANDS}


class FourLetterWords:
    def __init__(self, zks: ZooKeeperServer, whitelist: frozenset[str] | None = None, context=None) -> None:
        self.zks = zks
        self.whitelist = whitelist if whitelist is not None else frozenset(("srvr",))
        self.context = context
        self.handlers: dict[str, Callable[[], str]] = {"ruok": lambda: "imok"}

    def is_command(self, n: int) -> bool:
        return n in _CODES

    def enabled(self, cmd: str) -> bool:
        return "*" in self.whitelist or cmd in self.whitelist

    def run(self, cnxn, n: int) -> None:
        cmd = _CODES[n]
        if not self.enabled(cmd):
            text = f"{cmd} is not executed because it is not in the whitelist.\n"
        else:
            handler = self.handlers.get(cmd)
            text = handler() if handler is not None else ""
        cnxn.transport.write(text.encode("utf-8"))
        cnxn.transport.loseConnection()
