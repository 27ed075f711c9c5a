"""Four-letter words on the client port (ruok, srvr, stat, mntr, ...), as ZooKeeper 3.8 answers them.

The first four bytes of a new connection, read as a big-endian int, may name a command
(FourLetterCommands).  A known command not in ``4lw.commands.whitelist`` is answered with
3.8's refusal sentence; ``srvr`` is always allowed (zkServer.sh needs it) and ``*`` allows
every known word.  Unknown 4-byte prefixes are not words: they are frame lengths.

Each word is one function ``(words, cnxn) -> str`` in :data:`WORDS`; they only read the
server's state and format it, so they are testable without sockets.  :meth:`run` is the
only part that touches the transport.  Output follows 3.8 line by line (``println`` is
``\\n``); values are this server's own, measured honestly (see :func:`monitor_values`).
"""

from __future__ import annotations

import ctypes
import ipaddress
import math
import os
import platform
import socket
import struct
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal

from ..constants import VERSION_STRING
from ..server.metrics import Summary, round_avg
from ..server.zkserver import ZooKeeperServer

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

ZK_NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
#: ZooTrace's default text trace mask (what 'gtmk' prints until 'stmk' changes it)
DEFAULT_TRACE_MASK = 306
#: NIOServerCnxnFactory's zookeeper.nio.sessionlessCnxnTimeout: the bucket width of 'dump'
SESSIONLESS_CNXN_TIMEOUT_MS = 10000

_U64 = (1 << 64) - 1


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
def hex_long(v: int) -> str:
    """Long.toHexString: two's complement for negatives (-1 -> ffffffffffffffff)."""
    return format(v & _U64, "x")


def java_double(x: float) -> str:
    """Double.toString: plain between 1e-3 and 1e7, else d.dddE[-]n."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        text = repr(float(x))
        if "e" not in text:
            return text if "." in text else text + ".0"
    sign, digits, exp = Decimal(repr(float(x))).normalize().as_tuple()
    ds = "".join(map(str, digits))
    e10 = len(ds) + int(exp) - 1
    mantissa = ds[0] + "." + (ds[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{e10}"


def java_value(v: object) -> str:
    """MonitorCommand.print: integers as integers, other numbers as doubles, else str()."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return java_double(v)
    return "null" if v is None else str(v)


def java_address(ip: str, port: int) -> str:
    """InetSocketAddress.toString of a connected socket: ``/1.2.3.4:5`` or ``/[0:0:...:1]:5``."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return f"{ip}/<unresolved>:{port}"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return f"/{addr}:{port}"
    groups = ":".join(format(int(g, 16), "x") for g in addr.exploded.split(":"))
    return f"/[{groups}]:{port}"


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


def dir_size(path: str | os.PathLike | None) -> int:
    """ZooKeeperServer.getDirSize: the bytes of every file below ``path`` (0 if missing)."""
    if not path:
        return 0
    try:
        st = os.stat(path)
    except OSError:
        return 0
    if not os.path.isdir(path):
        return st.st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


# ---------------------------------------------------------------------- process facts (envi, mntr)
def _host_name() -> str:
    """InetAddress.getLocalHost().getCanonicalHostName(), or <NA>."""
    try:
        return socket.getfqdn(socket.gethostname()) or "<NA>"
    except OSError:
        return "<NA>"


def _os_arch() -> str:
    """os.arch uses the JVM's names (amd64, x86, aarch64, ...)."""
    m = platform.machine()
    return {"x86_64": "amd64", "AMD64": "amd64", "i386": "x86", "i686": "x86", "arm64": "aarch64"}.get(
        m, m or "<NA>"
    )


def _user() -> tuple[str, str]:
    try:
        import pwd

        pw = pwd.getpwuid(os.getuid())
        return pw.pw_name, pw.pw_dir
    except (ImportError, KeyError, AttributeError):
        return os.environ.get("USER", "<NA>"), os.path.expanduser("~")


