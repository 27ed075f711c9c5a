"""3.8's admin commands (org.apache.zookeeper.server.admin.Commands): one gatherer per fact.

Each gatherer reads the server through a :class:`~zk_twisted.admin.view.ServerView` and
returns plain data in the shape 3.8's AdminServer puts in its JSON (keys, nesting, value
types); :data:`COMMANDS` maps every name 3.8 registers to a :class:`Command` that builds
the response from them.  The four-letter words (:mod:`zk_twisted.network.fourletter`) render
the same gatherers as 3.8's text, so the two surfaces cannot drift apart.

The quorum-only commands (leader, zabstate, voting_view, observers, orst) answer what 3.8's
standalone server answers until the service exposes a ``quorum`` object
(:class:`QuorumAdmin`); then they read the peer's facts from it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..constants import VERSION_STRING
from ..server.datatree import DIGEST_VERSION
from ..server.metrics import round_avg
from ..tools.javafmt import hex_long, java_address
from . import monitor, procinfo
from .view import ServerView

ZK_NOT_SERVING = "This ZooKeeper instance is not currently serving requests"

KEY_COMMAND = "command"
KEY_ERROR = "error"


# ---------------------------------------------------------------------- the response
@dataclass
class CommandResponse:
    """CommandResponse: the command's primary name, an error (or None) and the data."""

    command: str
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_map(self) -> dict[str, Any]:
        """As 3.8's toMap: the data, then command and error; an ``error`` the data holds itself
        (leader, set_trace_mask) keeps its place and its value."""
        m = dict(self.data)
        m[KEY_COMMAND] = self.command
        m[KEY_ERROR] = self.error
        m.update(self.data)
        return m


# ---------------------------------------------------------------------- what a quorum peer offers
class QuorumAdmin(Protocol):
    """What the quorum-only commands read off a quorum peer (3.8: QuorumPeer, Leader, Follower).

    A quorum service exposes one as ``context.quorum``; addresses are ``host:port`` strings,
    as Jackson writes an InetSocketAddress.
    """

    myid: int

    def is_leader(self) -> bool: ...
    def leader_id(self) -> int: ...
    def leader_address(self) -> str | None: ...
    def zab_state(self) -> str: ...  # election / discovery / synchronization / broadcast
    def quorum_address(self) -> str: ...
    def election_address(self) -> str: ...
    def client_address(self) -> str: ...
    def is_voting(self) -> bool: ...
    #: sid -> {server_addresses: [..], election_addresses: [..], client_address, learner_type}
    def voting_view(self) -> Mapping[int, Mapping[str, Any]]: ...
    #: (synced observers, LearnerHandler infos) on a leader or follower, None otherwise
    def observers(self) -> tuple[int, list[Mapping[str, Any]]] | None: ...
    def reset_observer_stats(self) -> None: ...
    #: the leader's ProposalStats as BufferStats (last/min/max_buffer_size); None on a learner
    def proposal_stats(self) -> Mapping[str, int] | None: ...


# ---------------------------------------------------------------------- gatherers
def socket_address(ip: str, port: int) -> str:
    """An InetSocketAddress as Jackson writes it: ``1.2.3.4:5``, ``[0:0:0:0:0:0:0:1]:5``."""
    text = java_address(ip, port)
    return text[1:] if text.startswith("/") else f"{ip}:{port}"


def interest_ops(cnxn) -> int:
    """NIOServerCnxn.getInterestOps: 0 once a word took over or reading is paused, else OP_READ."""
    if (
        getattr(cnxn, "four_letter_word", None)
        or getattr(cnxn, "_paused", False)
        or getattr(cnxn, "throttled", False)
    ):
        return 0
    return 1


def elapsed_time(ms: int, cnxn) -> int:
    """A wall-clock ms of ``cnxn``'s server on 3.8's monotonic clock (Time.currentElapsedTime)."""
    if not ms:
        return 0
    zks = getattr(cnxn, "zks", None)
    now = zks.wall_time() if zks is not None else int(time.time() * 1000)
    return max(0, int(time.monotonic() * 1000) - (now - ms))


def connection_info(cnxn, brief: bool) -> dict[str, Any]:
    """ServerCnxn.getConnectionInfo: the brief five keys (stat), or all of them (cons)."""
    info: dict[str, Any] = {
        "remote_socket_address": socket_address(cnxn.remote_ip, cnxn.remote_port),
        "interest_ops": interest_ops(cnxn),
        "outstanding_requests": cnxn.outstanding,
        "packets_received": cnxn.packets_received,
        "packets_sent": cnxn.packets_sent,
    }
    if not brief:
        count = cnxn.count
        info.update(
            session_id=cnxn.session_id,
            last_operation=cnxn.last_op,
            established=cnxn.established,
            session_timeout=cnxn.session_timeout,
            last_cxid=cnxn.last_cxid,
            last_zxid=cnxn.last_zxid,
            last_response_time=elapsed_time(cnxn.last_response_time, cnxn),
            last_latency=cnxn.last_latency,
            min_latency=cnxn.min_latency if cnxn.min_latency >= 0 else 0,
            avg_latency=cnxn.total_latency // count if count else 0,
            max_latency=cnxn.max_latency,
        )
    return info


