"""zoo.cfg + myid -> an immutable :class:`ZKConfig`, read the way ZooKeeper 3.8 reads them.

The reference is 3.8's ``QuorumPeerConfig.parse``: a ``java.util.Properties`` file (ISO-8859-1,
``#``/``!`` comments, ``key=value`` / ``key: value`` / ``key value``, backslash continuation,
``\\uXXXX`` escapes), keys and values trimmed with ``String.trim`` -- except that the values of
``server.N``, ``group.N`` and ``weight.N`` reach the quorum verifier untrimmed, so trailing blanks
there are errors in 3.8 and here.  Every key 3.8 does not consume itself becomes the Java system
property ``zookeeper.<key>``; the ones the server reads that way (snapCount, forceSync,
4lw.commands.whitelist, ...) are typed attributes here, and all are kept in
``ZKConfig.system_properties``.  Relative paths are relative to the working directory, as the
JVM's are.

Deliberate differences from 3.8 (each also noted in ``ZKConfig.warnings`` when it applies):

* ``jute.maxbuffer``, ``readonlymode.enabled`` and ``znode.container.*`` in zoo.cfg are honoured;
  3.8 only reads them as ``-D`` JVM properties (a ``-D`` value, see ``jvm_properties``, still wins).
* ``multiAddress.enabled=true`` in zoo.cfg allows ``a|b`` server lines; 3.8 also needs
  ``-Dzookeeper.multiAddress.enabled=true`` for that.
* Where 3.8 silently falls back or crashes we raise :class:`ConfigError` naming key and value: a
  bad number in a system-property key (``Integer.getInteger`` returns the default), a server id
  defined twice (hash order wins), a group member without weight (NullPointerException), an
  empty dataDir (StringIndexOutOfBounds).  A one-letter relative dataDir works (3.8 crashes).
* A standalone config without clientPort is an error; 3.8.0 would start with no client port.
* "My id N not in the peer list" and "extendedTypesEnabled but server id > 254", which 3.8 only
  finds when it starts (exit status 1), are found here: ``ConfigError.exit_code`` is 1 for them.

Nothing is logged on import; :func:`parse_config` logs what 3.8 logs at WARN while parsing.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import shlex
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

__all__ = [
    "ConfigError",
    "QuorumServer",
    "ZKConfig",
    "load_config",
    "parse_config",
    "parse_properties",
    "jvm_properties_from_flags",
    "FOUR_LETTER_WORDS",
]

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------- constants
#: ZooKeeperServer.DEFAULT_TICK_TIME
DEFAULT_TICK_TIME = 3000
#: ZooKeeperServer.DEFAULT_SNAP_COUNT
DEFAULT_SNAP_COUNT = 100000
#: ZKDatabase.DEFAULT_COMMIT_LOG_COUNT (zookeeper.commitLogCount; smaller values are raised to it)
DEFAULT_COMMIT_LOG_COUNT = 500
#: ZKDatabase.DEFAULT_SNAPSHOT_SIZE_FACTOR (zookeeper.snapshotSizeFactor; < 0 turns txn-log sync off)
DEFAULT_SNAPSHOT_SIZE_FACTOR = 0.33
#: ZooKeeperServer.DEFAULT_GLOBAL_OUTSTANDING_LIMIT
DEFAULT_GLOBAL_OUTSTANDING_LIMIT = 1000
#: BinaryInputArchive's default jute.maxbuffer
DEFAULT_JUTE_MAXBUFFER = 0xFFFFF
#: FilePadding: 64 MB, configured in KB
DEFAULT_PREALLOC_KB = 65536
#: ZooKeeperServer.getSnapSizeInBytes: 4 GB, configured in KB
DEFAULT_SNAP_SIZE_LIMIT_KB = 4194304
#: PurgeTxnLog refuses to keep fewer snapshots than this
MIN_SNAP_RETAIN_COUNT = 3
#: EphemeralType.MAX_EXTENDED_SERVER_ID
MAX_EXTENDED_SERVER_ID = 0xFE
#: QuorumPeerConfig.UNSET_SERVERID
UNSET_SERVERID = -1

#: FourLetterCommands.cmd2String: what ``4lw.commands.whitelist=*`` enables
FOUR_LETTER_WORDS = frozenset(
    {
        "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst",
        "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "telnet close", "hash",
    }
)  # fmt: skip

PARTICIPANT = "participant"
OBSERVER = "observer"
#: QuorumPeer.LearnerType ordinals, as ``conf`` prints peerType
_LEARNER_ORDINAL = {PARTICIPANT: 0, OBSERVER: 1}

_WRONG_FORMAT = (
    " does not have the form server_config or server_config;client_config where server_config is"
    " the pipe separated list of host:port:port or host:port:port:type and client_config is port"
    " or host:port"
)

# ---- keys QuorumPeerConfig.parseProperties consumes itself (never system properties)
#: ... and which zk_twisted acts on (or its quorum peer will)
_EXPLICIT_ACTED = frozenset(
    {
        "dataDir", "dataLogDir", "clientPort", "clientPortAddress", "clientPortListenBacklog",
        "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout", "initLimit",
        "syncLimit", "connectToLearnerMasterLimit", "electionAlg", "quorumListenOnAllIPs",
        "peerType", "syncEnabled", "dynamicConfigFile", "autopurge.snapRetainCount",
        "autopurge.purgeInterval", "standaloneEnabled", "reconfigEnabled", "multiAddress.enabled",
    }
)  # fmt: skip
#: ... and which only the Java server uses: accepted, validated, listed in ``not_acted_on``
_EXPLICIT_NOT_ACTED = frozenset(
    {
        "localSessionsEnabled", "localSessionsUpgradingEnabled", "secureClientPort",
        "secureClientPortAddress", "observerMasterPort", "sslQuorum", "portUnification",
        "sslQuorumReloadCertFiles", "quorum.auth.enableSasl", "quorum.auth.serverRequireSasl",
        "quorum.auth.learnerRequireSasl", "quorum.auth.learner.saslLoginContext",
        "quorum.auth.server.saslLoginContext", "quorum.auth.kerberos.servicePrincipal",
        "quorum.cnxn.threads.size", "jvm.pause.info-threshold.ms", "jvm.pause.warn-threshold.ms",
        "jvm.pause.sleep.time.ms", "jvm.pause.monitor", "metricsProvider.className",
        "multiAddress.reachabilityCheckTimeoutMs", "multiAddress.reachabilityCheckEnabled",
        "oraclePath",
    }
)  # fmt: skip

# ---- keys that become system properties ``zookeeper.<key>`` which 3.8's server reads
#: ... and zk_twisted acts on.  The last group has no ``zookeeper.`` prefix in 3.8 (it reads
#: ``-Djute.maxbuffer`` etc. only); we honour the zoo.cfg key too, see ``_UNPREFIXED``.
_SYSPROP_ACTED = frozenset(
    {
        "snapCount", "preAllocSize", "forceSync", "globalOutstandingLimit", "snapSizeLimitInKb",
        "digest.enabled", "extendedTypesEnabled", "4lw.commands.whitelist",
        "DigestAuthenticationProvider.superDigest", "DigestAuthenticationProvider.enabled",
        "enforceQuota", "fsync.warningthresholdms", "txnLogSizeLimitInKb", "maxBatchSize",
        "snapshot.trust.empty", "jute.maxbuffer", "readonlymode.enabled", "znode.container.checkIntervalMs",
        "znode.container.maxPerMinute", "znode.container.maxNeverUsedIntervalMs",
        "admin.enableServer", "admin.serverAddress", "admin.serverPort", "admin.commandURL",
        "admin.idleTimeout", "leaderServes", "forceSnapshotSync", "cnxTimeout", "quorumCnxnTimeoutMs",
        "leaderConnectDelayDuringRetryMs", "commitLogCount", "snapshotSizeFactor",
        # zk_twisted's own (quorum/tracelog.py): the protocol event log for trace validation
        "zk_twisted.traceLog", "zk_twisted.traceLogFlushMs",
    }
)  # fmt: skip
#: ... and only the Java server uses (exact names)
_SYSPROP_NOT_ACTED = frozenset(
    {
        "skipACL", "closeSessionTxn.enabled", "emulate353TTLNodes",
        "serverCnxnFactory", "maxCnxns", "flushDelay", "maxWriteQueuePollTime",
        "intBufferStartingSizeBytes", "maxResponseCacheSize", "maxGetChildrenResponseCacheSize",
        "enableEagerACLCheck", "superUser", "allowSaslFailedClients", "jute.maxbuffer.extrasize",
        "largeRequestMaxBytes", "largeRequestThreshold",
        "datadir.autocreate", "db.autocreate", "electionPortBindRetry",
        "letAnySaslUserDoX", "maxInProcessingDeadWatchers",
        "request.timeout", "requireKerberosConfig", "sessionRequireClientSASLAuth",
        "tcpKeepAlive", "throttled_op_wait_time", "watchManagerName",
        "bitHashCacheSize", "observerMaster.sizeLimit",
        "follower.skipLearnerRequestToNextProcessor", "ensembleAuthName", "kinit",
        "forward_learner_requests_to_commit_processor_disabled", "testingonly.initialZxid",
        "request_stale_connection_check", "request_stale_latency_check", "jmx.log4j.disable",
        "jmx.log4j.mbean", "server.principal", "server.realm", "security.auth_to_local",
    }
)  # fmt: skip
#: ... and only the Java server uses (families)
_SYSPROP_NOT_ACTED_PREFIXES = (
    "ssl.", "authProvider.", "admin.", "pathStats.", "connection_throttle_", "request_throttle_",
    "request_throttler.", "netty.", "nio.", "kerberos.", "commitProcessor.", "leader.", "learner.",
    "observer.", "messageTracker.", "fastleader.", "audit.", "sasl.", "enforce.auth.", "snapshot.",
    "DigestAuthenticationProvider.", "X509AuthenticationProvider.", "SASLAuthenticationProvider.",
    "watcherClean", "multiAddress.", "metricsProvider.",
)  # fmt: skip
#: JVM properties 3.8 reads without a ``zookeeper.`` prefix (so a zoo.cfg key cannot set them in
#: 3.8); zk_twisted honours the zoo.cfg key, a ``-D`` property still wins.
_UNPREFIXED = frozenset(
    {
        "jute.maxbuffer", "readonlymode.enabled", "znode.container.checkIntervalMs",
        "znode.container.maxPerMinute", "znode.container.maxNeverUsedIntervalMs",
    }
)  # fmt: skip

_JAVA_WS = " \t\f"


# ----------------------------------------------------------------------------------- errors
class ConfigError(Exception):
    """A zoo.cfg / myid that ZooKeeper 3.8 would refuse (or crash on).

    ``str(err)`` reads ``Invalid config: <what>`` and names the key and the value (or the file);
    ``exit_code`` is what 3.8 exits with for it: 2 (INVALID_INVOCATION) for configuration errors,
    1 (UNEXPECTED_ERROR) for the checks 3.8 only makes at start-up with a RuntimeException.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        value: str | None = None,
        path: str | None = None,
        exit_code: int = 2,
    ) -> None:
        super().__init__(f"Invalid config: {message}")
        self.message = message
        self.key = key
        self.value = value
        self.path = path
        self.exit_code = exit_code