def _library_path() -> str:
    """Where this runtime loads native code from: LD_LIBRARY_PATH, then lib-dynload."""
    parts = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    for var in ("DESTSHARED", "LIBDIR"):
        d = sysconfig.get_config_var(var)
        if d and d not in parts:
            parts.append(d)
    return os.pathsep.join(parts) or "<NA>"


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _memory_ceiling() -> int:
    """The most memory this process may use: address-space limit, cgroup limit, RAM."""
    limits: list[int] = []
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft not in (resource.RLIM_INFINITY, -1):
            limits.append(soft)
    except (ImportError, OSError, ValueError):
        pass
    for cg in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(cg) as f:
                v = f.read().strip()
            if v.isdigit() and int(v) < 1 << 60:
                limits.append(int(v))
        except OSError:
            pass
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        pass
    return min(limits) if limits else 0


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
    )]  # fmt: skip


def _malloc_free_bytes() -> int:
    """Bytes malloc holds free inside the process (glibc mallinfo2); 0 where unknown."""
    try:
        libc = ctypes.CDLL(None)
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return 0
    fn.restype = _MallInfo2
    return int(fn().fordblks)


def open_fd_count() -> int:
    """OSMXBean.getOpenFileDescriptorCount (-1 where /proc is missing)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # minus the fd listdir itself used
    except OSError:
        return -1


def max_fd_count() -> int:
    """OSMXBean.getMaxFileDescriptorCount: the soft RLIMIT_NOFILE."""
    try:
        import resource

        return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    except (ImportError, OSError, ValueError):
        return -1


def environment(host_name: str) -> list[tuple[str, str]]:
    """Environment.list with 3.8's keys; java.* describe the Python runtime that serves."""
    mb = 1024 * 1024
    user, home = _user()
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "<NA>"
    return [
        ("zookeeper.version", VERSION_STRING),
        ("host.name", host_name),
        ("java.version", platform.python_version()),
        ("java.vendor", platform.python_implementation()),
        ("java.home", sys.prefix),
        ("java.class.path", os.pathsep.join(dict.fromkeys(p for p in sys.path if p)) or "<NA>"),
        ("java.library.path", _library_path()),
        ("java.io.tmpdir", tempfile.gettempdir()),
        ("java.compiler", "<NA>"),
        ("os.name", platform.system() or "<NA>"),
        ("os.arch", _os_arch()),
        ("os.version", platform.release() or "<NA>"),
        ("user.name", user),
        ("user.home", home),
        ("user.dir", cwd),
        # Runtime.freeMemory/maxMemory/totalMemory: free inside what the process holds,
        # the ceiling it may grow to, what it holds now (resident)
        ("os.memory.free", f"{_malloc_free_bytes() // mb}MB"),
        ("os.memory.max", f"{_memory_ceiling() // mb}MB"),
        ("os.memory.total", f"{_rss_bytes() // mb}MB"),
    ]