def all_connection_info(w: ServerView, brief: bool) -> list[dict[str, Any]]:
    """ServerCnxnFactory.getAllConnectionInfo of the client port."""
    return [connection_info(c, brief) for c in w.cnxns()]


def reset_connection_stats(w: ServerView) -> None:
    """ServerCnxnFactory.resetAllConnectionStats (crst)."""
    for c in list(w.zks.cnxns):
        c.reset_stats()


def dir_sizes(w: ServerView) -> dict[str, int]:
    """ZooKeeperServer.getDataDirSize / getLogDirSize (dirs)."""
    return {"datadir_size": procinfo.dir_size(w.snap_dir()), "logdir_size": procinfo.dir_size(w.log_dir())}


def client_response_stats(w: ServerView) -> dict[str, int]:
    """ServerStats.getClientResponseStats, a BufferStats: -1 until the first response."""
    sizes = w.zks.stats.response_sizes
    return {"last_buffer_size": sizes.last, "min_buffer_size": sizes.min, "max_buffer_size": sizes.max}


def server_stats(w: ServerView) -> dict[str, Any]:
    """ServerStats as Jackson writes its getters (srvr, stat)."""
    zks = w.zks
    s = zks.stats
    dirs = dir_sizes(w)
    return {
        "packets_sent": s.packets_sent,
        "packets_received": s.packets_received,
        "fsync_threshold_exceed_count": s.fsync_threshold_exceeded,
        "client_response_stats": client_response_stats(w),
        "uptime": w.uptime_ms(),
        "data_dir_size": dirs["datadir_size"],
        "log_dir_size": dirs["logdir_size"],
        "provider_null": False,
        "server_state": w.server_state(),
        "last_processed_zxid": zks.db.last_processed_zxid,
        "outstanding_requests": zks.outstanding_requests,
        "avg_latency": round_avg(s.total_latency, s.count),
        "max_latency": s.max_latency,
        "min_latency": s.min_latency if s.min_latency >= 0 else 0,
        "num_alive_client_connections": len(zks.cnxns),
        "auth_failed_count": s.auth_failed,
        # 3.8's getter names (getNonMTLSRemoteConnCount) snake-case to these
        "non_mtlsremote_conn_count": 0,  # no TLS port: no connection is counted here
        "non_mtlslocal_conn_count": 0,
    }


def is_read_only(w: ServerView) -> bool:
    return bool(getattr(w.zks, "read_only", False))


def server_conf(w: ServerView) -> dict[str, Any]:
    """ZooKeeperServerConf.toMap (configuration)."""
    standalone = w.server_state() == "standalone"
    return {
        "client_port": w.client_port(),
        "data_dir": w.snap_dir(),
        "data_log_dir": w.log_dir(),
        "tick_time": w.cfg("tick_time", "tickTime", default=w.zks.settings.tick_time),
        "max_client_cnxns": w.cfg("max_client_cnxns", "maxClientCnxns", default=60),
        "min_session_timeout": w.zks.settings.min_session_timeout,
        "max_session_timeout": w.zks.settings.max_session_timeout,
        "server_id": 0 if standalone else w.cfg("server_id", "myid", default=0),
        "client_port_listen_backlog": w.cfg(
            "client_port_listen_backlog", "clientPortListenBacklog", default=-1
        ),
    }


def session_expiry_map(w: ServerView) -> dict[int, list[int]]:
    """SessionTracker.getSessionExpiryMap: expiry bucket time -> session ids (dump)."""
    buckets = w.zks.sessions.queue.buckets
    return {t: sorted(s.session_id for s in buckets[t]) for t in sorted(buckets)}


def ephemerals(w: ServerView) -> dict[int, list[str]]:
    """ZKDatabase.getEphemerals: session id -> its ephemeral paths (dump)."""
    eph = w.zks.db.tree.ephemerals
    return {sid: sorted(eph[sid]) for sid in sorted(eph)}


def digest_log(w: ServerView) -> list[dict[str, int]]:
    """DataTree.getDigestLog: the tree digest at every 128th zxid (hash)."""
    log: Iterable = getattr(w.zks.db, "digest_log", ())
    return [{"zxid": zxid, "digest_version": DIGEST_VERSION, "digest": digest} for zxid, digest in log]


