"""Four-letter words on the client port (ruok, srvr, stat, mntr, ...), as ZooKeeper 3.8 answers them.

The first four bytes of a new connection, read as a big-endian int, may name a command
(FourLetterCommands).  A known command not in ``4lw.commands.whitelist`` is answered with
3.8's refusal sentence; ``srvr`` is always allowed (zkServer.sh needs it) and ``*`` allows
every known word.  Unknown 4-byte prefixes are not words: they are frame lengths.

Each word is one function ``(words, cnxn) -> str`` in :data:`WORDS`.  What a word reports is
gathered by :mod:`zk_twisted.admin.commands` (the same gatherers answer the AdminServer's
JSON); a word only prints it as 3.8's text, line by line (``println`` is ``\\n``), so the
words are testable without sockets.  :meth:`FourLetterWords.run` is the only part that
touches the transport.  Values are this server's own, measured honestly (see
:func:`~zk_twisted.admin.monitor.monitor_values`).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Iterator

from ..admin import commands as gather
from ..admin.commands import ZK_NOT_SERVING
from ..admin.monitor import (  # the mntr tables, importable from here as before the split
    ADVANCED_SUMMARIES,
    BASIC_SUMMARIES,
    COUNTERS,
    GAUGES,
    QUOTA_GAUGE_SETS,
    STANDALONE_ZERO,
    monitor_values,
    reset_server_stats,
)
from ..admin.procinfo import dir_size, environment, max_fd_count, open_fd_count
from ..admin.view import DEFAULT_TRACE_MASK, ServerView
from ..constants import VERSION_STRING
from ..server.zkserver import ZooKeeperServer
from ..tools.javafmt import hex_long, java_address, java_double

__all__ = [
    "COMMANDS", "KNOWN", "TELNET_CLOSE", "WORDS", "ZK_NOT_SERVING", "DEFAULT_TRACE_MASK", "FourLetterWords",
    "parse_whitelist", "dump_connection_info", "java_address", "java_date", "java_double", "java_value",
    "monitor_values", "GAUGES", "QUOTA_GAUGE_SETS", "COUNTERS", "BASIC_SUMMARIES", "ADVANCED_SUMMARIES",
    "STANDALONE_ZERO", "dir_size", "environment", "max_fd_count", "open_fd_count", "hex_long",
]  # fmt: skip

COMMANDS = (
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "isro", "mntr", "ruok",
    "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs", "hash",
)  # fmt: skip
#: the control sequence telnet sends on close: a known "command" that does nothing
TELNET_CLOSE = "telnet close"
_TELNET_CLOSE_CODE = struct.unpack(">i", bytes.fromhex("fff4fffd"))[0]
_CODES = {struct.unpack(">i", c.encode())[0]: c for c in COMMANDS}
_CODES[_TELNET_CLOSE_CODE] = TELNET_CLOSE
KNOWN = frozenset(_CODES.values())

#: NIOServerCnxnFactory's zookeeper.nio.sessionlessCnxnTimeout: the bucket width of 'dump'
SESSIONLESS_CNXN_TIMEOUT_MS = 10000


# ---------------------------------------------------------------------- whitelist
def parse_whitelist(spec: str | Iterable[str] | None) -> frozenset[str]:
    """FourLetterCommands.isEnabled: comma list, trimmed; ``*`` = all; srvr always on."""
    if isinstance(spec, str):
        items: Iterable[str] = spec.split(",")
    else:
        items = spec or ()
    names: set[str] = set()
    for item in items:
        item = item.strip()
        if item == "*":
            names |= KNOWN
        elif item:
            names.add(item)
    names.add("srvr")
    return frozenset(names)


# ---------------------------------------------------------------------- Java-style formatting
def java_value(v: object) -> str:
    """MonitorCommand.print: integers as integers, other numbers as doubles, else str()."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return java_double(v)
    return "null" if v is None else str(v)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def java_date(ms: int) -> str:
    """Date.toString in the local zone: ``Mon Nov 23 00:32:33 UTC 2026`` (English, any locale)."""
    t = time.localtime(ms / 1000.0)
    zone = t.tm_zone or time.strftime("%Z", t)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {zone} {t.tm_year}"
    )


