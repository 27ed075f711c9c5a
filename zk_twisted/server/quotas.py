"""Quotas: /zookeeper/quota/<path>/zookeeper_limits and .../zookeeper_stats, as 3.8 keeps them.

zkCli's ``setquota`` writes the limits node; the server keeps the stats node's
``count=..,bytes=..`` current on every create, delete and setData under the quota path,
and (only with zookeeper.enforceQuota) refuses writes beyond a limit with QUOTAEXCEEDED.
"""

from __future__ import annotations

import logging
import re

QUOTA_ROOT = "/zookeeper/quota"
LIMIT_NODE = "zookeeper_limits"
STAT_NODE = "zookeeper_stats"
_PAIRS = re.compile(r"[,;]+")

log = logging.getLogger(__name__)


def parse_stats(data: bytes | None) -> dict[str, int]:
    """StatsTrack(String): ``count=1,bytes=5`` (``;`` also separates; empty value = -1)."""
    out: dict[str, int] = {}
    text = (data or b"").decode("utf-8", "replace")
    if not text:
        return out
    for pair in _PAIRS.split(text):
        if not pair:
            continue
        k, _, v = pair.partition("=")
        try:
            out[k] = int(v) if v else -1
        except ValueError:
            out[k] = -1
    return out


def format_stats(stats: dict[str, int]) -> bytes:
    """StatsTrack.toString: count and bytes first, other keys sorted after '=' and ';'."""
    text = f"count={stats.get('count', -1)},bytes={stats.get('bytes', -1)}"
    rest = sorted(k for k in stats if k not in ("count", "bytes"))
    if rest:
        text += "=" + "".join(f";{k}={stats[k]}" for k in rest)
    return text.encode("utf-8")


def stat_path(path: str) -> str:
    return f"{QUOTA_ROOT}{path}/{STAT_NODE}"


def limit_path(path: str) -> str:
    return f"{QUOTA_ROOT}{path}/{LIMIT_NODE}"


class Quotas:
    """The set of quota'd paths (3.8's PathTrie) and the stat bookkeeping."""

    def __init__(self, tree) -> None:
        self.tree = tree
        self.paths: set[str] = set()

    def max_prefix(self, path: str) -> str | None:
        """getMaxPrefixWithQuota: the deepest quota'd ancestor-or-self of ``path``."""
        if not self.paths:
            return None
        p = path
        while p and p != "/":
            if p in self.paths:
                return p
            p = p[: p.rfind("/")]
        return None

    def _update(self, prefix: str, bytes_diff: int, count_diff: int) -> None:
        node = self.tree.nodes.get(stat_path(prefix))
        if node is None:
            log.error("Missing node for stat %s", stat_path(prefix))
            return
        if self.tree.views:
            self.tree.keep_old(stat_path(prefix), node)
        stats = parse_stats(node.data)
        stats["count"] = stats.get("count", -1) + count_diff
        stats["bytes"] = stats.get("bytes", -1) + bytes_diff
        node.data = format_stats(stats)

    def _counts(self, path: str) -> tuple[int, int]:
        count = size = 0
        stack = [path]
        nodes = self.tree.nodes
        while stack:
            p = stack.pop()
            node = nodes.get(p)
            if node is None:
                continue
            count += 1
            size += len(node.data) if node.data else 0
            for c in node.children or ():
                stack.append(f"{p}/{c}")
        return count, size

    def refresh(self, path: str) -> None:
        """updateQuotaForPath: recount the subtree into its stats node."""
        node = self.tree.nodes.get(stat_path(path))
        if node is None:
            return
        count, size = self._counts(path)
        if self.tree.views:
            self.tree.keep_old(stat_path(path), node)
        node.data = format_stats({"count": count, "bytes": size})

    # ---- hooks called by DataTree after each change
    def created(self, parent_path: str, name: str, path: str, data: bytes | None) -> None:
        if parent_path.startswith(QUOTA_ROOT):
            real = parent_path[len(QUOTA_ROOT) :]
            if name == LIMIT_NODE:
                self.paths.add(real)
            elif name == STAT_NODE:
                self.refresh(real)
        prefix = self.max_prefix(path)
        if prefix is not None:
            self._update(prefix, len(data) if data else 0, 1)

    def deleted(self, parent_path: str, name: str, path: str, data: bytes | None) -> None:
        if parent_path.startswith(QUOTA_ROOT) and name == LIMIT_NODE:
            self.paths.discard(parent_path[len(QUOTA_ROOT) :])
        prefix = self.max_prefix(path)
        if prefix is not None:
            self._update(prefix, -(len(data) if data else 0), -1)

    def data_changed(self, path: str, old: bytes | None, new: bytes | None) -> None:
        prefix = self.max_prefix(path)
        if prefix is not None:
            self._update(prefix, (len(new) if new else 0) - (len(old) if old else 0), 0)

    def setup(self) -> None:
        """After a restore: find every limits node and recount its subtree (setupQuota)."""
        self.paths.clear()
        suffix = "/" + LIMIT_NODE
        for p in list(self.tree.nodes):
            if p.startswith(QUOTA_ROOT + "/") and p.endswith(suffix):
                real = p[len(QUOTA_ROOT) : -len(suffix)]
                self.paths.add(real)
                self.refresh(real)

    # ---- zookeeper.enforceQuota
    def exceeds(self, path: str, bytes_diff: int, count_diff: int) -> bool:
        """ZooKeeperServer.checkQuota: would this change pass a hard (or soft) limit?"""
        prefix = self.max_prefix(path)
        if prefix is None:
            return False
        limit_node = self.tree.nodes.get(limit_path(prefix))
        stat_node = self.tree.nodes.get(stat_path(prefix))
        if limit_node is None or stat_node is None:
            return False
        limits = parse_stats(limit_node.data)
        current = parse_stats(stat_node.data)
        # soft limits (count, bytes) only warn in 3.8; hard limits refuse the write
        hard_count = limits.get("countHardLimit", -1)
        if count_diff and hard_count > -1 and current.get("count", 0) + count_diff > hard_count:
            return True
        hard_bytes = limits.get("byteHardLimit", -1)
        if bytes_diff and hard_bytes > -1 and current.get("bytes", 0) + bytes_diff > hard_bytes:
            return True
        return False