# ---------------------------------------------------------------------- the words' state
class FourLetterWords:
    """The word table bound to one server; ``context`` is the service (config, storage)."""

    def __init__(
        self, zks: ZooKeeperServer, whitelist: str | Iterable[str] | None = None, context=None
    ) -> None:
        self.zks = zks
        self.whitelist = parse_whitelist(whitelist)
        self.context = context
        self.trace_mask = DEFAULT_TRACE_MASK
        # the canonical host name needs DNS, which may block: look it up off the reactor thread
        self._host_name = socket.gethostname() or "<NA>"
        threading.Thread(target=self._lookup_host_name, name="zk-4lw-hostname", daemon=True).start()
        self._created_ms = zks.wall_time() if zks is not None else int(time.time() * 1000)
        #: counters we read from elsewhere, as they were at the last 'srst' (3.8 resets its metrics)
        self._baseline: dict[str, int] = {}

    # -- dispatch
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

    # -- helpers the words share
    @property
    def running(self) -> bool:
        return self.zks is not None and getattr(self.zks, "running", True)

    @property
    def config(self):
        return getattr(self.context, "config", None)

    def server_state(self) -> str:
        """ServerStats.getServerState: standalone here; a quorum peer's context says more."""
        return getattr(self.context, "server_state", None) or "standalone"

    def _lookup_host_name(self) -> None:
        self._host_name = _host_name()

    def host_name(self) -> str:
        return self._host_name

    def uptime_ms(self) -> int:
        started = getattr(self.context, "started_at", 0) or 0
        start_ms = int(started * 1000) if started else self._created_ms
        return max(0, self.zks.wall_time() - start_ms)

    def cnxns(self) -> list:
        """The connections, oldest first (3.8 prints its hash-set order)."""
        return sorted(self.zks.cnxns, key=lambda c: (c.established, c.remote_port, id(c)))

    def cfg(self, *names: str, default=None):
        cfg = self.config
        for n in names:
            v = getattr(cfg, n, None)
            if v is not None:
                return v
        return default

    def snap_dir(self) -> str | None:
        """FileTxnSnapLog's snapDir: <dataDir>/version-2."""
        d = self.cfg("data_dir", "dataDir")
        return os.path.abspath(os.path.join(str(d), "version-2")) if d else None

    def log_dir(self) -> str | None:
        """FileTxnSnapLog's dataDir: <dataLogDir or dataDir>/version-2."""
        d = self.cfg("data_log_dir", "dataLogDir", "data_dir", "dataDir")
        return os.path.abspath(os.path.join(str(d), "version-2")) if d else None

    def client_port(self) -> int:
        port = getattr(self.context, "port", None)
        try:
            return int(port.getHost().port)
        except AttributeError:
            return int(self.cfg("client_port", "clientPort", default=-1))

    def metric_sources(self) -> list:
        """Objects that may carry storage metrics: the sync stage, the storage."""
        out = []
        for src in (getattr(self.zks, "sync", None), getattr(self.context, "storage", None)):
            if src is not None and src not in out:
                out.append(src)
                inner = getattr(src, "sync", None)
                if inner is not None and inner not in out:
                    out.append(inner)
        return out

    def counter(self, key: str, value: int | float) -> int | float:
        """``value`` minus what it was at the last 'srst'."""
        return value - self._baseline.get(key, 0)


# ---------------------------------------------------------------------- connection lines
def interest_ops(cnxn) -> int:
    """NIOServerCnxn.getInterestOps: 0 once a word took over or reading is paused, else OP_READ."""
    if (
        getattr(cnxn, "four_letter_word", None)
        or getattr(cnxn, "_paused", False)
        or getattr(cnxn, "throttled", False)
    ):
        return 0
    return 1


def connection_info(cnxn, brief: bool) -> str:
    """ServerCnxn.dumpConnectionInfo, one line without its newline."""
    ops = interest_ops(cnxn)
    parts = [
        f" {java_address(cnxn.remote_ip, cnxn.remote_port)}[{ops:x}]",
        f"(queued={cnxn.outstanding},recved={cnxn.packets_received},sent={cnxn.packets_sent}",
    ]
    sid = cnxn.session_id
    if not brief and sid:
        count = cnxn.count
        avg = cnxn.total_latency // count if count else 0
        min_lat = cnxn.min_latency if cnxn.min_latency >= 0 else 0
        parts.append(
            f",sid=0x{hex_long(sid)},lop={cnxn.last_op},est={cnxn.established},to={cnxn.session_timeout}"
        )
        if cnxn.last_cxid >= 0:
            parts.append(f",lcxid=0x{hex_long(cnxn.last_cxid)}")
        parts.append(
            f",lzxid=0x{hex_long(cnxn.last_zxid)},lresp={_elapsed_time(cnxn)},llat={cnxn.last_latency}"
            f",minlat={min_lat},avglat={avg},maxlat={cnxn.max_latency}"
        )
    parts.append(")")
    return "".join(parts)


def _elapsed_time(cnxn) -> int:
    """3.8 keeps lresp on its monotonic clock (Time.currentElapsedTime); so do we."""
    last = cnxn.last_response_time
    if not last:
        return 0
    zks = getattr(cnxn, "zks", None)
    now = zks.now_ms() if zks is not None else int(time.time() * 1000)
    return max(0, int(time.monotonic() * 1000) - (now - last))


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
    return "ro" if getattr(w.zks, "read_only", False) else "rw"


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
    log = getattr(w.zks.db, "digest_log", ())
    return "".join(f"{hex_long(zxid)}: {digest}\n" for zxid, digest in log)