# ---------------------------------------------------------------------- the words' state
class FourLetterWords(ServerView):
    """The word table bound to one server's view; ``context`` is the service (config, storage).

    A ServerView itself, so the AdminServer can share it: the trace mask and what ``srst``
    reset are one state for both surfaces, as 3.8 keeps them in globals.
    """

    def __init__(
        self, zks: ZooKeeperServer, whitelist: str | Iterable[str] | None = None, context=None
    ) -> None:
        super().__init__(zks, context)
        self.whitelist = parse_whitelist(whitelist)

    def is_command(self, n: int) -> bool:
        return n in _CODES

    def enabled(self, cmd: str) -> bool:
        return cmd in self.whitelist

    def answer(self, cmd: str, cnxn=None, extra: bytes = b"") -> str | None:
        """The text ``cmd`` answers (None: close without a word, as 3.8 does)."""
        if not self.enabled(cmd):
            return f"{cmd} is not executed because it is not in the whitelist.\n"
        if cmd == "stmk":
            return _stmk(self, extra)
        word = WORDS.get(cmd)
        if word is None:  # telnet close: 3.8 then reads it as a bad length and closes
            return None
        return word(self, cnxn)

    def run(self, cnxn, n: int, data: bytes | None = None) -> None:
        """Answer the word ``n`` on ``cnxn`` and close it (the shell has stopped reading)."""
        cmd = _CODES[n]
        # 3.8 counts the four bytes as a packet received, on the connection and the server
        cnxn.packets_received = getattr(cnxn, "packets_received", 0) + 1
        if self.zks is not None:
            self.zks.stats.packets_received += 1
        cnxn.four_letter_word = cmd
        if data is None:  # what followed the word in the same read (stmk's 8-byte mask)
            buf = getattr(cnxn, "_buf", b"")
            data = bytes(buf[4:12])
        text = self.answer(cmd, cnxn, data)
        transport = cnxn.transport
        if text:
            transport.write(text.encode("utf-8"))
        transport.loseConnection()


# ---------------------------------------------------------------------- connection lines
def dump_connection_info(cnxn, brief: bool) -> str:
    """ServerCnxn.dumpConnectionInfo, one line without its newline."""
    i = gather.connection_info(cnxn, brief)
    parts = [
        f" /{i['remote_socket_address']}[{i['interest_ops']:x}]",
        f"(queued={i['outstanding_requests']},recved={i['packets_received']},sent={i['packets_sent']}",
    ]
    if not brief and i["session_id"]:
        parts.append(
            f",sid=0x{hex_long(i['session_id'])},lop={i['last_operation']},est={i['established']}"
            f",to={i['session_timeout']}"
        )
        if i["last_cxid"] >= 0:
            parts.append(f",lcxid=0x{hex_long(i['last_cxid'])}")
        parts.append(
            f",lzxid=0x{hex_long(i['last_zxid'])},lresp={i['last_response_time']},llat={i['last_latency']}"
            f",minlat={i['min_latency']},avglat={i['avg_latency']},maxlat={i['max_latency']}"
        )
    parts.append(")")
    return "".join(parts)


def _expiry_dump(label: str, buckets: dict[int, list[str]], to_wall: int = 0) -> Iterator[str]:
    """ExpiryQueue.dump: 'Sets (buckets)/(elements):' then each bucket by time; bucket times
    are on the monotonic clock, ``to_wall`` turns them into dates (Time.elapsedTimeToDate)."""
    total = sum(len(v) for v in buckets.values())
    yield f"{label}Sets ({len(buckets)})/({total}):\n"
    for t in sorted(buckets):
        elems = buckets[t]
        yield f"{len(elems)} expire at {java_date(t + to_wall)}:\n"
        for e in elems:
            yield f"\t{e}\n"