def last_snapshot(w: ServerView) -> tuple[int, int] | None:
    """FileSnap.getLastSnapshotInfo: (zxid, mtime in s) of the last snapshot written or restored."""
    snaplog = getattr(w.storage, "snaplog", None)
    path = getattr(snaplog, "last_snapshot", None)
    if path is None:
        return None
    try:
        zxid = int(os.path.basename(path).rsplit(".", 1)[1], 16)
    except (IndexError, ValueError):
        return None
    try:
        mtime = int(os.stat(path).st_mtime)
    except OSError:
        mtime = 0  # File.lastModified of a file purged since
    return zxid, mtime


def _watcher_sid(watcher) -> int:
    return getattr(watcher, "session_id", 0)


def watches(w: ServerView) -> dict[int, list[str]]:
    """DataTree.getWatches: session id -> watched paths (data watches, as 3.8)."""
    by_watcher = w.zks.db.tree.data_watches.by_watcher
    return {_watcher_sid(c): sorted(paths) for c, paths in by_watcher.items()}


def watches_by_path(w: ServerView) -> dict[str, list[int]]:
    """DataTree.getWatchesByPath: path -> the watching sessions."""
    table = w.zks.db.tree.data_watches.table
    return {path: [_watcher_sid(c) for c in table[path]] for path in sorted(table)}


def watch_summary(w: ServerView) -> dict[str, int]:
    """DataTree.getWatchesSummary (wchs)."""
    dw = w.zks.db.tree.data_watches
    return {
        "num_connections": len(dw.by_watcher),
        "num_paths": len(dw.table),
        "num_total_watches": sum(len(paths) for paths in dw.by_watcher.values()),
    }


def system_properties(w: ServerView) -> dict[str, str]:
    """System.getProperties, sorted: the runtime's, the -D flags, then what zoo.cfg set."""
    props = procinfo.runtime_properties()
    cfg = w.config
    props.update(getattr(cfg, "jvm_properties", None) or {})
    props.update(getattr(cfg, "system_properties", None) or {})
    return dict(sorted(props.items()))


# ---------------------------------------------------------------------- the commands
Kwargs = Mapping[str, str]


def _crst(w: ServerView, kw: Kwargs) -> dict:
    reset_connection_stats(w)
    return {}


def _conf(w: ServerView, kw: Kwargs) -> dict:
    return server_conf(w)


def _cons(w: ServerView, kw: Kwargs) -> dict:
    return {"connections": all_connection_info(w, False), "secure_connections": []}


def _hash(w: ServerView, kw: Kwargs) -> dict:
    return {"digests": digest_log(w)}


def _dirs(w: ServerView, kw: Kwargs) -> dict:
    return dir_sizes(w)


def _dump(w: ServerView, kw: Kwargs) -> dict:
    return {
        "expiry_time_to_session_ids": session_expiry_map(w),
        "session_id_to_ephemeral_paths": ephemerals(w),
    }


def _env(w: ServerView, kw: Kwargs) -> dict:
    return dict(procinfo.environment(w.host_name()))


def _gtmk(w: ServerView, kw: Kwargs) -> dict:
    return {"tracemask": w.trace_mask}


def _icfg(w: ServerView, kw: Kwargs) -> dict:
    return {"initial_configuration": w.cfg("initial_config")}


def _isro(w: ServerView, kw: Kwargs) -> dict:
    return {"read_only": is_read_only(w)}


def _lsnp(w: ServerView, kw: Kwargs) -> dict:
    info = last_snapshot(w)
    zxid, ts = info if info is not None else (-1, -1)
    return {"zxid": hex_long(zxid), "timestamp": ts}


def _leader(w: ServerView, kw: Kwargs) -> dict:
    q = w.quorum
    if q is None:
        return {KEY_ERROR: "server is not initialized"}
    return {"is_leader": q.is_leader(), "leader_id": q.leader_id(), "leader_ip": q.leader_address() or ""}


def _mntr(w: ServerView, kw: Kwargs) -> dict:
    return dict(monitor.monitor_values(w))


def _orst(w: ServerView, kw: Kwargs) -> dict:
    if w.quorum is not None:
        w.quorum.reset_observer_stats()
    return {}


def _ruok(w: ServerView, kw: Kwargs) -> dict:
    return {}


def _stmk(w: ServerView, kw: Kwargs) -> dict:
    if "traceMask" not in kw:
        return {KEY_ERROR: "setTraceMask requires long traceMask argument"}
    text = kw["traceMask"]
    mask = _parse_long(text)
    if mask is None:
        return {KEY_ERROR: f"setTraceMask requires long traceMask argument, got {text}"}
    w.trace_mask = mask
    return {"tracemask": mask}