def _server_stats(w: FourLetterWords) -> str:
    """ServerStats.toString plus the node count (what srvr and stat end with)."""
    zks = w.zks
    s = zks.stats
    min_lat = s.min_latency if s.min_latency >= 0 else 0
    avg = java_double(round_avg(s.total_latency, s.count))
    return (
        f"Latency min/avg/max: {min_lat}/{avg}/{s.max_latency}\n"
        f"Received: {s.packets_received}\n"
        f"Sent: {s.packets_sent}\n"
        f"Connections: {len(zks.cnxns)}\n"
        f"Outstanding: {zks.outstanding_requests}\n"
        f"Zxid: 0x{hex_long(zks.db.last_processed_zxid)}\n"
        f"Mode: {w.server_state()}\n"
        f"Node count: {len(zks.db.tree.nodes)}\n"
    )


def _version_lines(w: FourLetterWords) -> str:
    text = f"Zookeeper version: {VERSION_STRING}\n"
    if getattr(w.zks, "read_only", False):
        text += "READ-ONLY mode; serving only read-only clients\n"
    return text


@_not_serving
def _srvr(w: FourLetterWords, cnxn) -> str:
    return _version_lines(w) + _server_stats(w)


@_not_serving
def _stat(w: FourLetterWords, cnxn) -> str:
    lines = [_version_lines(w), "Clients:\n"]
    lines.extend(connection_info(c, True) + "\n" for c in w.cnxns())
    lines.append("\n")
    lines.append(_server_stats(w))
    return "".join(lines)


@_not_serving
def _cons(w: FourLetterWords, cnxn) -> str:
    return "".join(connection_info(c, False) + "\n" for c in w.cnxns()) + "\n"


@_not_serving
def _crst(w: FourLetterWords, cnxn) -> str:
    for c in list(w.zks.cnxns):
        c.reset_stats()
    return "Connection stats reset.\n"


@_not_serving
def _srst(w: FourLetterWords, cnxn) -> str:
    """ServerStats.reset: latency, packet counts, response sizes and every metric."""
    w.zks.stats.reset()
    w._baseline = dict(_raw_counters(w))
    for src in w.metric_sources():
        for value in (getattr(src, "metrics", None) or {}).values():
            if isinstance(value, Summary):
                value.reset()
    return "Server stats reset.\n"


@_not_serving
def _conf(w: FourLetterWords, cnxn) -> str:
    """ZooKeeperServer.dumpConf (standalone)."""
    snap_dir, log_dir = w.snap_dir(), w.log_dir()
    secure = w.cfg("secure_client_port", "secureClientPort")
    lines = [
        ("clientPort", w.client_port()),
        ("secureClientPort", secure if secure else -1),
        ("dataDir", snap_dir),
        ("dataDirSize", dir_size(snap_dir)),
        ("dataLogDir", log_dir),
        ("dataLogSize", dir_size(log_dir)),
        ("tickTime", w.cfg("tick_time", "tickTime", default=w.zks.settings.tick_time)),
        ("maxClientCnxns", w.cfg("max_client_cnxns", "maxClientCnxns", default=60)),
        ("minSessionTimeout", w.zks.settings.min_session_timeout),
        ("maxSessionTimeout", w.zks.settings.max_session_timeout),
        (
            "clientPortListenBacklog",
            w.cfg("client_port_listen_backlog", "clientPortListenBacklog", default=-1),
        ),
        ("serverId", 0 if w.server_state() == "standalone" else w.cfg("server_id", "myid", default=0)),
    ]
    return "".join(f"{k}={v}\n" for k, v in lines)


@_not_serving
def _dirs(w: FourLetterWords, cnxn) -> str:
    return f"datadir_size: {dir_size(w.snap_dir())}\nlogdir_size: {dir_size(w.log_dir())}\n"


