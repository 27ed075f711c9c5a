"""``mntr`` / ``monitor``: 3.8's monitor values, in its order, keeping only what we measure or know.

One list of (key, value) pairs: the four-letter word prints it as ``zk_<key>\\t<value>``
lines, the AdminServer as one JSON object (3.8's MonitorCommand does the same with its
``dumpMonitorValues`` and the metrics provider's ``dump``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..constants import VERSION_STRING
from ..server.metrics import Summary, round_avg
from .procinfo import max_fd_count, open_fd_count
from .view import ServerView

#: 3.8's gauges, in the order its mntr prints them
GAUGES = (
    "ephemerals_count", "num_alive_connections", "avg_latency", "min_proposal_size", "outstanding_requests",
    "znode_count", "global_sessions", "non_mtls_remote_conn_count", "last_client_response_size",
    "packets_sent", "packets_received", "max_proposal_size", "max_client_response_size", "synced_followers",
    "connection_drop_probability", "watch_count", "synced_non_voting_followers", "synced_observers",
    "auth_failed_count", "min_latency", "max_file_descriptor_count", "approximate_data_size",
    "open_file_descriptor_count", "last_proposal_size", "pending_syncs", "leader_uptime", "local_sessions",
    "uptime", "max_latency", "outstanding_tls_handshake", "learners", "min_client_response_size",
    "non_mtls_local_conn_count", "quorum_size",
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


def all_gauges(w: ServerView) -> dict[str, int | float]:
    """Every gauge this server has: the server's own, and a quorum member's (its role's)."""
    gauges = _gauges(w)
    quorum_gauges = getattr(w.context, "quorum_gauges", None)
    if quorum_gauges is not None:
        gauges.update(quorum_gauges())
    return gauges


def _gauges(w: ServerView) -> dict[str, int | float]:
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


def _quota_gauges(w: ServerView) -> list[tuple[str, int]]:
    """mntr's flat keys of the quota gauge sets: ``<namespace>_<set name>``."""
    sums = quota_gauge_sets(w)
    return [(f"{ns}_{name}", v) for name in QUOTA_GAUGE_SETS for ns, v in sorted(sums[name].items())]


def quota_gauge_sets(w: ServerView) -> dict[str, dict[str, int]]:
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
    return sums


def _raw_counters(w: ServerView) -> dict[str, int | float]:
    """Counters kept outside the core's ServerStats (they have no reset of their own)."""
    raw = {"digest_mismatches_count": getattr(w.zks.db, "digest_mismatches", 0)}
    for src in w.metric_sources():
        for attr in ("fsync_count", "fsync_time_ms_total"):
            v = getattr(src, attr, None)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and attr not in raw:
                raw[attr] = v
    return raw


def _counters(w: ServerView, raw: dict[str, int | float]) -> dict[str, int]:
    s = w.zks.stats
    c: dict[str, int] = {
        "digest_mismatches_count": int(w.counter("digest_mismatches_count", raw["digest_mismatches_count"]))
    }
    if hasattr(s, "connection_requests"):
        c["connection_request_count"] = s.connection_requests
    if hasattr(s, "sessions_expired"):
        c["stale_sessions_expired"] = s.sessions_expired
    return c


def _summaries(w: ServerView, raw: dict[str, int | float]) -> dict[str, list[tuple[str, int | float]]]:
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


#: 3.8's metrics that monitor_values leaves out because we do not measure them (a summary's
#: name stands for its avg_ / min_ / max_ / cnt_ / sum_ [/ pNN_] keys), plus the
#: per-namespace read / write byte summaries (``<namespace>_read_per_namespace``)
NOT_MEASURED = frozenset((
    "bytes_received_count", "connection_rejected", "outstanding_changes_queued", "outstanding_changes_removed",
    "prep_processor_request_queued", "response_bytes", "response_packet_cache_hits",
    "response_packet_cache_misses", "response_packet_get_children_cache_hits",
    "response_packet_get_children_cache_misses", "sessionless_connections_expired", "stale_replies",
    "stale_requests", "stale_requests_dropped", "sync_processor_request_queued", "unrecoverable_error_count",
    "watch_bytes", "close_session_prep_time", "connection_token_deficit", "node_changed_watch_count",
    "node_children_watch_count", "node_created_watch_count", "node_deleted_watch_count", "prep_process_time",
    "prep_processor_queue_size", "prep_processor_queue_time_ms", "propagation_latency",
    "proposal_process_time", "request_throttle_queue_time_ms", "sync_process_time",
    "sync_processor_queue_and_flush_time_ms", "sync_processor_queue_flush_time_ms", "sync_processor_queue_size",
    "sync_processor_queue_time_ms",
))  # fmt: skip
_SUMMARY_KEY = re.compile(r"(avg|min|max|cnt|sum|p50|p95|p99|p999)_(.+)")


def is_not_measured(key: str) -> bool:
    """Whether 3.8's mntr key ``key`` is one we leave out (see :data:`NOT_MEASURED`)."""
    m = _SUMMARY_KEY.fullmatch(key)
    name = m.group(2) if m else key
    return (
        key in NOT_MEASURED
        or name in NOT_MEASURED
        or name.endswith(("_read_per_namespace", "_write_per_namespace"))
    )


def monitor_values(w: ServerView) -> list[tuple[str, object]]:
    """mntr's (key, value) pairs in 3.8's order, keeping only what we measure or know.

    Left out (we cannot measure them honestly): the response caches, bytes received,
    response / watch bytes, stale requests and replies, connection rejections, sessionless
    connection expiry, the prep / sync processors' internal queues and timings, watch-fire
    counts, startup load times, per-namespace read / write bytes, quota-exceeded counts.
    """
    values: list[tuple[str, object]] = [("version", VERSION_STRING), ("server_state", w.server_state())]
    provider = getattr(w.context, "metrics_provider", None)
    if provider is not None:
        # 3.8's MonitorCommand prints the provider's dump: Prometheus' samples, as doubles
        values.extend(provider.dump())
        return values
    standalone = w.server_state() == "standalone"
    peer_state = getattr(w.context, "peer_state", None)
    if peer_state:
        values.append(("peer_state", peer_state))
    gauges = all_gauges(w)
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


def reset_server_stats(w: ServerView) -> None:
    """ServerStats.reset (``srst`` / ``stat_reset``): latency, packet counts, response sizes,
    and every metric (3.8's reset calls ServerMetrics.resetAll); gauges stay."""
    w.zks.stats.reset()
    w._baseline = dict(_raw_counters(w))
    for src in w.metric_sources():
        for value in (getattr(src, "metrics", None) or {}).values():
            if isinstance(value, Summary):
                value.reset()