# ---------------------------------------------------------------------- the words
def _not_serving(word: Callable[[FourLetterWords, object], str]) -> Callable[[FourLetterWords, object], str]:
    """Words that need a running server print 3.8's 'not currently serving' line otherwise."""

    def guarded(w: FourLetterWords, cnxn) -> str:
        if not w.running:
            return ZK_NOT_SERVING + "\n"
        return word(w, cnxn)

    guarded.__name__ = word.__name__
    guarded.__doc__ = word.__doc__
    return guarded


def _ruok(w: FourLetterWords, cnxn) -> str:
    """'imok' (no newline), even while the server is not serving, as 3.8."""
    return "imok"


def _isro(w: FourLetterWords, cnxn) -> str:
    if not w.running:
        return "null"
    return "ro" if gather.is_read_only(w) else "rw"


def _gtmk(w: FourLetterWords, cnxn) -> str:
    return str(w.trace_mask)


def _stmk(w: FourLetterWords, extra: bytes) -> str | None:
    """Set the trace mask from the 8 bytes after the word; 3.8 drops the connection without them."""
    if len(extra) < 8:
        return None
    w.trace_mask = struct.unpack(">q", extra[:8])[0]
    return str(w.trace_mask)


def _hash(w: FourLetterWords, cnxn) -> str:
    """DigestCommand: 'zxid-hex: digest' for every 128th zxid kept (no newline when down)."""
    if not w.running:
        return ZK_NOT_SERVING
    return "".join(f"{hex_long(d['zxid'])}: {d['digest']}\n" for d in gather.digest_log(w))


def _server_stats(w: FourLetterWords) -> str:
    """ServerStats.toString plus the node count (what srvr and stat end with)."""
    s = gather.server_stats(w)
    return (
        f"Latency min/avg/max: {s['min_latency']}/{java_double(s['avg_latency'])}/{s['max_latency']}\n"
        f"Received: {s['packets_received']}\n"
        f"Sent: {s['packets_sent']}\n"
        f"Connections: {s['num_alive_client_connections']}\n"
        f"Outstanding: {s['outstanding_requests']}\n"
        f"Zxid: 0x{hex_long(s['last_processed_zxid'])}\n"
        f"Mode: {s['server_state']}\n"
        f"Node count: {len(w.zks.db.tree.nodes)}\n"
    )


def _version_lines(w: FourLetterWords) -> str:
    text = f"Zookeeper version: {VERSION_STRING}\n"
    if gather.is_read_only(w):
        text += "READ-ONLY mode; serving only read-only clients\n"
    return text


@_not_serving
def _srvr(w: FourLetterWords, cnxn) -> str:
    return _version_lines(w) + _server_stats(w)


@_not_serving
def _stat(w: FourLetterWords, cnxn) -> str:
    lines = [_version_lines(w), "Clients:\n"]
    lines.extend(dump_connection_info(c, True) + "\n" for c in w.cnxns())
    lines.append("\n")
    lines.append(_server_stats(w))
    return "".join(lines)


@_not_serving
def _cons(w: FourLetterWords, cnxn) -> str:
    return "".join(dump_connection_info(c, False) + "\n" for c in w.cnxns()) + "\n"


@_not_serving
def _crst(w: FourLetterWords, cnxn) -> str:
    gather.reset_connection_stats(w)
    return "Connection stats reset.\n"


@_not_serving
def _srst(w: FourLetterWords, cnxn) -> str:
    reset_server_stats(w)
    return "Server stats reset.\n"


@_not_serving
def _conf(w: FourLetterWords, cnxn) -> str:
    """ZooKeeperServer.dumpConf (standalone)."""
    c = gather.server_conf(w)
    dirs = gather.dir_sizes(w)
    secure = w.cfg("secure_client_port", "secureClientPort")
    lines = [
        ("clientPort", c["client_port"]),
        ("secureClientPort", secure if secure else -1),
        ("dataDir", c["data_dir"]),
        ("dataDirSize", dirs["datadir_size"]),
        ("dataLogDir", c["data_log_dir"]),
        ("dataLogSize", dirs["logdir_size"]),
        ("tickTime", c["tick_time"]),
        ("maxClientCnxns", c["max_client_cnxns"]),
        ("minSessionTimeout", c["min_session_timeout"]),
        ("maxSessionTimeout", c["max_session_timeout"]),
        ("clientPortListenBacklog", c["client_port_listen_backlog"]),
        ("serverId", c["server_id"]),
    ]
    return "".join(f"{k}={v}\n" for k, v in lines)