@_not_serving
def _dump(w: FourLetterWords, cnxn) -> str:
    """Sessions by expiry bucket, ephemerals by session, connections by expiry bucket."""
    zks = w.zks
    out = ["SessionTracker dump:\n"]
    queue = zks.sessions.queue
    sessions: dict[int, list[str]] = {}
    for t, bucket in queue.buckets.items():
        sessions[t] = [f"0x{hex_long(s.session_id)}" for s in sorted(bucket, key=lambda s: s.session_id)]
    to_wall = zks.wall_time() - zks.now_ms()
    out.extend(_expiry_dump("Session ", sessions, to_wall))
    out.append("ephemeral nodes dump:\n")
    eph = zks.db.tree.ephemerals
    out.append(f"Sessions with Ephemerals ({len(eph)}):\n")
    for sid in sorted(eph):
        out.append(f"0x{hex_long(sid)}:\n")
        out.extend(f"\t{p}\n" for p in sorted(eph[sid]))
    out.append("Connections dump:\n")
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
    dw = w.zks.db.tree.data_watches
    total = sum(len(paths) for paths in dw.by_watcher.values())
    return f"{len(dw.by_watcher)} connections watching {len(dw.table)} paths\nTotal watches:{total}\n"


def _watcher_sid(watcher) -> str:
    return f"0x{hex_long(getattr(watcher, 'session_id', 0))}"


@_not_serving
def _wchc(w: FourLetterWords, cnxn) -> str:
    """Data watches by connection: session id, then its paths."""
    out = []
    for watcher, paths in w.zks.db.tree.data_watches.by_watcher.items():
        out.append(_watcher_sid(watcher) + "\n")
        out.extend(f"\t{p}\n" for p in sorted(paths))
    return "".join(out) + "\n"


@_not_serving
def _wchp(w: FourLetterWords, cnxn) -> str:
    """Data watches by path: path, then the watching sessions."""
    out = []
    for path in sorted(w.zks.db.tree.data_watches.table):
        out.append(path + "\n")
        out.extend(f"\t{_watcher_sid(c)}\n" for c in w.zks.db.tree.data_watches.table[path])
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


# ---------------------------------------------------------------------- mntr
#: 3.8's gauges, in the order its mntr prints them
GAUGES = (
    "ephemerals_count", "num_alive_connections", "avg_latency", "outstanding_requests", "znode_count",
    "global_sessions", "non_mtls_remote_conn_count", "last_client_response_size", "packets_sent",
    "packets_received", "max_client_response_size", "connection_drop_probability", "watch_count",
    "auth_failed_count", "min_latency", "max_file_descriptor_count", "approximate_data_size",
    "open_file_descriptor_count", "local_sessions", "uptime", "max_latency", "outstanding_tls_handshake",
    "min_client_response_size", "non_mtls_local_conn_count",
)  # fmt: skip
#: 3.8's per-namespace quota gauge sets, in its order
QUOTA_GAUGE_SETS = (
    "quota_bytes_limit_per_namespace", "quota_count_usage_per_namespace",
    "quota_count_limit_per_namespace", "quota_bytes_usage_per_namespace",
)  # fmt: skip
#: 3.8's counters, in its order
COUNTERS = (
    "proposal_count", "watch_bytes", "outstanding_changes_removed", "throttled_ops", "stale_requests_dropped",
    "large_requests_rejected", "insecure_admin_count", "connection_rejected",
    "cnxn_closed_without_zk_server_running", "sessionless_connections_expired", "looking_count",
    "dead_watchers_queued", "stale_requests", "connection_drop_count", "learner_proposal_received_count",
    "digest_mismatches_count", "dead_watchers_cleared", "response_packet_cache_hits", "bytes_received_count",
    "add_dead_watcher_stall_time", "request_throttle_wait_count", "requests_not_forwarded_to_commit_processor",
    "response_packet_cache_misses", "ensemble_auth_success", "prep_processor_request_queued",
    "learner_commit_received_count", "stale_replies", "connection_request_count", "response_bytes",
    "ensemble_auth_fail", "diff_count", "response_packet_get_children_cache_misses",
    "connection_revalidate_count", "quit_leading_due_to_disloyal_voter", "snap_count",
    "unrecoverable_error_count", "unsuccessful_handshake", "commit_count", "stale_sessions_expired",
    "response_packet_get_children_cache_hits", "sync_processor_request_queued", "outstanding_changes_queued",
    "request_commit_queued", "ensemble_auth_skip", "skip_learner_request_to_next_processor_count",
    "tls_handshake_exceeded", "revalidate_count",
)  # fmt: skip
#: 3.8's BASIC summaries (avg/min/max/cnt/sum), in its order
BASIC_SUMMARIES = (
    "socket_closing_time", "proposal_process_time", "leader_unavailable_time", "node_created_watch_count",
    "session_queues_drained", "write_commit_proc_req_queued", "connection_token_deficit",
    "read_commit_proc_req_queued", "node_deleted_watch_count", "startup_txns_load_time",
    "sync_processor_queue_size", "follower_sync_time", "prep_processor_queue_size", "fsynctime",
    "inflight_snap_count", "reads_issued_from_session_queue", "learner_request_processor_queue_size",
    "snapshottime", "unavailable_time", "startup_txns_loaded", "reads_after_write_in_session_queue",
    "requests_in_session_queue", "write_commit_proc_issued", "prep_process_time", "pending_session_queue_size",
    "time_waiting_empty_pool_in_commit_processor_read_ms", "commit_process_time", "dbinittime",
    "inflight_diff_count", "netty_queued_buffer_capacity", "election_time", "commit_commit_proc_req_queued",
    "sync_processor_batch_size", "node_children_watch_count", "write_batch_time_in_commit_processor",
    "read_commit_proc_issued", "concurrent_request_processing_in_commit_processor", "observer_sync_time",
    "node_changed_watch_count", "sync_process_time", "startup_snap_load_time",
)  # fmt: skip
#: 3.8's ADVANCED summaries (plus p50/p95/p99/p999), in its order
ADVANCED_SUMMARIES = (
    "prep_processor_queue_time_ms", "jvm_pause_time_ms", "close_session_prep_time", "read_commitproc_time_ms",
    "updatelatency", "local_write_committed_time_ms", "request_throttle_queue_time_ms", "readlatency",
    "quorum_ack_latency", "om_commit_process_time_ms", "read_final_proc_time_ms", "commit_propagation_latency",
    "dead_watchers_cleaner_latency", "write_final_proc_time_ms", "proposal_ack_creation_latency",
    "proposal_latency", "om_proposal_process_time_ms", "sync_processor_queue_and_flush_time_ms",
    "propagation_latency", "server_write_committed_time_ms", "sync_processor_queue_time_ms",
    "sync_processor_queue_flush_time_ms", "write_commitproc_time_ms",
)  # fmt: skip