def _kv_error(key: str, value: str, what: str, **kw: Any) -> ConfigError:
    """``key=value <what>``; a value with blanks around it is quoted so they show."""
    shown = f'"{value}"' if value != value.strip() or value == "" else value
    what = what.strip()
    sep = "" if what.startswith(":") else " "
    return ConfigError(f"{key}={shown}{sep}{what}", key=key, value=value, **kw)


#: metricsProvider.className values 3.8 ships: the default (mntr), Prometheus (GET /metrics)
#: and the null provider (last: accepted, not acted on)
DEFAULT_METRICS_PROVIDER = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"
PROMETHEUS_METRICS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
METRICS_PROVIDERS = (
    DEFAULT_METRICS_PROVIDER, PROMETHEUS_METRICS_PROVIDER, "org.apache.zookeeper.metrics.impl.NullMetricsProvider",
)  # fmt: skip


# ------------------------------------------------------------------ java.util.Properties.load
def _java_trim(s: str) -> str:
    """String.trim: strips every char <= U+0020 (and only those) from both ends."""
    i, j = 0, len(s)
    while i < j and s[i] <= " ":
        i += 1
    while j > i and s[j - 1] <= " ":
        j -= 1
    return s[i:j]


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Properties.LineReader.readLine (JDK 17): yield (offset, logical line, escapes still in).

    A natural line ending in an odd number of backslashes continues on the next one (whose
    leading blanks are dropped); ``#`` or ``!`` first on a still-empty logical line starts a
    comment, which never continues.
    """
    off, limit = 0, len(text)
    while True:
        buf: list[str] = []
        skip_ws, appended, preceding_bs, start = True, False, False, off
        while True:
            if off >= limit:
                if buf:
                    yield start, "".join(buf[:-1] if preceding_bs else buf)
                return
            c = text[off]
            off += 1
            if skip_ws:
                if c in _JAVA_WS or (not appended and c in "\r\n"):
                    continue
                skip_ws = appended = False
            if not buf and c in "#!":
                while off < limit and text[off] not in "\r\n":
                    off += 1
                off += 1
                skip_ws = True
                continue
            if c not in "\r\n":
                if not buf:
                    start = off - 1
                buf.append(c)
                preceding_bs = not preceding_bs if c == "\\" else False
                continue
            if not buf:
                skip_ws = True
                continue
            if off >= limit or not preceding_bs:
                yield start, "".join(buf[:-1] if preceding_bs else buf)
                break
            buf.pop()  # continuation: drop the backslash, join the next natural line
            skip_ws, appended, preceding_bs = True, True, False
            if c == "\r" and text[off] == "\n":
                off += 1


def _line_number(text: str, offset: int) -> int:
    return len(re.findall(r"\r\n|\r|\n", text[:offset])) + 1


def _unescape(s: str) -> str:
    """Properties.loadConvert: \\t \\n \\r \\f, \\uXXXX, and backslash-anything = anything."""
    if "\\" not in s:
        return s
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        i += 1
        if c != "\\" or i >= n:
            out.append(c)
            continue
        c = s[i]
        i += 1
        if c == "u":
            hexdigits = s[i : i + 4]
            if len(hexdigits) < 4 or not all(h in "0123456789abcdefABCDEF" for h in hexdigits):
                raise ValueError("Malformed \\uxxxx encoding.")
            out.append(chr(int(hexdigits, 16)))
            i += 4
        else:
            out.append({"t": "\t", "r": "\r", "n": "\n", "f": "\f"}.get(c, c))
    return "".join(out)


def parse_properties(text: str, source: str = "<zoo.cfg>") -> dict[str, str]:
    """java.util.Properties.load, then 3.8's key/value trim; later duplicates win, order kept.

    ``text`` should be the file decoded as ISO-8859-1, as ``Properties.load(InputStream)`` does.
    """
    props: dict[str, str] = {}
    for offset, line in _logical_lines(text):
        n, i, has_sep, preceding_bs = len(line), 0, False, False
        value_start = n
        while i < n:
            c = line[i]
            if c in "=:" and not preceding_bs:
                value_start, has_sep = i + 1, True
                break
            if c in _JAVA_WS and not preceding_bs:
                value_start = i + 1
                break
            preceding_bs = c == "\\" and not preceding_bs
            i += 1
        while value_start < n:
            c = line[value_start]
            if c not in _JAVA_WS:
                if has_sep or c not in "=:":
                    break
                has_sep = True
            value_start += 1
        try:
            key = _java_trim(_unescape(line[:i]))
            props[key] = _unescape(line[value_start:])
        except ValueError:
            raise ConfigError(
                f"{source} line {_line_number(text, offset)}: malformed \\uxxxx encoding in {line!r}",
                path=source,
            ) from None
    return props


# -------------------------------------------------------------------- Java number parsing
_DECIMAL = re.compile(r"[+-]?\d+")
_INT32 = (-(1 << 31), (1 << 31) - 1)
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _decimal(text: str, bits: int) -> int | None:
    """Integer.parseInt / Long.parseLong, None where Java throws NumberFormatException."""
    lo, hi = _INT32 if bits == 32 else _INT64
    if not _DECIMAL.fullmatch(text) or len(text) > 40:  # (also keeps int() off huge strings)
        return None
    n = int(text)
    return n if lo <= n <= hi else None


def _java_int(key: str, value: str, bits: int = 32, *, origin: str = "") -> int:
    """Integer.parseInt / Long.parseLong of a config value, or a ConfigError naming the key."""
    n = _decimal(value, bits)
    if n is None:
        if _DECIMAL.fullmatch(value):
            raise _kv_error(origin + key, value, f"is out of range for a {bits}-bit integer")
        raise _kv_error(origin + key, value, "is not a number")
    return n


_JAVA_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?)")


def _java_double(key: str, value: str) -> float:
    """Double.parseDouble of a config value (decimal forms), or a ConfigError naming the key."""
    if not _JAVA_DOUBLE.fullmatch(value):
        raise _kv_error(key, value, "is not a number")
    return float(value.rstrip("fFdD").replace("Infinity", "inf"))


def _java_decode(key: str, value: str, bits: int = 32, *, origin: str = "") -> int:
    """Integer.decode / Long.decode (Integer.getInteger): 0x / # hex, leading-0 octal, decimal."""
    lo, hi = _INT32 if bits == 32 else _INT64
    s, sign = value, 1
    if s[:1] in ("-", "+"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s[:2] in ("0x", "0X"):
        radix, s = 16, s[2:]
    elif s[:1] == "#":
        radix, s = 16, s[1:]
    elif s[:1] == "0" and len(s) > 1:
        radix, s = 8, s[1:]
    else:
        radix = 10
    pattern = {16: r"[0-9a-fA-F]+", 8: r"[0-7]+", 10: r"\d+"}[radix]
    if not re.fullmatch(pattern, s):
        raise _kv_error(origin + key, value, "is not a number")
    if len(s) > 70:
        raise _kv_error(origin + key, value, f"is out of range for a {bits}-bit integer")
    n = sign * int(s, radix)
    if not lo <= n <= hi:
        raise _kv_error(origin + key, value, f"is out of range for a {bits}-bit integer")
    return n


def _strict_bool(key: str, value: str) -> bool:
    """QuorumPeerConfig.parseBoolean: 'true' or 'false', any case, nothing else."""
    low = value.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    raise _kv_error(key, value, "is not a boolean: choose 'true' or 'false'")


def _java_split(s: str, sep: str) -> list[str]:
    """String.split with a literal separator: trailing empty strings are dropped."""
    parts = s.split(sep)
    if len(parts) == 1:
        return parts
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _host_and_port(s: str, key: str, value: str) -> list[str]:
    """ConfigUtils.getHostAndPort: ``host:port...`` with ``[v6]:port...`` literals."""
    if s.startswith("["):
        i = s.find("]")
        if i < 0:
            raise _kv_error(key, value, f": {s} starts with '[' but has no matching ']:'")
        if i + 2 == len(s):
            raise _kv_error(key, value, f": {s} doesn't have a port after colon")
        if i + 2 < len(s):
            return [s[1:i], *_java_split(s[i + 2 :], ":")]
        return [s.replace("[", "").replace("]", "")]
    return _java_split(s, ":")


# ----------------------------------------------------------------------- paths and addresses
def _java_path(path: str, base: str) -> str:
    """new File(path).getAbsolutePath(): slashes collapsed, no ``.``/``..`` resolution."""
    p = re.sub(r"/+", "/", path)
    if len(p) > 1:
        p = p.rstrip("/")
    if p.startswith("/"):
        return p
    b = re.sub(r"/+", "/", base)
    if len(b) > 1:
        b = b.rstrip("/")
    if not p:
        return b
    return b + p if b.endswith("/") else f"{b}/{p}"


Resolver = Callable[[str], "str | None"]


def default_resolver(host: str) -> str | None:
    """InetAddress.getByName: IP literals as they are, names via DNS, IPv4 first; None if unknown."""
    h = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(h))
    except ValueError:
        pass
    if h == "":
        return "127.0.0.1"
    try:
        infos = socket.getaddrinfo(h, None, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    addrs = [info[4][0] for info in infos]
    v4 = [a for a in addrs if ":" not in a]
    return (v4 or addrs or [None])[0]


def _java_host_string(host: str) -> str:
    """InetSocketAddress(host, port).getHostString(): names as given, IP literals the way Java
    prints them (IPv6 uncompressed: ``::1`` -> ``0:0:0:0:0:0:0:1``; v4-mapped -> IPv4)."""
    h = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    text = ":".join(format(int(g, 16), "x") for g in ip.exploded.split("%")[0].split(":"))
    return f"{text}%{ip.scope_id}" if ip.scope_id else text


def _is_wildcard(ip: str | None) -> bool:
    return ip in ("0.0.0.0", "::")


@dataclass(frozen=True)
class _SockAddr:
    """Just enough of java.net.InetSocketAddress to compare addresses as 3.8 does."""

    host: str
    port: int
    ip: str | None  # None = unresolved

    def same(self, other: _SockAddr) -> bool:
        if self.port != other.port:
            return False
        if self.ip is not None:
            return self.ip == other.ip
        return other.ip is None and self.host.lower() == other.host.lower()

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def _check_port(key: str, value: str, port: int) -> None:
    """InetSocketAddress's 'port out of range' check."""
    if not 0 <= port <= 0xFFFF:
        raise _kv_error(key, value, f": port out of range:{port}")


# ----------------------------------------------------------------------------- QuorumServer
@dataclass(frozen=True)
class QuorumServer:
    """One ``server.N=host:quorumPort:electionPort[:type][|...][;[clientHost:]clientPort]`` line.

    ``addr`` / ``election_addr`` are the first of the ``|``-separated addresses; ``addrs`` /
    ``election_addrs`` hold them all (multiAddress.enabled).  ``client_addr`` is None when the
    line has no client part and the static clientPort does not apply to this server.
    """

    sid: int
    addr: tuple[str, int]
    election_addr: tuple[str, int]
    learner_type: str = PARTICIPANT
    client_addr: tuple[str, int] | None = None
    addrs: tuple[tuple[str, int], ...] = ()
    election_addrs: tuple[tuple[str, int], ...] = ()
    #: the client address came from clientPort / clientPortAddress, not the line (3.8 then
    #: leaves it out of the membership it prints)
    client_addr_from_static: bool = False

    @property
    def is_participant(self) -> bool:
        return self.learner_type == PARTICIPANT

    @property
    def is_observer(self) -> bool:
        return self.learner_type == OBSERVER

    @property
    def hostname(self) -> str:
        return self.addrs[-1][0] if self.addrs else self.addr[0]

    def to_config_string(self) -> str:
        """QuorumServer.toString, the value 3.8 prints in ``conf`` and /zookeeper/config."""

        def host(h: str) -> str:
            return f"[{h}]" if ":" in h else h

        addrs = sorted(self.addrs or (self.addr,), key=lambda a: a[0])
        eaddrs = sorted(self.election_addrs or (self.election_addr,), key=lambda a: a[0])
        text = "|".join(f"{host(a[0])}:{a[1]}:{e[1]}" for a, e in zip(addrs, eaddrs, strict=False))
        text += f":{self.learner_type}"
        if self.client_addr is not None and not self.client_addr_from_static:
            text += f";{host(self.client_addr[0])}:{self.client_addr[1]}"
        return text


def _parse_server(key: str, value: str, multi_address: bool) -> QuorumServer:
    """QuorumServer(sid, addressStr): ``value`` is untrimmed, exactly as 3.8 hands it over."""
    dot = key.find(".")
    sid = _sid_of(key, value, key[dot + 1 :], "server id")
    server_client = _java_split(value, ";")
    if not server_client:
        raise _kv_error(key, value, _WRONG_FORMAT)
    server_addresses = _java_split(server_client[0], "|")
    client: tuple[str, int] | None = None
    if len(server_client) == 2:
        client_parts = _host_and_port(server_client[1], key, value)
        if len(client_parts) > 2 or not client_parts:
            raise _kv_error(key, value, _WRONG_FORMAT)
        client_host = _java_host_string(client_parts[0]) if len(client_parts) == 2 else "0.0.0.0"
        raw_port = client_parts[-1]
        client_port = _decimal(raw_port, 32)
        if client_port is None:
            raise _kv_error(key, value, f": client port {raw_port!r} is not a number")
        _check_port(key, value, client_port)
        client = (client_host, client_port)
    if not multi_address and len(server_addresses) > 1:
        raise _kv_error(
            key,
            value,
            f": multiple addresses were specified for sid {sid} but multiAddress.enabled is false",
        )
    addrs: list[tuple[str, int]] = []
    eaddrs: list[tuple[str, int]] = []
    learner_type: str | None = None
    for address in server_addresses:
        parts = _host_and_port(address, key, value)
        if len(server_client) > 2 or not 3 <= len(parts) <= 4:
            raise _kv_error(key, value, _WRONG_FORMAT)
        host = _java_host_string(parts[0])
        ports = []
        for raw in parts[1:3]:
            port = _decimal(raw, 32)
            if port is None:
                raise _kv_error(key, value, f": port {raw!r} of {host} is not a number")
            _check_port(key, value, port)
            ports.append(port)
        if ports[0] == ports[1]:
            raise _kv_error(key, value, ": quorum and election port must be different")
        if len(parts) == 4:
            kind = _java_trim(parts[3]).lower()
            if kind not in (PARTICIPANT, OBSERVER):
                raise _kv_error(key, value, f": unrecognised peer type {parts[3]!r}")
            if learner_type is not None and kind != learner_type:
                raise _kv_error(key, value, ": multiple addresses should have similar roles")
            learner_type = kind
        if (host, ports[0]) not in addrs:
            addrs.append((host, ports[0]))
        if (host, ports[1]) not in eaddrs:
            eaddrs.append((host, ports[1]))
    qs = QuorumServer(
        sid=sid,
        addr=addrs[0],
        election_addr=eaddrs[0],
        learner_type=learner_type or PARTICIPANT,
        client_addr=client,
        addrs=tuple(addrs),
        election_addrs=tuple(eaddrs),
    )
    return qs


def _sid_of(key: str, value: str, text: str, what: str) -> int:
    """Long.parseLong of an id in a key or a group list."""
    n = _decimal(text, 64)
    if n is None:
        raise _kv_error(key, value, f": {what} {text!r} is not a number")
    return n


# ------------------------------------------------------------------------------- ZKConfig
def _ro(d: Mapping | None = None) -> MappingProxyType:
    return MappingProxyType(dict(d or {}))


def _mapping_field() -> Any:
    return field(default_factory=_ro, hash=False)


@dataclass(frozen=True)
class ZKConfig:
    """What zoo.cfg + myid say, typed, with ZooKeeper 3.8's defaults and derived values.

    Paths are absolute the way Java's ``File.getAbsolutePath`` makes them (relative to the working
    directory at load time, ``.`` segments kept), so a later chdir cannot move the data.
    """

    config_path: str | None = None
    #: the whole file as text (3.8's ``initialConfig``)
    initial_config: str = ""
    # -- storage
    data_dir: str = ""
    data_log_dir: str = ""
    autopurge_snap_retain_count: int = MIN_SNAP_RETAIN_COUNT
    #: hours; 0 (or less) = no purge task
    autopurge_purge_interval: int = 0
    # -- client port
    #: 0 = no client port
    client_port: int = 0
    #: host as configured (clientPortAddress, or the client part of this server's line); None = all
    client_port_address: str | None = None
    #: client_port_address resolved to an IP literal (what to bind); None = all interfaces
    client_port_ip: str | None = None
    secure_client_port: int = 0
    secure_client_port_address: str | None = None
    client_port_listen_backlog: int = -1
    max_client_cnxns: int = 60
    # -- time
    tick_time: int = DEFAULT_TICK_TIME
    min_session_timeout: int = 2 * DEFAULT_TICK_TIME
    max_session_timeout: int = 20 * DEFAULT_TICK_TIME
    init_limit: int = 0
    sync_limit: int = 0
    connect_to_learner_master_limit: int = 0
    # -- quorum
    #: myid; 0 when there is no myid file (standalone)
    server_id: int = 0
    myid_path: str | None = None
    servers: Mapping[int, QuorumServer] = _mapping_field()
    #: group.N: gid -> sids (hierarchical quorums); empty = majority quorums
    groups: Mapping[int, tuple[int, ...]] = _mapping_field()
    #: weight.N: sid -> weight, participants without weight.N weigh 1 (hierarchical only)
    weights: Mapping[int, int] = _mapping_field()
    #: the hex ``version`` of the quorum config (dynamic file suffix or ``version=``)
    config_version: int = 0
    peer_type: str = PARTICIPANT
    election_alg: int = 3
    quorum_listen_on_all_ips: bool = False
    sync_enabled: bool = True
    standalone_enabled: bool = True
    reconfig_enabled: bool = False
    multi_address_enabled: bool = False
    dynamic_config_file: str | None = None
    observer_master_port: int = 0
    local_sessions_enabled: bool = False
    local_sessions_upgrading_enabled: bool = False
    # -- from system properties (zoo.cfg keys 3.8 turns into zookeeper.<key>)
    snap_count: int = DEFAULT_SNAP_COUNT
    pre_alloc_size_kb: int = DEFAULT_PREALLOC_KB
    force_sync: bool = True
    global_outstanding_limit: int = DEFAULT_GLOBAL_OUTSTANDING_LIMIT
    jute_maxbuffer: int = DEFAULT_JUTE_MAXBUFFER
    snap_size_limit_kb: int = DEFAULT_SNAP_SIZE_LIMIT_KB
    txn_log_size_limit_kb: int = -1
    #: SyncRequestProcessor: most requests in one group commit
    max_batch_size: int = 1000
    #: restore may trust a snapshot when there is no txn log (FileTxnSnapLog)
    snapshot_trust_empty: bool = False
    fsync_warning_threshold_ms: int = 1000
    #: ZKDatabase.commitLogCount: the leader's committedLog window for DIFF (at least 500)
    commit_log_count: int = DEFAULT_COMMIT_LOG_COUNT
    #: ZKDatabase.snapshotSizeFactor: a DIFF from the txn log when it is at most this share of
    #: the snapshot's size (< 0: never)
    snapshot_size_factor: float = DEFAULT_SNAPSHOT_SIZE_FACTOR
    digest_enabled: bool = True
    #: TTL nodes and other extended ephemeral types; 3.8's default is off
    extended_types_enabled: bool = False
    readonly_mode_enabled: bool = False
    #: enabled four-letter words (srvr always; ``*`` = all of FOUR_LETTER_WORDS)
    four_letter_whitelist: frozenset[str] = frozenset({"srvr"})
    super_digest: str | None = None
    digest_auth_enabled: bool = True
    enforce_quota: bool = False
    skip_acl: bool = False
    container_check_interval_ms: int = 60000
    container_max_per_minute: int = 10000
    container_max_never_used_ms: int = 0
    #: the AdminServer (zookeeper.admin.*): on unless enableServer is exactly "false", as in 3.8
    admin_enable_server: bool = True
    admin_server_address: str = "0.0.0.0"
    #: 0 = any free port
    admin_server_port: int = 8080
    admin_command_url: str = "/commands"
    #: ms an idle HTTP connection is kept; <= 0 = no limit
    admin_idle_timeout: int = 30000
    #: metricsProvider.className and the metricsProvider.* properties without the prefix
    metrics_provider_class_name: str = DEFAULT_METRICS_PROVIDER
    metrics_provider_configuration: Mapping[str, str] = _mapping_field()
    # -- bookkeeping
    #: every key as parsed (trimmed key -> value as 3.8 sees it), file order
    raw: Mapping[str, str] = _mapping_field()
    #: exactly the System.setProperty calls 3.8 makes: ``zookeeper.<key>`` -> value
    system_properties: Mapping[str, str] = _mapping_field()
    #: -D properties the server was given (``jvmflags.read_jvm_flags``: SERVER_JVMFLAGS, JVMFLAGS, java.env)
    jvm_properties: Mapping[str, str] = _mapping_field()
    #: keys no part of 3.8 reads (kept, as 3.8 keeps them as system properties)
    unknown: Mapping[str, str] = _mapping_field()
    #: keys present that 3.8 uses but zk_twisted does not: the server logs them once
    not_acted_on: tuple[str, ...] = ()
    #: what 3.8 would log at WARN while parsing, plus where we deliberately differ
    warnings: tuple[str, ...] = ()

    # -- derived
    @property
    def voting_members(self) -> Mapping[int, QuorumServer]:
        return MappingProxyType({s: q for s, q in self.servers.items() if q.is_participant})

    @property
    def observers(self) -> Mapping[int, QuorumServer]:
        return MappingProxyType({s: q for s, q in self.servers.items() if q.is_observer})

    @property
    def quorum_servers(self) -> Mapping[int, QuorumServer]:
        """All members, participants and observers (QuorumPeerConfig.getServers)."""
        return self.servers

    @property
    def is_distributed(self) -> bool:
        """QuorumPeerConfig.isDistributed: a quorum peer rather than a standalone server."""
        return not self.standalone_enabled or len(self.voting_members) > 1

    @property
    def is_standalone(self) -> bool:
        """No server.N lines, or one participant with standaloneEnabled (3.8 then runs standalone)."""
        return not self.is_distributed

    @property
    def is_hierarchical(self) -> bool:
        return bool(self.groups) or bool(self.weights)

    @property
    def my_server(self) -> QuorumServer | None:
        return self.servers.get(self.server_id) if self.myid_path is not None else None

    @property
    def snap_dir(self) -> str:
        """FileTxnSnapLog's snapDir: <dataDir>/version-2."""
        return f"{self.data_dir}/version-2"

    @property
    def log_dir(self) -> str:
        """FileTxnSnapLog's dataDir (the txn logs): <dataLogDir>/version-2."""
        return f"{self.data_log_dir}/version-2"

    @property
    def pre_alloc_size(self) -> int:
        """Txn log preallocation step in bytes."""
        return self.pre_alloc_size_kb * 1024

    @property
    def snap_size_limit_bytes(self) -> int:
        """Roll a snapshot when the log since the last one is half this big; <= 0 disables."""
        return self.snap_size_limit_kb * 1024

    def system_property(self, name: str, default: str | None = None) -> str | None:
        """System.getProperty(name) as the 3.8 JVM would see it after parsing this config."""
        if name in self.system_properties:
            return self.system_properties[name]
        return self.jvm_properties.get(name, default)

    # -- conf
    def summary_lines(
        self,
        data_dir_size: int = 0,
        data_log_size: int = 0,
        *,
        client_port: int | None = None,
        secure_client_port: int | None = None,
        server_id: int | None = None,
        peer_type: str | None = None,
        membership: str | None = None,
    ) -> list[str]:
        """The ``conf`` four-letter word's lines (ZooKeeperServer / QuorumZooKeeperServer.dumpConf).

        The caller passes what only the running server knows: directory sizes, the bound ports
        (default: the configured ones, -1 when none), the running learner type and the current
        membership text (default: this config's).  Quorum mode ends with ``membership:`` and the
        quorum verifier's lines; see :meth:`conf_text` for the exact bytes.
        """
        if client_port is None:
            client_port = self.client_port if self.client_port else -1
        if secure_client_port is None:
            secure_client_port = -1  # zk_twisted serves no TLS port
        has_factory = client_port != -1 or secure_client_port != -1
        quorum = self.is_distributed
        if server_id is None:
            server_id = self.server_id if quorum else 0
        lines = [
            f"clientPort={client_port}",
            f"secureClientPort={secure_client_port}",
            f"dataDir={self.snap_dir}",
            f"dataDirSize={data_dir_size}",
            f"dataLogDir={self.log_dir}",
            f"dataLogSize={data_log_size}",
            f"tickTime={self.tick_time}",
            f"maxClientCnxns={self.max_client_cnxns if has_factory else -1}",
            f"minSessionTimeout={self.min_session_timeout}",
            f"maxSessionTimeout={self.max_session_timeout}",
            f"clientPortListenBacklog={self.client_port_listen_backlog}",
            f"serverId={server_id}",
        ]
        if quorum:
            me = self.servers.get(server_id)
            election = "|".join(str(p) for _, p in me.election_addrs) if me else ""
            quorum_port = "|".join(str(p) for _, p in me.addrs) if me else ""
            kind = peer_type or self.peer_type
            lines += [
                f"initLimit={self.init_limit}",
                f"syncLimit={self.sync_limit}",
                f"electionAlg={self.election_alg}",
                f"electionPort={election}",
                f"quorumPort={quorum_port}",
                f"peerType={_LEARNER_ORDINAL[kind]}",
                "membership: ",
            ]
            lines += (membership if membership is not None else self.membership_text()).split("\n")
        return lines

    def conf_text(self, data_dir_size: int = 0, data_log_size: int = 0, **kw: Any) -> str:
        """``conf``'s reply: one line each; in quorum mode the last line has no newline, as 3.8."""
        lines = self.summary_lines(data_dir_size, data_log_size, **kw)
        if self.is_distributed:
            return "".join(f"{ln}\n" for ln in lines[:-1]) + lines[-1]
        return "".join(f"{ln}\n" for ln in lines)

    def membership_text(self) -> str:
        """The quorum verifier's toString (QuorumMaj / QuorumHierarchical), as ``conf``
        prints it after "membership: "."""
        from .quorum.verifier import verifier_from_config  # the verifiers read this config

        return verifier_from_config(self).to_string()


# ------------------------------------------------------------------------------ the parser
def jvm_properties_from_flags(flags: str | Iterable[str]) -> dict[str, str]:
    """``-Dkey=value`` words of a JVMFLAGS / SERVER_JVMFLAGS string -> {key: value}."""
    words = shlex.split(flags) if isinstance(flags, str) else list(flags)
    out: dict[str, str] = {}
    for w in words:
        if w.startswith("-D") and len(w) > 2:
            k, _, v = w[2:].partition("=")
            out[k] = v
    return out


#: -D properties zk_twisted reads under exactly these names (besides ``zookeeper.<key>`` of the
#: acted zoo.cfg keys): 3.8's unprefixed ones, and FileTxnLog's fallback
_JVM_ACTED_UNPREFIXED = _UNPREFIXED | {"fsync.warningthresholdms"}


def jvm_property_use(cfg: ZKConfig, name: str) -> tuple[bool, str]:
    """What becomes of ``-D<name>``: (acted on?, why), for the start-up log.

    As in 3.8, a zoo.cfg key wins over ``-Dzookeeper.<key>`` (parseProperties calls
    System.setProperty after the JVM started); ``-Djute.maxbuffer`` and the other unprefixed
    properties win over their zoo.cfg keys (3.8 reads no zoo.cfg key for them).
    """
    if name in _JVM_ACTED_UNPREFIXED:
        if f"zookeeper.{name}" in cfg.system_properties:
            return True, f"acted on (wins over zoo.cfg {name}, which 3.8 does not read)"
        return True, "acted on"
    if name.startswith("zookeeper."):
        key = name[len("zookeeper.") :]
        acted = key in _SYSPROP_ACTED or key in (
            "multiAddress.enabled",
            "fsync.warningthresholdms",
        )
        if key in _UNPREFIXED:
            return False, f"accepted but not acted on (3.8 reads -D{key}, not -D{name})"
        if name in cfg.system_properties:
            return False, f"overridden by zoo.cfg {key}={cfg.system_properties[name]} (as in 3.8)"
        if acted:
            return True, "acted on"
        if key in _SYSPROP_NOT_ACTED or key.startswith(_SYSPROP_NOT_ACTED_PREFIXES):
            return False, "accepted but not acted on (only the Java server uses it)"
        return False, "accepted but not acted on (not a property zk_twisted knows)"
    return False, "accepted but not acted on (a JVM matter)"


class _Parser:
    """QuorumPeerConfig.parseProperties and friends, state kept in one place."""

    def __init__(
        self,
        props: Mapping[str, str],
        base_dir: str,
        config_path: str | None,
        jvm: Mapping[str, str],
        resolve: Resolver,
    ) -> None:
        self.props = props
        self.base = base_dir
        self.config_path = config_path
        self.jvm = dict(jvm)
        self.resolve = resolve
        self.warnings: list[str] = []
        self.sysprops: dict[str, str] = {}
        self.unknown: dict[str, str] = {}
        self.not_acted: list[str] = []
        self.out: dict[str, Any] = {}
        self.multi_from_zoo_cfg_only = False
        self.raw_server_id = UNSET_SERVERID

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)

    def path(self, p: str) -> str:
        return _java_path(p, self.base)

    def relative_warning(self, value: str) -> None:
        """VerifyingFileFactory.warnForRelativePath."""
        if not value.startswith("/") and not value.startswith("./"):
            self.warn(f"{value} is relative. Prepend ./ to indicate that you're sure!")

    # ------------------------------------------------------------------ the key loop
    def parse(self) -> ZKConfig:
        o = self.out
        client_port = secure_client_port = 0
        client_port_address = secure_client_port_address = None
        data_dir = data_log_dir = None
        tick_time = DEFAULT_TICK_TIME
        min_st = max_st = -1
        snap_retain, purge_interval = MIN_SNAP_RETAIN_COUNT, 0
        sasl = {"enable": False, "server": False, "learner": False}
        multi_address = False
        has_dynamic = "dynamicConfigFile" in self.props
        metrics_props: dict[str, str] = {}

        ints = {
            "clientPortListenBacklog": "client_port_listen_backlog",
            "maxClientCnxns": "max_client_cnxns",
            "initLimit": "init_limit",
            "syncLimit": "sync_limit",
            "connectToLearnerMasterLimit": "connect_to_learner_master_limit",
            "observerMasterPort": "observer_master_port",
        }
        bools = {
            "localSessionsEnabled": "local_sessions_enabled",
            "localSessionsUpgradingEnabled": "local_sessions_upgrading_enabled",
            "quorumListenOnAllIPs": "quorum_listen_on_all_ips",
            "syncEnabled": "sync_enabled",
            "standaloneEnabled": "standalone_enabled",
            "reconfigEnabled": "reconfig_enabled",
        }
        for key, raw_value in self.props.items():
            value = _java_trim(raw_value)
            if key in _EXPLICIT_NOT_ACTED or key.startswith("metricsProvider."):
                self.not_acted.append(key)
            if key == "dataDir":
                data_dir = value
            elif key == "dataLogDir":
                data_log_dir = value
            elif key == "clientPort":
                client_port = _java_int(key, value)
            elif key == "clientPortAddress":
                client_port_address = value
            elif key == "secureClientPort":
                secure_client_port = _java_int(key, value)
            elif key == "secureClientPortAddress":
                secure_client_port_address = value
            elif key in ints:
                o[ints[key]] = _java_int(key, value)
            elif key == "tickTime":
                tick_time = _java_int(key, value)
            elif key == "minSessionTimeout":
                min_st = _java_int(key, value)
            elif key == "maxSessionTimeout":
                max_st = _java_int(key, value)
            elif key == "electionAlg":
                if _java_int(key, value) != 3:
                    raise _kv_error(key, value, "is not supported: only electionAlg=3 is")
            elif key == "peerType":
                if value.lower() not in (PARTICIPANT, OBSERVER):
                    raise _kv_error(key, value, "is not a peer type: choose participant or observer")
                o["peer_type"] = value.lower()
            elif key in bools:
                o[bools[key]] = _strict_bool(key, value)
            elif key == "dynamicConfigFile":
                o["dynamic_config_file"] = value
            elif key == "autopurge.snapRetainCount":
                snap_retain = _java_int(key, value)
            elif key == "autopurge.purgeInterval":
                purge_interval = _java_int(key, value)
            elif key in ("sslQuorum", "portUnification", "sslQuorumReloadCertFiles", "jvm.pause.monitor"):
                _strict_bool(key, value)
            elif has_dynamic and key.startswith(("server.", "group", "weight")):
                raise _kv_error(
                    key, value, "must be in a separate dynamic config file (dynamicConfigFile is set)"
                )
            elif key == "quorum.auth.enableSasl":
                sasl["enable"] = _strict_bool(key, value)
            elif key == "quorum.auth.serverRequireSasl":
                sasl["server"] = _strict_bool(key, value)
            elif key == "quorum.auth.learnerRequireSasl":
                sasl["learner"] = _strict_bool(key, value)
            elif key == "metricsProvider.className":
                o["metrics_provider_class_name"] = value
            elif key.startswith("metricsProvider."):
                metrics_props[key[len("metricsProvider.") :]] = value
            elif key in (
                "quorum.auth.learner.saslLoginContext",
                "quorum.auth.server.saslLoginContext",
                "quorum.auth.kerberos.servicePrincipal",
                "oraclePath",
            ):
                pass
            elif key == "quorum.cnxn.threads.size":
                _java_int(key, value)
            elif key in (
                "jvm.pause.info-threshold.ms",
                "jvm.pause.warn-threshold.ms",
                "jvm.pause.sleep.time.ms",
            ):
                _java_int(key, value, 64)
            elif key == "multiAddress.enabled":
                multi_address = _strict_bool(key, value)
            elif key == "multiAddress.reachabilityCheckTimeoutMs":
                _java_int(key, value)
            elif key == "multiAddress.reachabilityCheckEnabled":
                _strict_bool(key, value)
            else:
                self.system_property_key(key, value)

        # sasl consistency, as parseProperties checks it
        for flag, name in (
            ("server", "quorum.auth.serverRequireSasl"),
            ("learner", "quorum.auth.learnerRequireSasl"),
        ):
            if not sasl["enable"] and sasl[flag]:
                raise _kv_error(
                    name, "true", "but quorum.auth.enableSasl is disabled, so it cannot be enabled"
                )
        if not sasl["learner"] and sasl["server"]:
            raise _kv_error(
                "quorum.auth.serverRequireSasl",
                "true",
                "but quorum.auth.learnerRequireSasl is disabled, so it cannot be enabled",
            )

        if snap_retain < MIN_SNAP_RETAIN_COUNT:
            self.warn(
                f"Invalid autopurge.snapRetainCount: {snap_retain}. Defaulting to {MIN_SNAP_RETAIN_COUNT}"
            )
            snap_retain = MIN_SNAP_RETAIN_COUNT
        o["autopurge_snap_retain_count"] = snap_retain
        o["autopurge_purge_interval"] = purge_interval

        if data_dir is None:
            raise ConfigError("dataDir is not set", key="dataDir")
        if data_dir == "":
            # 3.8: crashes (StringIndexOutOfBoundsException); an empty path means nothing
            raise ConfigError("dataDir is not set (dataDir= is empty)", key="dataDir", value="")
        self.relative_warning(data_dir)
        o["data_dir"] = self.path(data_dir)
        if data_log_dir is not None:
            if data_log_dir == "":
                raise ConfigError("dataLogDir= is empty", key="dataLogDir", value="")
            self.relative_warning(data_log_dir)
        o["data_log_dir"] = self.path(data_log_dir) if data_log_dir is not None else o["data_dir"]

        static_client = self.client_address(
            "clientPort", client_port, "clientPortAddress", client_port_address
        )
        secure = self.client_address(
            "secureClientPort", secure_client_port, "secureClientPortAddress", secure_client_port_address
        )
        if secure is not None:
            o["secure_client_port"] = secure.port
            o["secure_client_port_address"] = secure_client_port_address
            self.check_ssl_auth()

        if tick_time == 0:
            raise ConfigError("tickTime is not set (tickTime=0)", key="tickTime", value="0")
        o["tick_time"] = tick_time
        min_st = tick_time * 2 if min_st == -1 else min_st
        max_st = tick_time * 20 if max_st == -1 else max_st
        if min_st > max_st:
            raise ConfigError(
                f"minSessionTimeout={min_st} must not be larger than maxSessionTimeout={max_st}",
                key="minSessionTimeout",
                value=str(min_st),
            )
        o["min_session_timeout"], o["max_session_timeout"] = min_st, max_st

        # 3.8 parses `a|b` server lines only with -Dzookeeper.multiAddress.enabled=true: the
        # zoo.cfg key sets a field the line parser never looks at.  We honour the key too.
        jvm_multi = self.sysprop_bool_jvm("zookeeper.multiAddress.enabled")
        self.multi_from_zoo_cfg_only = multi_address and not jvm_multi
        o["multi_address_enabled"] = multi_address or jvm_multi

        self.system_property_values()

        if o.get("dynamic_config_file") is None:
            quorum_props = self.props
            dyn_path = None
        else:
            dyn_path, quorum_props = self.read_dynamic(o["dynamic_config_file"])
        self.quorum(quorum_props, static_client, dyn_path)
        self.checks()
        o["system_properties"] = _ro(self.sysprops)
        o["unknown"] = _ro(self.unknown)
        o["jvm_properties"] = _ro(self.jvm)
        self.metrics_provider(metrics_props)
        o["not_acted_on"] = tuple(dict.fromkeys(self.not_acted))
        o["warnings"] = tuple(self.warnings)
        o["raw"] = _ro(self.props)
        o["config_path"] = self.config_path
        return ZKConfig(**o)

    def metrics_provider(self, props: dict[str, str]) -> None:
        """QuorumPeerConfig's class check (IllegalArgumentException: exit 2), and which keys we act on."""
        o = self.out
        name = o.get("metrics_provider_class_name", DEFAULT_METRICS_PROVIDER)
        if name not in METRICS_PROVIDERS:
            raise _kv_error("metricsProvider.className", name, ": metrics provider class was not found")
        o["metrics_provider_configuration"] = _ro(props)
        acted = {"metricsProvider.className"} if name != METRICS_PROVIDERS[-1] else set()
        if name == PROMETHEUS_METRICS_PROVIDER:
            acted |= {"metricsProvider.httpHost", "metricsProvider.httpPort", "metricsProvider.exportJvmInfo"}
            port = props.get("httpPort", "7000")
            if not re.fullmatch(r"[+-]?[0-9]+", port) or not 0 <= int(port) <= 65535:
                raise _kv_error("metricsProvider.httpPort", port, "is not a valid port number")
        self.not_acted = [k for k in self.not_acted if k not in acted]

    def client_address(self, port_key: str, port: int, addr_key: str, addr: str | None) -> _SockAddr | None:
        """clientPort + clientPortAddress -> an address (None when the port is not set)."""
        if port == 0:
            if addr is not None:
                raise ConfigError(
                    f"{addr_key}={addr} is set but {port_key} is not set", key=addr_key, value=addr
                )
            return None
        _check_port(port_key, str(port), port)
        if addr is None:
            return _SockAddr("0.0.0.0", port, "0.0.0.0")
        ip = self.resolve(addr)
        if ip is None:
            raise _kv_error(addr_key, addr, ": unknown host")
        return _SockAddr(_java_host_string(addr), port, ip)

    def check_ssl_auth(self) -> None:
        """QuorumPeerConfig.configureSSLAuth, for a secure client port."""
        scheme = self.sysprop("zookeeper.ssl.authProvider") or "x509"
        if scheme != "x509" and self.sysprop(f"zookeeper.authProvider.{scheme}") is None:
            raise ConfigError(
                f"ssl.authProvider={scheme}: no auth provider configured for the SSL authentication scheme",
                key="ssl.authProvider",
                value=scheme,
            )

    # ------------------------------------------------------------------ system properties
    def system_property_key(self, key: str, value: str) -> None:
        """The else branch of parseProperties: System.setProperty("zookeeper." + key, value)."""
        self.sysprops[f"zookeeper.{key}"] = value
        if key.startswith(("server.", "group", "weight")) or key == "version":
            return  # the quorum config; 3.8 sets these as properties too, nothing reads them
        if key in _SYSPROP_ACTED:
            return
        if key in _SYSPROP_NOT_ACTED or key.startswith(_SYSPROP_NOT_ACTED_PREFIXES):
            self.not_acted.append(key)
            return
        self.unknown[key] = value

    def sysprop(self, name: str) -> str | None:
        return self.sysprops[name] if name in self.sysprops else self.jvm.get(name)

    def sysprop_bool_jvm(self, name: str) -> bool:
        v = self.jvm.get(name)
        return v is not None and v.lower() == "true"

    def _prop(self, key: str) -> tuple[str, str, str] | None:
        """The value 3.8 would read for zoo.cfg ``key``: (origin, key, value) or None.

        Prefixed ones: the zoo.cfg key, else -Dzookeeper.<key>.  Unprefixed ones (``_UNPREFIXED``):
        -D<key>, else the zoo.cfg key (honoured by us, ignored by 3.8).
        """
        if key in _UNPREFIXED:
            if key in self.jvm:
                return "-D", key, self.jvm[key]
            name = f"zookeeper.{key}"
            if name in self.sysprops:
                self.warn(f"{key}={self.sysprops[name]} from zoo.cfg honoured (3.8 reads only -D{key})")
                return "", key, self.sysprops[name]
            return None
        name = f"zookeeper.{key}"
        if name in self.sysprops:
            return "", key, self.sysprops[name]
        if name in self.jvm:
            return "-D", name, self.jvm[name]
        return None

    def _int_prop(self, key: str, default: int, *, bits: int = 32, decode: bool = True) -> int:
        found = self._prop(key)
        if found is None:
            return default
        origin, name, value = found
        # 3.8: Integer.getInteger / Long.getLong silently fall back to the default on a bad value
        parse = _java_decode if decode else _java_int
        return parse(name, _java_trim(value), bits, origin=origin)

    def _str_prop(self, key: str) -> str | None:
        found = self._prop(key)
        return None if found is None else found[2]

    def system_property_values(self) -> None:
        o = self.out
        snap_count = self._int_prop("snapCount", DEFAULT_SNAP_COUNT)
        if snap_count < 2:
            self.warn("SnapCount should be 2 or more. Now, snapCount is reset to 2")
            snap_count = 2
        o["snap_count"] = snap_count
        o["pre_alloc_size_kb"] = self._int_prop("preAllocSize", DEFAULT_PREALLOC_KB, bits=64, decode=False)
        force_sync = self._str_prop("forceSync")
        o["force_sync"] = force_sync != "no"
        if force_sync is not None and force_sync not in ("yes", "no"):
            self.warn(f"forceSync={force_sync} means yes: only 'no' turns fsync off")
        o["global_outstanding_limit"] = self._int_prop(
            "globalOutstandingLimit", DEFAULT_GLOBAL_OUTSTANDING_LIMIT
        )
        o["jute_maxbuffer"] = self._int_prop("jute.maxbuffer", DEFAULT_JUTE_MAXBUFFER)
        o["snap_size_limit_kb"] = self._int_prop("snapSizeLimitInKb", DEFAULT_SNAP_SIZE_LIMIT_KB, bits=64)
        o["txn_log_size_limit_kb"] = self._int_prop("txnLogSizeLimitInKb", -1, bits=64)
        o["max_batch_size"] = self._int_prop("maxBatchSize", 1000)
        o["snapshot_trust_empty"] = _java_bool(self._str_prop("snapshot.trust.empty"), False)
        if self._prop("fsync.warningthresholdms") is not None:
            o["fsync_warning_threshold_ms"] = self._int_prop("fsync.warningthresholdms", 1000, bits=64)
        else:  # FileTxnLog falls back to the unprefixed -Dfsync.warningthresholdms
            raw = self.jvm.get("fsync.warningthresholdms")
            o["fsync_warning_threshold_ms"] = (
                1000
                if raw is None
                else _java_decode("fsync.warningthresholdms", _java_trim(raw), 64, origin="-D")
            )
        self.sync_window_values()
        o["digest_enabled"] = _java_bool(self._str_prop("digest.enabled"), True)
        o["extended_types_enabled"] = _java_bool(self._str_prop("extendedTypesEnabled"), False)
        ro = self._str_prop("readonlymode.enabled")
        o["readonly_mode_enabled"] = _java_bool(ro, False)
        o["four_letter_whitelist"] = _whitelist(self._str_prop("4lw.commands.whitelist"), ro)
        o["super_digest"] = self._str_prop("DigestAuthenticationProvider.superDigest")
        o["digest_auth_enabled"] = _java_bool(self._str_prop("DigestAuthenticationProvider.enabled"), True)
        o["enforce_quota"] = _java_bool(self._str_prop("enforceQuota"), False)
        o["skip_acl"] = self._str_prop("skipACL") == "yes"
        o["container_check_interval_ms"] = self._int_prop("znode.container.checkIntervalMs", 60000)
        o["container_max_per_minute"] = self._int_prop("znode.container.maxPerMinute", 10000)
        o["container_max_never_used_ms"] = self._int_prop(
            "znode.container.maxNeverUsedIntervalMs", 0, bits=64
        )
        self.admin_server_values()

    def sync_window_values(self) -> None:
        """ZKDatabase's constructor: commitLogCount (raised to 500) and snapshotSizeFactor (> 1
        means the default).  3.8 falls back to the default on a value it cannot parse; we name it
        and exit, as for every other property."""
        o = self.out
        count = self._int_prop("commitLogCount", DEFAULT_COMMIT_LOG_COUNT, decode=False)
        if count < DEFAULT_COMMIT_LOG_COUNT:
            self.warn(
                f"commitLogCount {count} is less than the recommended {DEFAULT_COMMIT_LOG_COUNT}, "
                "going to use the recommended one"
            )
            count = DEFAULT_COMMIT_LOG_COUNT
        o["commit_log_count"] = count
        found = self._prop("snapshotSizeFactor")
        factor = DEFAULT_SNAPSHOT_SIZE_FACTOR
        if found is not None:
            origin, name, value = found
            factor = _java_double(origin + name, _java_trim(value))
            if factor > 1:
                self.warn(
                    f"snapshotSizeFactor {value} is invalid, going to use the default {DEFAULT_SNAPSHOT_SIZE_FACTOR}"
                )
                factor = DEFAULT_SNAPSHOT_SIZE_FACTOR
        o["snapshot_size_factor"] = factor

    def admin_server_values(self) -> None:
        """AdminServerFactory / JettyAdminServer's zookeeper.admin.* properties."""
        o = self.out
        o["admin_enable_server"] = self._str_prop("admin.enableServer") != "false"
        address = self._str_prop("admin.serverAddress")
        # Jetty binds InetAddress.getByName(""), the loopback address, for an empty host
        o["admin_server_address"] = "0.0.0.0" if address is None else (address or "127.0.0.1")
        port = self._int_prop("admin.serverPort", 8080)
        if not 0 <= port <= 65535:
            raise _kv_error("admin.serverPort", str(port), "is not a port: it must be 0..65535")
        o["admin_server_port"] = port
        url = self._str_prop("admin.commandURL")
        o["admin_command_url"] = "/commands" if url is None else url
        o["admin_idle_timeout"] = self._int_prop("admin.idleTimeout", 30000)
        force_https = self._str_prop("admin.forceHttps")
        if o["admin_enable_server"] and force_https is not None and force_https.lower() == "true":
            # serving the commands over plain HTTP instead would be a silent downgrade
            raise _kv_error(
                "admin.forceHttps", force_https, "is not supported: zk_twisted's AdminServer serves no HTTPS"
            )

    # ------------------------------------------------------------------ the quorum
    def read_dynamic(self, value: str) -> tuple[str, dict[str, str]]:
        """The dynamic file: only server.N / group / weight; its version comes from its name."""
        path = self.path(value)
        try:
            with open(path, "rb") as f:
                text = f.read().decode("latin-1")
        except FileNotFoundError:
            raise ConfigError(
                f"dynamicConfigFile={value}: {path} does not exist", key="dynamicConfigFile", value=value
            ) from None
        except OSError as e:
            raise ConfigError(
                f"dynamicConfigFile={value}: {path}: {e.strerror}", key="dynamicConfigFile", value=value
            ) from None
        props = parse_properties(text, path)
        if "version" in props:
            raise ConfigError(
                f"dynamic config file {path} shouldn't have version inside", key="version", path=path
            )
        version = _version_from_filename(value)
        if version is not None:
            props["version"] = version
        for key, v in props.items():
            if not key.startswith(("server.", "group", "weight")) and key != "version":
                raise ConfigError(
                    f"{key}={v} in {path}: unrecognised parameter {key}", key=key, value=v, path=path
                )
        return path, props

    def quorum(self, props: Mapping[str, str], static_client: _SockAddr | None, dyn_path: str | None) -> None:
        """parseDynamicConfig + QuorumMaj/QuorumHierarchical + setupMyId/ClientPort/PeerType."""
        o = self.out
        hierarchical = any(k.startswith(("group", "weight")) for k in props)
        servers: dict[int, QuorumServer] = {}
        defined_by: dict[int, str] = {}
        groups: dict[int, list[int]] = {}
        group_of: dict[int, str] = {}
        weights: dict[int, int] = {}
        for key, value in props.items():  # untrimmed values, as the verifiers see them
            if key.startswith("server."):
                qs = _parse_server(key, value, o["multi_address_enabled"])
                if qs.sid in servers:
                    # 3.8: the later of the two in hash order silently wins
                    raise ConfigError(
                        f"{defined_by[qs.sid]} and {key} both define server {qs.sid}", key=key, value=value
                    )
                servers[qs.sid], defined_by[qs.sid] = qs, key
                if len(qs.addrs) > 1 and self.multi_from_zoo_cfg_only:
                    self.warn(
                        f"{key}: multiAddress.enabled=true from zoo.cfg honoured (3.8 needs -Dzookeeper.multiAddress.enabled=true)"
                    )
            elif hierarchical and key.startswith("group"):
                # any key starting with "group" is a group.N line to 3.8
                gid = _sid_of(key, value, key[key.find(".") + 1 :], "group id")
                members = []
                for part in _java_split(value, ":"):
                    sid = _sid_of(key, value, part, "server id")
                    if sid in group_of:
                        raise _kv_error(
                            key, value, f": server {sid} is in multiple groups (also in {group_of[sid]})"
                        )
                    group_of[sid] = key
                    members.append(sid)
                groups[gid] = members
            elif hierarchical and key.startswith("weight"):
                sid = _sid_of(key, value, key[key.find(".") + 1 :], "server id")
                weights[sid] = _java_int(key, value, 64)
            elif key == "version":  # Long.parseLong(value, 16)
                if (
                    not re.fullmatch(r"[+-]?[0-9a-fA-F]+", value)
                    or not _INT64[0] <= int(value, 16) <= _INT64[1]
                ):
                    raise _kv_error(key, value, "is not a hexadecimal number")
                o["config_version"] = int(value, 16)
        if hierarchical:
            for sid, qs in sorted(servers.items()):
                if qs.is_participant:
                    if sid not in group_of:
                        raise ConfigError(
                            f"{defined_by[sid]} is a participant but is in no group (group.N is used)",
                            key=defined_by[sid],
                            value=props[defined_by[sid]],
                        )
                    weights.setdefault(sid, 1)
            for sid, gkey in group_of.items():
                if sid not in weights:
                    # 3.8: NullPointerException while computing the group weights
                    raise _kv_error(
                        gkey, props[gkey], f": server {sid} has no weight.{sid} and is no participant"
                    )
                if sid not in servers:
                    self.warn(f"{gkey}={props[gkey]} lists server {sid}, which has no server.{sid} line")

        voting = [s for s in servers.values() if s.is_participant]
        observing = [s for s in servers.values() if s.is_observer]
        standalone_enabled = o.get("standalone_enabled", True)
        if not voting:
            if not standalone_enabled:
                raise ConfigError(
                    "standaloneEnabled=false needs participants, but there is no server.N participant line",
                    key="standaloneEnabled",
                    value="false",
                )
            if observing:
                raise ConfigError(
                    "Observers w/o participants is an invalid configuration "
                    f"({', '.join(defined_by[s.sid] for s in observing)} but no participant)",
                    key=defined_by[observing[0].sid],
                )
        elif len(voting) == 1 and standalone_enabled:
            self.warn("Invalid configuration, only one server specified (ignoring)")
            if observing:
                raise ConfigError(
                    "Observers w/o quorum is an invalid configuration "
                    f"(one participant, {defined_by[voting[0].sid]}, and standaloneEnabled=true)",
                    key=defined_by[observing[0].sid],
                )
        elif len(voting) <= 2:
            self.warn("No server failure will be tolerated. You need at least 3 servers.")
        elif len(voting) % 2 == 0:
            self.warn("Non-optimal configuration, consider an odd number of servers.")

        server_id = self.raw_server_id = self.myid()
        o["server_id"] = server_id if server_id != UNSET_SERVERID else 0

        # setupClientPort
        me = servers.get(server_id) if server_id != UNSET_SERVERID else None
        client = static_client
        if me is not None:
            line_client = None
            if me.client_addr is not None:
                host, port = me.client_addr
                line_client = _SockAddr(host, port, self.resolve(host))
                if line_client.ip is None:
                    # 3.8 fails later, binding an unresolved address
                    key = defined_by[server_id]
                    raise _kv_error(key, props[key], f": client address host {host} is unknown")
            if static_client is not None and line_client is not None:
                wildcard = _is_wildcard(static_client.ip)
                if (not wildcard and not static_client.same(line_client)) or (
                    wildcard and static_client.port != line_client.port
                ):
                    key = defined_by[server_id]
                    where = f"dynamic config file {dyn_path}" if dyn_path else key
                    static_desc = (
                        f"clientPort={static_client.port}"
                        if "clientPortAddress" not in self.props
                        else f"clientPortAddress={static_client.host}, clientPort={static_client.port}"
                    )
                    raise ConfigError(
                        f"client address for this server (id = {server_id}): {static_desc} differs from "
                        f"{line_client.host}:{line_client.port} in {where}",
                        key=key,
                        value=props[key],
                    )
            if line_client is not None:
                client = line_client
            elif static_client is not None:
                servers[server_id] = _replace(
                    me, client_addr=(static_client.host, static_client.port), client_addr_from_static=True
                )
        if client is not None:
            o["client_port"] = client.port
            if static_client is client and "clientPortAddress" not in self.props:
                o["client_port_address"] = o["client_port_ip"] = None
            else:
                o["client_port_address"] = client.host
                o["client_port_ip"] = client.ip

        # setupPeerType
        by_list = OBSERVER if server_id in {s.sid for s in observing} else PARTICIPANT
        declared = o.get("peer_type", PARTICIPANT)
        if by_list != declared:
            self.warn(
                f"Peer type from servers list ({by_list.upper()}) doesn't match peerType ({declared.upper()}). "
                "Defaulting to servers list."
            )
        o["peer_type"] = by_list

        o["servers"] = _ro(dict(sorted(servers.items())))
        o["groups"] = _ro({g: tuple(m) for g, m in sorted(groups.items())})
        o["weights"] = _ro(dict(sorted(weights.items())) if hierarchical else {})

    def myid(self) -> int:
        """setupMyId: dataDir/myid, first line, Long.parseLong, read whenever the file exists."""
        path = f"{self.out['data_dir']}/myid"
        if not os.path.isfile(path):
            return UNSET_SERVERID
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ConfigError(f"{path} cannot be read: {e.strerror}", path=path) from None
        text = data.decode("utf-8", errors="replace")
        first = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0] if text else None
        self.out["myid_path"] = path
        sid = None if first is None else _decimal(first, 64)
        if sid is None:
            shown = "null" if first is None else first
            raise ConfigError(
                f"serverid {shown} is not a number (in {path})", key="myid", value=shown, path=path
            )
        return sid

    def checks(self) -> None:
        """checkValidity, plus what 3.8 only finds when it starts the server."""
        o = self.out
        servers: Mapping[int, QuorumServer] = o["servers"]
        voting = [s for s in servers.values() if s.is_participant]
        distributed = not o.get("standalone_enabled", True) or len(voting) > 1
        myid_path = o.get("myid_path") or f"{o['data_dir']}/myid"
        if distributed:
            if o.get("init_limit", 0) == 0:
                raise ConfigError(
                    "initLimit is not set (it is required with server.N lines)", key="initLimit"
                )
            if o.get("sync_limit", 0) == 0:
                raise ConfigError(
                    "syncLimit is not set (it is required with server.N lines)", key="syncLimit"
                )
            if self.raw_server_id == UNSET_SERVERID:
                raise ConfigError(f"myid file is missing: {myid_path}", key="myid", path=myid_path)
            sid = o["server_id"]
            if sid not in servers:
                # 3.8: RuntimeException from QuorumPeer.start, exit status 1
                raise ConfigError(
                    f"My id {sid} not in the peer list: {myid_path} says {sid}, "
                    f"the server.N lines are {', '.join(map(str, servers)) or 'none'}",
                    key="myid",
                    value=str(sid),
                    path=myid_path,
                    exit_code=1,
                )
            if o["extended_types_enabled"] and sid > MAX_EXTENDED_SERVER_ID:
                # 3.8: RuntimeException from SessionTrackerImpl, exit status 1
                raise ConfigError(
                    f"extendedTypesEnabled is true but server id {sid} (from {myid_path}) is too large: "
                    f"it cannot be larger than {MAX_EXTENDED_SERVER_ID}",
                    key="extendedTypesEnabled",
                    value="true",
                    exit_code=1,
                )
        elif not o.get("client_port"):
            # 3.8.0 would start without any client port (and serve only its admin server); with
            # neither a client port nor an admin server zk_twisted would serve nothing at all.
            if o.get("secure_client_port"):
                msg = "clientPort is not set and zk_twisted serves no secureClientPort (TLS)"
            else:
                msg = "Neither client secure port nor client port is defined: set clientPort"
            raise ConfigError(msg, key="clientPort")