@_not_serving
def _dirs(w: FourLetterWords, cnxn) -> str:
    d = gather.dir_sizes(w)
    return f"datadir_size: {d['datadir_size']}\nlogdir_size: {d['logdir_size']}\n"


@_not_serving
def _dump(w: FourLetterWords, cnxn) -> str:
    """Sessions by expiry bucket, ephemerals by session, connections by expiry bucket."""
    zks = w.zks
    out = ["SessionTracker dump:\n"]
    sessions = {t: [f"0x{hex_long(s)}" for s in sids] for t, sids in gather.session_expiry_map(w).items()}
    to_wall = zks.wall_time() - zks.now_ms()
    out.extend(_expiry_dump("Session ", sessions, to_wall))
    out.append("ephemeral nodes dump:\n")
    eph = gather.ephemerals(w)
    out.append(f"Sessions with Ephemerals ({len(eph)}):\n")
    for sid, paths in eph.items():
        out.append(f"0x{hex_long(sid)}:\n")
        out.extend(f"\t{p}\n" for p in paths)
    out.append("Connections dump:\n")
    queue = zks.sessions.queue
    conns: dict[int, list[str]] = {}
    for c in w.cnxns():
        s = zks.sessions.sessions.get(c.session_id) if c.session_id else None
        t = queue.elem_expiry.get(s) if s is not None else None
        if t is None:  # no session yet: the sessionless-connection timeout bucket
            step = SESSIONLESS_CNXN_TIMEOUT_MS
            est = c.established - to_wall  # on the expiry clock
            t = (est + step) // step * step + step
        conns.setdefault(t, []).append(
            f"ip: {java_address(c.remote_ip, c.remote_port)} sessionId: 0x{hex_long(c.session_id)}"
        )
    out.extend(_expiry_dump("Connections ", conns, to_wall))
    return "".join(out)


@_not_serving
def _wchs(w: FourLetterWords, cnxn) -> str:
    """WatchManager.toString of the data watches."""
    s = gather.watch_summary(w)
    return (
        f"{s['num_connections']} connections watching {s['num_paths']} paths\n"
        f"Total watches:{s['num_total_watches']}\n"
    )


@_not_serving
def _wchc(w: FourLetterWords, cnxn) -> str:
    """Data watches by connection: session id, then its paths."""
    out = []
    for sid, paths in gather.watches(w).items():
        out.append(f"0x{hex_long(sid)}\n")
        out.extend(f"\t{p}\n" for p in paths)
    return "".join(out) + "\n"


@_not_serving
def _wchp(w: FourLetterWords, cnxn) -> str:
    """Data watches by path: path, then the watching sessions."""
    out = []
    for path, sids in gather.watches_by_path(w).items():
        out.append(path + "\n")
        out.extend(f"\t0x{hex_long(sid)}\n" for sid in sids)
    return "".join(out) + "\n"


def _envi(w: FourLetterWords, cnxn) -> str:
    return "Environment:\n" + "".join(f"{k}={v}\n" for k, v in environment(w.host_name()))


@_not_serving
def _mntr(w: FourLetterWords, cnxn) -> str:
    return "".join(f"zk_{k}\t{java_value(v)}\n" for k, v in monitor_values(w))


WORDS: dict[str, Callable[[FourLetterWords, object], str | None]] = {
    "ruok": _ruok,
    "isro": _isro,
    "gtmk": _gtmk,
    "hash": _hash,
    "srvr": _srvr,
    "stat": _stat,
    "cons": _cons,
    "crst": _crst,
    "srst": _srst,
    "conf": _conf,
    "dirs": _dirs,
    "dump": _dump,
    "wchs": _wchs,
    "wchc": _wchc,
    "wchp": _wchp,
    "envi": _envi,
    "mntr": _mntr,
}