#: Metrics whose events cannot happen in a standalone server, in 3.8 or here: quorum
#: (election, leader, learner, proposals, commits, ensemble auth), the CommitProcessor
#: (3.8's standalone chain has none either), TLS / admin server / Netty, features off by
#: default in 3.8 and absent here (request throttler, connection throttle, large-request
#: limit, JVM pause monitor, WatchManagerOptimized's dead-watcher cleaner).  Zero is their
#: true value while we are standalone.
STANDALONE_ZERO = frozenset((
    # counters
    "proposal_count", "throttled_ops", "large_requests_rejected", "insecure_admin_count",
    "cnxn_closed_without_zk_server_running", "looking_count", "dead_watchers_queued",
    "connection_drop_count", "learner_proposal_received_count", "dead_watchers_cleared",
    "add_dead_watcher_stall_time", "request_throttle_wait_count", "requests_not_forwarded_to_commit_processor",
    "ensemble_auth_success", "learner_commit_received_count", "ensemble_auth_fail", "diff_count",
    "connection_revalidate_count", "quit_leading_due_to_disloyal_voter", "snap_count", "unsuccessful_handshake",
    "commit_count", "request_commit_queued", "ensemble_auth_skip", "skip_learner_request_to_next_processor_count",
    "tls_handshake_exceeded", "revalidate_count",
    # basic summaries
    "socket_closing_time", "leader_unavailable_time", "session_queues_drained", "write_commit_proc_req_queued",
    "read_commit_proc_req_queued", "follower_sync_time", "inflight_snap_count", "reads_issued_from_session_queue",
    "learner_request_processor_queue_size", "unavailable_time", "reads_after_write_in_session_queue",
    "requests_in_session_queue", "write_commit_proc_issued", "pending_session_queue_size",
    "time_waiting_empty_pool_in_commit_processor_read_ms", "commit_process_time", "inflight_diff_count",
    "netty_queued_buffer_capacity", "election_time", "commit_commit_proc_req_queued",
    "write_batch_time_in_commit_processor", "read_commit_proc_issued",
    "concurrent_request_processing_in_commit_processor", "observer_sync_time",
    # advanced summaries
    "jvm_pause_time_ms", "read_commitproc_time_ms", "local_write_committed_time_ms", "quorum_ack_latency",
    "om_commit_process_time_ms", "read_final_proc_time_ms", "commit_propagation_latency",
    "dead_watchers_cleaner_latency", "write_final_proc_time_ms", "proposal_ack_creation_latency",
    "proposal_latency", "om_proposal_process_time_ms", "server_write_committed_time_ms",
    "write_commitproc_time_ms",
))  # fmt: skip