def _replace(obj: Any, **changes: Any) -> Any:
    kw = {f.name: getattr(obj, f.name) for f in fields(obj)}
    kw.update(changes)
    return type(obj)(**kw)


def _java_bool(value: str | None, default: bool) -> bool:
    """Boolean.parseBoolean / Boolean.getBoolean: 'true' in any case is true, anything else false."""
    if value is None:
        return default
    return value.lower() == "true"


def _whitelist(spec: str | None, readonly: str | None) -> frozenset[str]:
    """FourLetterCommands.isEnabled: comma list, trimmed, ``*`` = all, srvr always on.

    Words that are not four-letter words are dropped (3.8 keeps them; they can never match).
    ``isro`` is added when readonly mode is on, compared case-sensitively as 3.8 does.
    """
    enabled: set[str] = set()
    for item in spec.split(",") if spec is not None else ():
        word = _java_trim(item)
        if word == "*":
            enabled |= FOUR_LETTER_WORDS
            break
        if word in FOUR_LETTER_WORDS:
            enabled.add(word)
    if readonly == "true":
        enabled.add("isro")
    enabled.add("srvr")
    return frozenset(enabled)


def _version_from_filename(path: str) -> str | None:
    """getVersionFromFilename: ``zoo.cfg.dynamic.1001`` -> '1001' (hex, normalised)."""
    suffix = path.rsplit(".", 1)[-1] if "." in path else None
    if suffix is None or not re.fullmatch(r"[+-]?[0-9a-fA-F]+", suffix):
        return None
    n = int(suffix, 16)
    if not _INT64[0] <= n <= _INT64[1]:
        return None
    return format(n & ((1 << 64) - 1), "x")