def _parse_long(text: str) -> int | None:
    """Long.parseLong: optional sign, ASCII digits only, within 64 bits."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    v = int(text)
    return v if -(1 << 63) <= v < (1 << 63) else None


def _srvr(w: ServerView, kw: Kwargs) -> dict:
    data: dict[str, Any] = {
        "version": VERSION_STRING,
        "read_only": is_read_only(w),
        "server_stats": server_stats(w),
        "client_response": client_response_stats(w),
    }
    q = w.quorum
    proposals = q.proposal_stats() if q is not None and q.is_leader() else None
    if proposals is not None:
        data["proposal_stats"] = dict(proposals)
    data["node_count"] = len(w.zks.db.tree.nodes)
    return data


def _stat(w: ServerView, kw: Kwargs) -> dict:
    data = _srvr(w, kw)
    data["connections"] = all_connection_info(w, True)
    data["secure_connections"] = []
    return data


def _srst(w: ServerView, kw: Kwargs) -> dict:
    monitor.reset_server_stats(w)
    return {}


def _obsr(w: ServerView, kw: Kwargs) -> dict:
    found = w.quorum.observers() if w.quorum is not None else None
    synced, infos = found if found is not None else (0, [])
    return {"synced_observers": synced, "observers": list(infos)}


def _sysp(w: ServerView, kw: Kwargs) -> dict:
    return system_properties(w)


def _voting_view(w: ServerView, kw: Kwargs) -> dict:
    q = w.quorum
    return {"current_config": {} if q is None else {sid: dict(v) for sid, v in q.voting_view().items()}}


def _wchc(w: ServerView, kw: Kwargs) -> dict:
    return {"session_id_to_watched_paths": watches(w)}


def _wchp(w: ServerView, kw: Kwargs) -> dict:
    return {"path_to_session_ids": watches_by_path(w)}


def _wchs(w: ServerView, kw: Kwargs) -> dict:
    return watch_summary(w)


def _zabstate(w: ServerView, kw: Kwargs) -> dict:
    q = w.quorum
    if q is None:
        return {"voting": False, "zabstate": ""}
    zxid = w.zks.db.last_processed_zxid
    return {
        "myid": q.myid,
        "is_leader": q.is_leader(),
        "quorum_address": q.quorum_address(),
        "election_address": q.election_address(),
        "client_address": q.client_address(),
        "voting": q.is_voting(),
        "last_zxid": f"0x{hex_long(zxid)}",
        "zab_epoch": zxid >> 32,
        "zab_counter": zxid & 0xFFFFFFFF,
        "zabstate": q.zab_state(),
    }


@dataclass(frozen=True)
class Command:
    """One registered command: its names (primary first) and whether it needs a running server."""

    names: tuple[str, ...]
    run: Callable[[ServerView, Kwargs], dict]
    server_required: bool = True

    @property
    def primary_name(self) -> str:
        return self.names[0]


#: Commands' static block, in its order
_ALL = (
    Command(("connection_stat_reset", "crst"), _crst),
    Command(("configuration", "conf", "config"), _conf),
    Command(("connections", "cons"), _cons),
    Command(("hash",), _hash),
    Command(("dirs",), _dirs),
    Command(("dump",), _dump),
    Command(("environment", "env", "envi"), _env, server_required=False),
    Command(("get_trace_mask", "gtmk"), _gtmk, server_required=False),
    Command(("initial_configuration", "icfg"), _icfg),
    Command(("is_read_only", "isro"), _isro),
    Command(("last_snapshot", "lsnp"), _lsnp),
    Command(("leader", "lead"), _leader),
    Command(("monitor", "mntr"), _mntr, server_required=False),
    Command(("observer_connection_stat_reset", "orst"), _orst),
    Command(("ruok",), _ruok),
    Command(("set_trace_mask", "stmk"), _stmk, server_required=False),
    Command(("server_stats", "srvr"), _srvr),
    Command(("stats", "stat"), _stat),
    Command(("stat_reset", "srst"), _srst),
    Command(("observers", "obsr"), _obsr),
    Command(("system_properties", "sysp"), _sysp, server_required=False),
    Command(("voting_view",), _voting_view),
    Command(("watches", "wchc"), _wchc),
    Command(("watches_by_path", "wchp"), _wchp),
    Command(("watch_summary", "wchs"), _wchs),
    Command(("zabstate",), _zabstate, server_required=False),
)
#: every name -> its command
COMMANDS: dict[str, Command] = {name: cmd for cmd in _ALL for name in cmd.names}
PRIMARY_NAMES: tuple[str, ...] = tuple(sorted(cmd.primary_name for cmd in _ALL))


def run_command(name: str, w: ServerView, kwargs: Kwargs | None = None) -> CommandResponse:
    """Commands.runCommand: unknown names and a stopped server answer with an error."""
    cmd = COMMANDS.get(name)
    if cmd is None:
        return CommandResponse(name, f"Unknown command: {name}")
    if cmd.server_required and not w.running:
        return CommandResponse(name, ZK_NOT_SERVING)
    return CommandResponse(cmd.primary_name, None, cmd.run(w, kwargs or {}))