def _gauges(w: FourLetterWords) -> dict[str, int | float]:
    zks = w.zks
    s = zks.stats
    tree = zks.db.tree
    sizes = getattr(s, "response_sizes", None)
    g: dict[str, int | float] = {
        "ephemerals_count": sum(len(p) for p in tree.ephemerals.values()),
        "num_alive_connections": len(zks.cnxns),
        "avg_latency": round_avg(s.total_latency, s.count),
        "outstanding_requests": zks.outstanding_requests,
        "znode_count": len(tree.nodes),
        "global_sessions": len(zks.db.sessions_with_timeouts),
        "non_mtls_remote_conn_count": 0,  # no TLS port: every connection is plain
        "packets_sent": s.packets_sent,
        "packets_received": s.packets_received,
        "connection_drop_probability": 0.0,  # no connection throttle: nothing is dropped
        "watch_count": len(tree.data_watches) + len(tree.child_watches),
        "auth_failed_count": s.auth_failed,
        "min_latency": s.min_latency if s.min_latency >= 0 else 0,
        "max_file_descriptor_count": max_fd_count(),
        "approximate_data_size": tree.approximate_data_size(),
        "open_file_descriptor_count": open_fd_count(),
        "local_sessions": 0,  # local sessions are not supported: all sessions are global
        "uptime": w.uptime_ms(),
        "max_latency": s.max_latency,
        "outstanding_tls_handshake": 0,  # no TLS
        "non_mtls_local_conn_count": 0,
    }
    if sizes is not None:
        g["last_client_response_size"] = sizes.last
        g["max_client_response_size"] = sizes.max
        g["min_client_response_size"] = sizes.min
    return g


def _top_namespace(path: str) -> str | None:
    parts = path.split("/")
    return parts[1] if len(parts) > 1 and parts[1] else None


def _leaves(nodes: dict, root: str) -> Iterator[tuple[str, object]]:
    """The childless nodes below ``root`` (walks only that subtree, not the whole tree)."""
    stack = [root]
    while stack:
        path = stack.pop()
        node = nodes.get(path)
        if node is None:
            continue
        if node.children:
            stack.extend(f"{path}/{c}" for c in node.children)
        elif path != root:
            yield path, node


def _quota_gauges(w: FourLetterWords) -> list[tuple[str, int]]:
    """QuotaMetricsUtils: per top-level namespace, limits and usage summed over its quotas."""
    from ..server.quotas import LIMIT_NODE, QUOTA_ROOT, STAT_NODE, parse_stats

    nodes = w.zks.db.tree.nodes
    sums: dict[str, dict[str, int]] = {name: {} for name in QUOTA_GAUGE_SETS}
    for path, node in _leaves(nodes, QUOTA_ROOT):
        leaf = path.rsplit("/", 1)[1]
        if leaf not in (LIMIT_NODE, STAT_NODE) or node.data is None:
            continue
        ns = _top_namespace(path[len(QUOTA_ROOT) :])  # as 3.8: the quota path keeps its leaf
        if ns is None:
            continue
        st = parse_stats(node.data)
        count, nbytes = st.get("count", -1), st.get("bytes", -1)
        if leaf == LIMIT_NODE:
            hard_count, hard_bytes = st.get("countHardLimit", -1), st.get("byteHardLimit", -1)
            pairs = (
                ("quota_count_limit_per_namespace", hard_count if hard_count > -1 else count),
                ("quota_bytes_limit_per_namespace", hard_bytes if hard_bytes > -1 else nbytes),
            )
        else:
            pairs = (("quota_count_usage_per_namespace", count), ("quota_bytes_usage_per_namespace", nbytes))
        for name, v in pairs:
            sums[name][ns] = sums[name].get(ns, 0) + v
    return [(f"{ns}_{name}", v) for name in QUOTA_GAUGE_SETS for ns, v in sorted(sums[name].items())]