# ------------------------------------------------------------------------------ entry points
def parse_config(
    source: str | Mapping[str, str],
    base_dir: str | os.PathLike[str] | None = None,
    *,
    config_path: str | None = None,
    jvm_properties: Mapping[str, str] | None = None,
    resolver: Resolver | None = None,
) -> ZKConfig:
    """Parse zoo.cfg text (or an already-split key -> value mapping) into a :class:`ZKConfig`.

    ``base_dir`` is the working directory relative paths (dataDir, dataLogDir,
    dynamicConfigFile) are resolved against, as the JVM resolves them against its cwd; the myid
    file is read from the resulting dataDir.  ``jvm_properties`` are the ``-D`` properties the
    Java server would have been started with; ``resolver`` maps a host name to an IP literal.
    """
    base = os.fspath(base_dir) if base_dir is not None else os.getcwd()
    source_name = config_path or "<zoo.cfg>"
    if isinstance(source, str):
        props = parse_properties(source, source_name)
        initial = source
    else:
        props = {_java_trim(str(k)): str(v) for k, v in source.items()}
        initial = "".join(f"{k}={v}\n" for k, v in props.items())
    parser = _Parser(props, base, config_path, jvm_properties or {}, resolver or default_resolver)
    first = next(iter(props), "")
    if first.startswith("\u00ef\u00bb\u00bf"):
        parser.warn(
            f"{source_name} starts with a UTF-8 byte order mark: the first key reads as {first!r}, as in 3.8"
        )
    cfg = parser.parse()
    cfg = _replace(cfg, initial_config=initial)
    for w in cfg.warnings:
        log.warning("%s", w)
    return cfg


def load_config(
    path: str | os.PathLike[str],
    *,
    jvm_properties: Mapping[str, str] | None = None,
    resolver: Resolver | None = None,
) -> ZKConfig:
    """Read zoo.cfg at ``path`` (and dataDir/myid) as ZooKeeper 3.8's QuorumPeerConfig.parse."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ConfigError(f"{p} does not exist", path=p) from None
    except IsADirectoryError:
        raise ConfigError(f"{p} is a directory, not a zoo.cfg file", path=p) from None
    except OSError as e:
        raise ConfigError(f"{p} cannot be read: {e.strerror}", path=p) from None
    log.info("Reading configuration from: %s", p)
    cfg = parse_config(
        data.decode("latin-1"),  # Properties.load(InputStream) reads ISO-8859-1
        config_path=p,
        jvm_properties=jvm_properties,
        resolver=resolver,
    )
    return _replace(cfg, initial_config=data.decode("utf-8", errors="replace"))