def _raw_counters(w: FourLetterWords) -> dict[str, int | float]:
    """Counters kept outside the core's ServerStats (they have no reset of their own)."""
    raw = {"digest_mismatches_count": getattr(w.zks.db, "digest_mismatches", 0)}
    for src in w.metric_sources():
        for attr in ("fsync_count", "fsync_time_ms_total"):
            v = getattr(src, attr, None)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and attr not in raw:
                raw[attr] = v
    return raw


def _counters(w: FourLetterWords, raw: dict[str, int | float]) -> dict[str, int]:
    s = w.zks.stats
    c: dict[str, int] = {
        "digest_mismatches_count": int(w.counter("digest_mismatches_count", raw["digest_mismatches_count"]))
    }
    if hasattr(s, "connection_requests"):
        c["connection_request_count"] = s.connection_requests
    if hasattr(s, "sessions_expired"):
        c["stale_sessions_expired"] = s.sessions_expired
    return c


def _summaries(w: FourLetterWords, raw: dict[str, int | float]) -> dict[str, list[tuple[str, int | float]]]:
    """The summaries we measure: request latencies, and whatever storage publishes."""
    s = w.zks.stats
    out: dict[str, list[tuple[str, int | float]]] = {}
    for summary in (getattr(s, "read_latency", None), getattr(s, "update_latency", None)):
        if isinstance(summary, Summary):
            out[summary.name] = summary.values()
    for src in w.metric_sources():
        for name, value in (getattr(src, "metrics", None) or {}).items():
            if isinstance(value, Summary) and name not in out:
                out[name] = value.values()
    if "fsynctime" not in out and "fsync_count" in raw and "fsync_time_ms_total" in raw:
        # only a count and a total: avg, cnt and sum are exact, min and max unknown (left out)
        cnt = int(w.counter("fsync_count", raw["fsync_count"]))
        total = w.counter("fsync_time_ms_total", raw["fsync_time_ms_total"])  # ms, maybe fractional
        out["fsynctime"] = [
            ("avg_fsynctime", round_avg(total, cnt)),
            ("cnt_fsynctime", cnt),
            ("sum_fsynctime", int(total)),
        ]
    return out


def _zero_summary(name: str, advanced: bool) -> list[tuple[str, int | float]]:
    return Summary(name, percentiles=advanced).values()


def monitor_values(w: FourLetterWords) -> list[tuple[str, object]]:
    """mntr's (key, value) pairs in 3.8's order, keeping only what we measure or know.

    Left out (we cannot measure them honestly): the response caches, bytes received,
    response / watch bytes, stale requests and replies, connection rejections, sessionless
    connection expiry, the prep / sync processors' internal queues and timings, watch-fire
    counts, startup load times, per-namespace read / write bytes, quota-exceeded counts.
    """
    standalone = w.server_state() == "standalone"
    values: list[tuple[str, object]] = [("version", VERSION_STRING), ("server_state", w.server_state())]
    gauges = _gauges(w)
    values.extend((k, gauges[k]) for k in GAUGES if k in gauges)
    values.extend(_quota_gauges(w))
    raw = _raw_counters(w)
    counters = _counters(w, raw)
    for k in COUNTERS:
        if k in counters:
            values.append((k, counters[k]))
        elif standalone and k in STANDALONE_ZERO:
            values.append((k, 0))
    summaries = _summaries(w, raw)
    for names, advanced in ((BASIC_SUMMARIES, False), (ADVANCED_SUMMARIES, True)):
        for name in names:
            if name in summaries:
                values.extend(summaries[name])
            elif standalone and name in STANDALONE_ZERO:
                values.extend(_zero_summary(name, advanced))
    return values
